package runreport_test

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/chefha/chefha/runreport"
	"github.com/chefha/chefha/upgrade"
)

// The report of a recorded upgrade: its journal, and the events the
// runner printed with examples/upgrade -o json.
func Example() {
	b, err := os.ReadFile("testdata/upgrade-1.4.6-11.1.8.journal.json")
	if err != nil {
		panic(err)
	}
	rec, err := upgrade.DecodeRecord(b)
	if err != nil {
		panic(err)
	}
	f, err := os.Open("testdata/upgrade-1.4.6-11.1.8.events.jsonl")
	if err != nil {
		panic(err)
	}
	defer f.Close()
	events, err := runreport.ReadEvents(f)
	if err != nil {
		panic(err)
	}
	rep := runreport.Build(rec, events)
	fmt.Println(rep.Title)
	fmt.Printf("%d steps, %d gates, took about %s\n", len(rep.Steps), len(rep.Gates), time.Duration(rep.Duration).Round(time.Minute))
	for _, d := range rep.Downtime {
		fmt.Printf("%s down from %s, about %s\n", d.Service, d.From.Format("15:04"), time.Duration(d.Length).Round(time.Minute))
	}
	if err := rep.WriteMarkdown(io.Discard); err != nil { // or to the change ticket
		panic(err)
	}
	if err := rep.WriteSVG(io.Discard); err != nil { // the timeline picture
		panic(err)
	}
	// Output:
	// chefha upgrade 1.4.6 → 11.1.8: done
	// 17 steps, 11 gates, took about 13m0s
	// front ends down from 12:00, about 13m0s
	// bootstrap services down from 12:00, about 1m0s
	// bootstrap services down from 12:01, about 3m0s
}

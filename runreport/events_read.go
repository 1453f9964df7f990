package runreport

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/chefha/chefha/upgrade"
)

// maxEventLine bounds one event's JSON: a step's error with the
// post-flight's findings is a few kilobytes.
const maxEventLine = 4 << 20

// ReadEvents reads events as the runner's JSON form writes them, one per
// line (examples/upgrade -o json), restoring the durations it writes as
// seconds (elapsed_s, and a gate's stable_for_s, hold_s and waited_s).
// Blank lines are skipped; a line that is not an event is an error naming
// its number.
func ReadEvents(r io.Reader) ([]upgrade.Event, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxEventLine)
	var out []upgrade.Event
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		ev, err := decodeEvent(line)
		if err != nil {
			return out, fmt.Errorf("events line %d: %w", n, err)
		}
		out = append(out, ev)
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("events: %w", err)
	}
	return out, nil
}

func decodeEvent(b []byte) (upgrade.Event, error) {
	var wire struct {
		upgrade.Event
		Elapsed float64 `json:"elapsed_s"`
		Gate    *struct {
			upgrade.GateProgress
			StableFor float64 `json:"stable_for_s"`
			Hold      float64 `json:"hold_s"`
			Waited    float64 `json:"waited_s"`
		} `json:"gate"`
	}
	if err := json.Unmarshal(b, &wire); err != nil {
		return upgrade.Event{}, err
	}
	ev := wire.Event
	if ev.Kind == "" || ev.Time.IsZero() {
		return upgrade.Event{}, fmt.Errorf("not a runner event: no kind or time")
	}
	ev.Elapsed = seconds(wire.Elapsed)
	if g := wire.Gate; g != nil {
		gp := g.GateProgress
		gp.StableFor, gp.Hold, gp.Waited = seconds(g.StableFor), seconds(g.Hold), seconds(g.Waited)
		ev.Gate = &gp
	}
	return ev, nil
}

func seconds(s float64) time.Duration { return time.Duration(math.Round(s * float64(time.Second))) }

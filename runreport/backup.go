package runreport

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/chefha/chefha/upgrade"
)

// Fill is how full the backup's LVM snapshot was when the runner looked:
// as it made it, before a later step, or when it stopped for it.
type Fill struct {
	Time time.Time `json:"time"`
	// Step is the step the snapshot was made in, or checked before.
	Step    string  `json:"step"`
	Percent float64 `json:"percent"`
	// Stopped: the snapshot was past the threshold (or gone): the run
	// stopped before Step. Problem says what lvm found ("full", "invalid").
	Stopped bool   `json:"stopped,omitempty"`
	Problem string `json:"problem,omitempty"`
}

// The runner's words about its LVM snapshot (upgrade/execute.go: the
// backup step's finding, the check before a step, and the StepError of a
// check that stops the run, which carries lvm.SnapshotError's text).
var (
	fillMade    = regexp.MustCompile(`^(\S+/\S+) made: (\d+) MiB, ([0-9]+(?:\.[0-9]+)?)% full$`)
	fillChecked = regexp.MustCompile(`^the backup snapshot (\S+/\S+) is ([0-9]+(?:\.[0-9]+)?)% full$`)
	fillStopped = regexp.MustCompile(`LVM snapshot (\S+/\S+) ([a-z ]+): (?:([0-9]+(?:\.[0-9]+)?)% of \d+ bytes used)?`)
)

// snapshotFills reads the fills of each LVM backup from the events: the
// runner reports the fill when it makes the snapshot, before a step once
// it is half-way to the threshold, and when it stops for it.
func (r *Report) snapshotFills(events []upgrade.Event) {
	for i := range r.Backups {
		b := &r.Backups[i]
		if b.Kind != "lvm" || b.Snapshot == "" {
			continue
		}
		for _, ev := range events {
			if ev.Step != "" && r.step(ev.Step) == nil {
				continue // another plan's
			}
			switch ev.Kind {
			case upgrade.EventFinding:
				if m := fillMade.FindStringSubmatch(ev.Message); m != nil && m[1] == b.Snapshot {
					p, _ := strconv.ParseFloat(m[3], 64)
					b.Fills = append(b.Fills, Fill{Time: ev.Time, Step: ev.Step, Percent: p})
				} else if m := fillChecked.FindStringSubmatch(ev.Message); m != nil && m[1] == b.Snapshot {
					p, _ := strconv.ParseFloat(m[2], 64)
					b.Fills = append(b.Fills, Fill{Time: ev.Time, Step: ev.Step, Percent: p})
				}
			case upgrade.EventStepFailed:
				msg := ev.Message
				if ev.Error != nil {
					msg = ev.Error.Message
				}
				m := fillStopped.FindStringSubmatch(msg)
				if m == nil || m[1] != b.Snapshot || !strings.Contains(msg, "before this step, the backup") {
					continue
				}
				f := Fill{Time: ev.Time, Step: ev.Step, Stopped: true, Problem: m[2]}
				switch {
				case m[3] != "":
					f.Percent, _ = strconv.ParseFloat(m[3], 64)
				case m[2] == "invalid":
					f.Percent = 100
				}
				b.Fills = append(b.Fills, f)
			}
		}
	}
}

// fillLine is a backup's fills in one line: "0.0% at hop1/backup · …".
func (b Backup) fillLine() string {
	var parts []string
	for _, f := range b.Fills {
		s := fmt.Sprintf("%.1f%% at %s", f.Percent, f.Step)
		if f.Stopped {
			s = fmt.Sprintf("%.1f%% before %s: %s, the run stopped", f.Percent, f.Step, f.Problem)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " · ")
}

// mib is bytes in MiB, for the snapshot's size.
func mib(n int64) string { return fmt.Sprintf("%d MiB", n>>20) }

package runreport

import (
	"fmt"
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

// snapshotFills reads the fills of each LVM backup from the events: the
// runner reports the snapshot (upgrade.Event.Snapshot) when it makes it,
// before each later step, and when it stops for it.
func (r *Report) snapshotFills(events []upgrade.Event) {
	for i := range r.Backups {
		b := &r.Backups[i]
		if b.Kind != "lvm" || b.Snapshot == "" {
			continue
		}
		checked := "" // the step whose check was just read: its warning repeats it
		for _, ev := range events {
			s := ev.Snapshot
			if s == nil || s.Name != b.Snapshot || (ev.Step != "" && r.step(ev.Step) == nil) {
				continue
			}
			switch ev.Kind {
			case upgrade.EventBackupFill:
				checked = ev.Step
				b.Fills = append(b.Fills, Fill{Time: ev.Time, Step: ev.Step, Percent: s.Percent})
			case upgrade.EventFinding:
				if ev.Step != checked {
					b.Fills = append(b.Fills, Fill{Time: ev.Time, Step: ev.Step, Percent: s.Percent})
				}
			case upgrade.EventStepFailed:
				checked = ""
				b.Fills = append(b.Fills, Fill{Time: ev.Time, Step: ev.Step, Percent: s.Percent, Stopped: true, Problem: s.Problem})
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

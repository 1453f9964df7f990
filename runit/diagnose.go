package runit

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// Symptom names one of the runit problems the runbook describes.
type Symptom string

// The runbook's runit symptoms ("Runit Process Structure and Checks").
const (
	// runsvdir's argv log holds error text instead of only dots.
	SymptomRunsvdirErrors Symptom = "runsvdir-errors"
	// More than one runsvdir supervises the same service directory: the
	// opscode-runsvdir and private-chef-runsvdir trees alive at once.
	SymptomTwoRunsvdirs Symptom = "two-runsvdirs"
	// A service link points to a service EC 11 removed, or to nothing.
	SymptomStaleServiceLink Symptom = "stale-service-link"
	// An omnibus-ctl, private-chef-ctl or sv process is still running.
	SymptomLeftoverCtl Symptom = "leftover-ctl-process"
	// A runsv that no runsvdir supervises: its job was stopped and it
	// outlived the job's post-stop signal (or never got it), so it still
	// holds its service's supervise/lock and the running runsvdir's own
	// runsv for that service cannot start (the runbook's Example: "stuck
	// on the old OPC 1.4.6 processes").
	SymptomOrphanRunsv Symptom = "orphan-runsv"
	// /var/log/opscode does not let the services reach their logs: a class
	// misses read or search (755's r-x), as the runbook's mode 700 does.
	SymptomLogDirMode Symptom = "log-dir-mode"
	// /var/log/opscode is writable by group or others: the services work,
	// but anyone could replace their log directories.
	SymptomLogDirOpen Symptom = "log-dir-open"
	// /var/log/opscode is not owned by opscode (EC 11).
	SymptomLogDirOwner Symptom = "log-dir-owner"
	// A /var/log/opscode/SERVICE/current file is missing.
	SymptomLogCurrentMissing Symptom = "log-current-missing"
	// The filesystem holding the logs is full.
	SymptomLogFSFull Symptom = "log-fs-full"
)

// Finding is one symptom seen on a node.
type Finding struct {
	Symptom Symptom
	// Subject is what the finding is about: a PID, a path, a service.
	Subject  string
	Evidence []string // the lines or values that show it
	Fix      string   // what to do, in the runbook's terms
}

func (f Finding) String() string {
	return fmt.Sprintf("%s: %s: %s", f.Symptom, f.Subject, strings.Join(f.Evidence, "; "))
}

// RemovedInEC11 returns the Private Chef 1.x services that EC 11 no longer has.
// During a 1.4.x → 11.x upgrade they stay down and `private-chef-ctl
// cleanup` removes them; opscode-chef-mover also stays down but is kept.
func RemovedInEC11() []string {
	return []string{"fcgiwrap", "nagios", "nrpe", "opscode-chef", "php-fpm", "redis"}
}

// ExpectedDownDuringUpgrade returns the services the runbook says "will remain
// down/unavailable and can be safely ignored" during a 1.4.x → 11.x upgrade.
func ExpectedDownDuringUpgrade() []string { return append(RemovedInEC11(), "opscode-chef-mover") }

const restartRunsvdir = "private-chef-ctl stop; initctl stop opscode-runsvdir; initctl stop private-chef-runsvdir; " +
	"make sure no runsv or svlogd processes remain; initctl start private-chef-runsvdir"

// DiagnoseProcesses finds the symptoms a process listing shows: runsvdirs
// with errors, more than one runsvdir per service directory, runsv that
// no runsvdir supervises, and leftover control processes.
func DiagnoseProcesses(ps []Process) []Finding {
	var out []Finding
	dirs := map[string][]Runsvdir{}
	var order []string
	for _, r := range FindRunsvdirs(ps) {
		if len(dirs[r.ServiceDir]) == 0 {
			order = append(order, r.ServiceDir)
		}
		dirs[r.ServiceDir] = append(dirs[r.ServiceDir], r)
		if !r.Healthy() {
			out = append(out, Finding{
				Symptom:  SymptomRunsvdirErrors,
				Subject:  fmt.Sprintf("runsvdir pid %d (%s)", r.Process.PID, r.ServiceDir),
				Evidence: r.Current(),
				Fix: "find what runsvdir's children complain of (log dir mode or owner, a missing SERVICE/current, " +
					"a full filesystem) and correct it, then restart runsvdir: " + restartRunsvdir,
			})
		}
	}
	for _, d := range order {
		if rs := dirs[d]; len(rs) > 1 {
			var ev []string
			for _, r := range rs {
				ev = append(ev, fmt.Sprintf("pid %d: %s", r.Process.PID, abbreviate(r.Process.Command, 100)))
			}
			out = append(out, Finding{
				Symptom:  SymptomTwoRunsvdirs,
				Subject:  d,
				Evidence: ev,
				Fix:      "two supervision trees fight over the same services; stop both and start one: " + restartRunsvdir,
			})
		}
	}
	out = append(out, orphanRunsv(ps)...)
	for _, p := range ps {
		if isCtlProcess(p) {
			out = append(out, Finding{
				Symptom:  SymptomLeftoverCtl,
				Subject:  fmt.Sprintf("pid %d", p.PID),
				Evidence: []string{abbreviate(p.Command, 160)},
				Fix: fmt.Sprintf("wait for pid %d to finish or kill it; all omnibus-ctl, private-chef-ctl and sv processes "+
					"must be gone and opscode-chef-mover started before the upgrade is retried", p.PID),
			})
		}
	}
	return out
}

// orphanRunsv is the finding for each of OrphanRunsv.
func orphanRunsv(ps []Process) []Finding {
	parents := map[int]Process{}
	for _, p := range ps {
		parents[p.PID] = p
	}
	var out []Finding
	for _, p := range OrphanRunsv(ps) {
		name := "?"
		if a := p.Argv(); len(a) > 1 {
			name = a[1]
		}
		pname := "gone"
		if parent, ok := parents[p.PPID]; ok {
			pname = abbreviate(parent.Command, 60)
		}
		out = append(out, Finding{
			Symptom:  SymptomOrphanRunsv,
			Subject:  fmt.Sprintf("runsv %s (pid %d)", name, p.PID),
			Evidence: []string{fmt.Sprintf("pid %d's parent is pid %d (%s), not a runsvdir: it still holds %s's supervise/lock", p.PID, p.PPID, pname, name)},
			Fix: fmt.Sprintf("stop it: kill -TERM %d (runsv stops %s and exits); the running runsvdir then starts its own within seconds. "+
				"If more are left: "+restartRunsvdir, p.PID, name),
		})
	}
	return out
}

// isCtlProcess matches sv, and omnibus-ctl or private-chef-ctl whether run
// directly or through the embedded ruby.
func isCtlProcess(p Process) bool {
	if p.Stat != "" && p.Stat[0] == 'Z' {
		return false
	}
	argv := p.Argv()
	for i, a := range argv {
		if i > 2 {
			break
		}
		switch path.Base(a) {
		case "omnibus-ctl", "private-chef-ctl":
			return true
		case "sv":
			return i == 0
		}
		if i == 0 && !strings.HasPrefix(path.Base(a), "ruby") && path.Base(a) != "sh" && path.Base(a) != "bash" {
			return false
		}
	}
	return false
}

// DiagnoseServiceLinks finds service directory entries that are symlinks to
// nothing, and, when ec11 is true (the node runs Enterprise Chef 11), links
// to the services EC 11 removed (RemovedInEC11).
func DiagnoseServiceLinks(dir string, links []Link, ec11 bool) []Finding {
	var out []Finding
	for _, l := range links {
		if !l.IsLink {
			continue
		}
		p := path.Join(dir, l.Name)
		var why, fix string
		switch {
		case ec11 && slices.Contains(RemovedInEC11(), l.Name):
			// The upgrade's own leftover: the packaging's cleanup removes
			// the service with its link, not a hand rm.
			why = "EC 11 removed this service"
			fix = "private-chef-ctl cleanup (once the upgraded cluster is verified) removes the services EC 11 dropped and their links"
		case l.Dangling:
			why = "the target does not exist"
			fix = fmt.Sprintf("rm %s (after private-chef-ctl stop), then restart runsvdir", p)
		default:
			continue
		}
		out = append(out, Finding{
			Symptom:  SymptomStaleServiceLink,
			Subject:  p,
			Evidence: []string{fmt.Sprintf("%s -> %s (%s)", p, l.Target, why)},
			Fix:      fix,
		})
	}
	return out
}

// LogDir holds what was read about the log directory of a node.
type LogDir struct {
	Dir FileStat // /var/log/opscode itself
	// Logs are the services whose current must exist, each with the
	// directory its svlogd writes: DIR/SERVICE, or where the release's
	// attributes put it (postgresql's is DIR/postgresql/9.2 on EC 11).
	Logs []ServiceLog
	// Files holds the stats of whatever of the services' current exists.
	Files []FileStat
	// Usage is df -P (and optionally df -Pi) of the directory.
	Usage []DiskUsage
}

// ServiceLog is a service and the directory its svlogd writes.
type ServiceLog struct{ Service, Dir string }

// DiagnoseLogDir finds the runbook's log directory symptoms: mode not 755,
// owner not wantOwner (the owner the release's recipes give it, "" where
// they leave it alone), a missing current, and a full filesystem.
func DiagnoseLogDir(l LogDir, wantOwner string) []Finding {
	var out []Finding
	d := l.Dir
	// What matters to the services is that every class can read and search
	// the directory (r-x, the 755 the runbook asks for): svlogd and the
	// services reach SERVICE/ below it, possibly as another user than its
	// owner. The sticky, setgid and setuid bits do not get in their way
	// (svlogd renames current inside SERVICE/, never in this directory),
	// so they are shown but not objected to.
	switch {
	case d.Mode.Perm()&0o555 != 0o555 || d.Mode.Perm()&0o200 == 0:
		out = append(out, Finding{
			Symptom:  SymptomLogDirMode,
			Subject:  d.Path,
			Evidence: []string{fmt.Sprintf("%s has mode %s: the services need read and search (r-x) for every class, and its owner write", d.Path, FormatMode(d.Mode))},
			Fix:      fmt.Sprintf("chmod 755 %s, then restart runsvdir", d.Path),
		})
	case d.Mode.Perm()&0o022 != 0:
		out = append(out, Finding{
			Symptom:  SymptomLogDirOpen,
			Subject:  d.Path,
			Evidence: []string{fmt.Sprintf("%s has mode %s: group or others may write, so anyone could replace the services' log directories", d.Path, FormatMode(d.Mode))},
			Fix:      fmt.Sprintf("chmod go-w %s", d.Path),
		})
	}
	if wantOwner != "" && d.Owner != wantOwner {
		out = append(out, Finding{
			Symptom:  SymptomLogDirOwner,
			Subject:  d.Path,
			Evidence: []string{fmt.Sprintf("%s is owned by %s, not %s", d.Path, d.Owners(), wantOwner)},
			Fix: fmt.Sprintf("chown -R %s:%s %s so the services can write their logs, then restart runsvdir: %s",
				wantOwner, wantOwner, d.Path, restartRunsvdir),
		})
	}
	have := map[string]bool{}
	for _, f := range l.Files {
		have[f.Path] = true
	}
	for _, s := range l.Logs {
		dir := s.Dir
		if dir == "" {
			dir = path.Join(d.Path, s.Service)
		}
		p := path.Join(dir, "current")
		if !have[p] {
			out = append(out, Finding{
				Symptom:  SymptomLogCurrentMissing,
				Subject:  p,
				Evidence: []string{p + " does not exist"},
				Fix: fmt.Sprintf("mkdir -p %s and give it the service's owner, then sv restart %s/%s/log",
					path.Dir(p), DefaultServiceDir, s.Service),
			})
		}
	}
	for _, u := range l.Usage {
		if u.Full() {
			what := "blocks"
			if u.Inodes {
				what = "inodes"
			}
			out = append(out, Finding{
				Symptom: SymptomLogFSFull,
				Subject: u.MountedOn,
				Evidence: []string{fmt.Sprintf("%s on %s: %d%% of %s used, %d available",
					u.Filesystem, u.MountedOn, u.Capacity, what, u.Available)},
				Fix: fmt.Sprintf("free space on %s (old logs under %s), then restart runsvdir", u.MountedOn, d.Path),
			})
		}
	}
	return out
}

func abbreviate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// FormatMode prints a mode as chmod takes it, with its setuid, setgid and
// sticky bits ("1755"), so evidence shows the exact value a check saw.
func FormatMode(m fs.FileMode) string {
	v := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		v |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		v |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		v |= 0o1000
	}
	return fmt.Sprintf("%04o", v)
}

package ecmodel

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"syscall"

	"github.com/chefha/chefha/internal/packaging"
)

// The Upstart jobs that run runsvdir, as the packaging writes them
// (runit/recipes/upstart.rb and files/default/opscode-runsvdir in 1.x;
// enterprise-chef-common recipes/runit_upstart.rb and
// templates/default/init-runsvdir.erb from 11.0) and as Upstart runs
// their stop: pre-stop, then TERM to the main process (runsvdir, which
// exits at once and leaves its runsv: runsvdir(8)), then post-stop.

// JobFile is the file Upstart reads a job from.
func JobFile(job string) string { return "/etc/init/" + job + ".conf" }

// jobOf is the packaging's job named job, from the newest release that
// writes it (each job is one file in the releases that share it).
func jobOf(job string) (packaging.Job, bool) {
	vs := packaging.Versions()
	for i := len(vs) - 1; i >= 0; i-- {
		r, ok := packaging.Lookup(vs[i])
		if !ok {
			continue
		}
		for _, j := range r.Upstart.Jobs {
			if j.Name == job {
				return j, true
			}
		}
	}
	return packaging.Job{}, false
}

// JobKnown reports whether Upstart knows job: its file is in /etc/init,
// or it still runs (a running job outlives the deletion of its file).
func JobKnown(h Host, job string) bool {
	if _, err := h.Lstat(JobFile(job)); err == nil {
		return true
	}
	return slices.Contains(h.Jobs(), job)
}

// StopJob is `initctl stop JOB` on a runsvdir job: its pre-stop (11.x:
// `/usr/bin/private-chef-ctl stop`, every service stopped while runsvdir
// still supervises them), Upstart's TERM of runsvdir, its post-stop
// (`pkill -TERM -P 1 runsv$` in 1.x: every orphaned runsv stops its
// service and exits; `pkill -HUP -P 1 runsv$` from 11.0: they die and
// leave what still runs unsupervised). A pre-stop whose command is not
// installed fails (11.2.0's /usr/bin/private_chef-ctl, which no postinst
// links), and Upstart goes on regardless: it ignores a pre-stop's exit
// status (upstart init/job_process.c job_process_terminated,
// PROCESS_PRE_STOP), so 11.2.0's job leaves its services running.
func StopJob(ctx context.Context, h Host, job string) error {
	if !slices.Contains(h.Jobs(), job) {
		return fmt.Errorf("initctl: Unknown instance: ")
	}
	j, ok := jobOf(job)
	if ok {
		for _, line := range j.PreStop.Value {
			runJobLine(ctx, h, line)
		}
	}
	if err := h.StopJob(ctx, job); err != nil {
		return err
	}
	if ok {
		for _, line := range j.PostStop.Value {
			if err := runJobLine(ctx, h, line); err != nil {
				return err
			}
		}
	}
	return nil
}

// runJobLine runs one line of a job's pre-stop or post-stop script: the
// package's private-chef-ctl, or pkill of the orphaned runsv.
func runJobLine(ctx context.Context, h Host, line string) error {
	f := strings.Fields(line)
	switch {
	case len(f) == 2 && strings.HasSuffix(f[0], "-ctl") && f[1] == "stop":
		if !commandInstalled(h, f[0]) {
			return fmt.Errorf("%s: not found", f[0])
		}
		if code := Ctl(ctx, h, f[1:], IO{Stdout: io.Discard, Stderr: io.Discard}); code != 0 {
			return fmt.Errorf("%s: exit %d", line, code)
		}
		return nil
	case len(f) == 5 && f[0] == "pkill" && f[2] == "-P" && f[3] == "1" && f[4] == "runsv$":
		sig, ok := map[string]syscall.Signal{"-TERM": syscall.SIGTERM, "-HUP": syscall.SIGHUP}[f[1]]
		if !ok {
			return fmt.Errorf("%s: signal not modelled", line)
		}
		return h.SignalOrphanRunsv(ctx, sig)
	}
	return fmt.Errorf("%s: not modelled", line)
}

// commandInstalled reports whether an absolute command path exists on the
// node: the host has it, or the installed package's postinst links it
// (package-scripts/private-chef/postinst: /usr/bin/private-chef-ctl only).
func commandInstalled(h Host, cmd string) bool {
	if _, err := h.Stat(cmd); err == nil {
		return true
	}
	v, err := InstalledVersion(h)
	if err != nil {
		return false
	}
	p, _, ok := packaging.Nearest(v)
	if !ok {
		return false
	}
	for _, l := range p.PostinstLinks {
		if l.Value == cmd {
			return true
		}
	}
	return false
}

// jobText is what the model writes to a job's file: the stanzas of the
// packaging's job that the model acts on, and where they come from.
func jobText(j packaging.Job, version string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s: the Upstart job of private-chef %s (%s), as chefha's node model writes it\n", j.Name, version, j.Content.Source)
	for _, s := range []struct {
		stanza string
		lines  []string
	}{{"pre-stop", j.PreStop.Value}, {"post-stop", j.PostStop.Value}} {
		if len(s.lines) > 0 {
			fmt.Fprintf(&b, "%s script\n   %s\nend script\n", s.stanza, strings.Join(s.lines, "\n   "))
		}
	}
	fmt.Fprintf(&b, "exec %s\n", j.Exec.Value)
	return b.String()
}

// switchJobs is the runit recipe's Upstart part as the installed release
// has it (the packaging table's Upstart): 11.x stops opscode-runsvdir
// whenever it runs, on every reconfigure (enterprise-chef-common
// recipes/runit_upstart.rb:8-11 @0.3.0, :10-13 @0.4.4, only_if `initctl
// status opscode-runsvdir | grep start`), deletes its file, writes its
// own job and starts it when stopped; 1.x writes opscode-runsvdir and
// starts it (runit/recipes/upstart.rb:20-38 @1.4.6). 11.2.0's job is
// private_chef-runsvdir (enterprise['name'] "private_chef"), started
// beside a running 11.x private-chef-runsvdir, which nothing stops: the
// model always does so on 11.2.0, as its packaging does. With the
// two-runsvdirs switch armed the old job is left running.
func (n *Node) switchJobs(ctx context.Context) {
	p, ok := n.Installed.packaging()
	if !ok {
		return
	}
	h := n.H
	if !n.Bug(TwoRunsvdirs) {
		for _, s := range p.Upstart.Stops {
			if slices.Contains(h.Jobs(), s.Value) {
				StopJob(ctx, h, s.Value) // retries 30: it stops, or the job is gone
			}
		}
	}
	for _, d := range p.Upstart.Deletes {
		h.Remove(d.Value)
	}
	for _, j := range p.Upstart.Jobs {
		n.writeIfChanged(j.Path, jobText(j, n.Installed.Version), 0o644)
		if !slices.Contains(h.Jobs(), j.Name) {
			h.StartJob(ctx, j.Name)
		}
	}
}

// RunsvdirJob is the Upstart job the release's reconfigure writes and
// starts (the packaging table): opscode-runsvdir in 1.x,
// private-chef-runsvdir in 11.0–11.1, private_chef-runsvdir in 11.2.0.
func (r Release) RunsvdirJob() string {
	if p, ok := r.packaging(); ok && len(p.Upstart.Jobs) > 0 {
		return p.Upstart.Jobs[0].Name
	}
	if strings.HasPrefix(r.Version, "11.") {
		return "private-chef-runsvdir"
	}
	return "opscode-runsvdir"
}

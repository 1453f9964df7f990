package packaging

import (
	"fmt"
	"slices"
	"strings"
)

// The Upstart jobs that run runsvdir, as the releases write them.

// JobNames returns the Upstart jobs the release's reconfigure writes.
func (r Release) JobNames() []string {
	out := make([]string, len(r.Upstart.Jobs))
	for i, j := range r.Upstart.Jobs {
		out[i] = j.Name
	}
	return out
}

// RunsvdirJobs are the names of every Upstart job any release in the
// table writes to run runsvdir, in the table's order, each once:
// opscode-runsvdir (1.x), private-chef-runsvdir (11.0–11.1),
// private_chef-runsvdir (11.2.0, which no later release removes). A node
// may run any of them, whatever it has installed now.
func RunsvdirJobs() []string {
	var out []string
	for _, r := range every() {
		for _, j := range r.Upstart.Jobs {
			if !slices.Contains(out, j.Name) {
				out = append(out, j.Name)
			}
		}
	}
	return out
}

// LeftoverJobs returns the Upstart jobs a node upgraded from release from
// to release to still has: jobs from wrote that to neither writes, deletes
// nor stops. Both keep supervising /opt/opscode/service.
func LeftoverJobs(from, to string) ([]string, error) {
	f, ok := Lookup(from)
	if !ok {
		return nil, fmt.Errorf("packaging: no release %q", from)
	}
	t, ok := Lookup(to)
	if !ok {
		return nil, fmt.Errorf("packaging: no release %q", to)
	}
	var out []string
	for _, j := range f.Upstart.Jobs {
		if slices.Contains(t.JobNames(), j.Name) {
			continue
		}
		gone := false
		for _, d := range t.Upstart.Deletes {
			gone = gone || d.Value == j.Path
		}
		for _, s := range t.Upstart.Stops {
			gone = gone || s.Value == j.Name
		}
		if !gone {
			out = append(out, j.Name)
		}
	}
	return out, nil
}

// MissingJobCommands returns the /usr/bin commands the release's Upstart
// jobs run in pre-stop or post-stop that its postinst does not link:
// stopping such a job fails its pre-stop (11.2.0's private_chef-runsvdir
// calls /usr/bin/private_chef-ctl; postinst links only private-chef-ctl).
func (r Release) MissingJobCommands() []string {
	var out []string
	for _, j := range r.Upstart.Jobs {
		for _, line := range append(slices.Clone(j.PreStop.Value), j.PostStop.Value...) {
			cmd, _, _ := strings.Cut(line, " ")
			if !strings.HasPrefix(cmd, "/usr/bin/") || slices.Contains(out, cmd) {
				continue
			}
			linked := false
			for _, l := range r.PostinstLinks {
				linked = linked || l.Value == cmd
			}
			if !linked {
				out = append(out, cmd)
			}
		}
	}
	return out
}

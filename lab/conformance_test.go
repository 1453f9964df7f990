package lab_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/internal/conformance"
	"github.com/chefha/chefha/lab"
	"github.com/stretchr/testify/require"
)

// labHost runs the conformance table's steps on a lab over SSH, on real
// time.
type labHost struct {
	l  *lab.Lab
	cl *cluster.Cluster
}

func newLabHost(t *testing.T, l *lab.Lab) labHost {
	t.Helper()
	cl, err := l.Dial(context.Background())
	require.NoError(t, err)
	t.Cleanup(func() { cl.Close() })
	return labHost{l, cl}
}

func (h labHost) Run(t *testing.T, role conformance.Role, background bool, argv ...string) (string, string, int) {
	t.Helper()
	name := map[conformance.Role]string{conformance.Bootstrap: h.l.Nodes[0].Name, conformance.Secondary: h.l.Nodes[1].Name,
		conformance.Frontend: h.l.Nodes[2].Name}[role]
	n, ok := h.cl.Node(name)
	require.True(t, ok, name)
	if background {
		// Detached, as keepalived starts its notify script.
		argv = append([]string{"setsid", "-f", "sh", "-c", `exec "$@" >/dev/null 2>&1 </dev/null`, "sh"}, argv...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := n.Run(ctx, cluster.Command(argv...))
	var ee *cluster.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("%s: %v", name, err)
	}
	return string(res.Stdout), string(res.Stderr), res.ExitCode
}

func (labHost) Advance(time.Duration) bool { return false }

// The conformance table (internal/conformance, which the simulation runs
// too) on labs: one lab per case, but for the read-only cases without
// knobs, which run on the lab of their version that read-only tests share.
func TestLabConformance(t *testing.T) {
	t.Parallel()
	needLab(t)
	var groups [][]conformance.Case
	shared := map[string]int{}
	for _, c := range conformance.Table() {
		if c.ReadOnly && len(c.Knobs) == 0 {
			if i, ok := shared[c.Version]; ok {
				groups[i] = append(groups[i], c)
				continue
			}
			shared[c.Version] = len(groups)
		}
		groups = append(groups, []conformance.Case{c})
	}
	for _, g := range groups {
		name := g[0].Name
		if len(g) > 1 {
			name = g[0].Version + " read-only"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var l *lab.Lab
			if g[0].ReadOnly && len(g[0].Knobs) == 0 {
				l = sharedLab(t, g[0].Version)
			} else {
				l = startLab(t, lab.Spec{Version: g[0].Version, Knobs: g[0].Knobs})
			}
			h := newLabHost(t, l)
			for _, c := range g {
				if len(g) == 1 {
					conformance.RunCase(t, h, c)
					continue
				}
				t.Run(c.Name, func(t *testing.T) { conformance.RunCase(t, h, c) })
			}
		})
	}
}

package clustertest_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/clustertest"
	"github.com/chefha/chefha/internal/pkgfile"
	"github.com/chefha/chefha/keepalived"
	"github.com/chefha/chefha/migration"
	"github.com/chefha/chefha/runit"
	"github.com/stretchr/testify/require"
)

const (
	be1 = "be1.chefha.test"
	be2 = "be2.chefha.test"
	fe1 = "fe1.chefha.test"
)

// sim is a simulated cluster dialled over SSH, on a fake clock.
type sim struct {
	*clustertest.Cluster
	cl    *cluster.Cluster
	clock *clustertest.FakeClock
}

func start(t *testing.T, version string, knobs ...clustertest.Knob) *sim {
	t.Helper()
	return startWith(t, clustertest.Options{Version: version, Knobs: knobs})
}

// startWith is start with more options; the clock is the test's.
func startWith(t *testing.T, o clustertest.Options) *sim {
	t.Helper()
	clock := clustertest.NewFakeClock(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	o.Clock, o.Sleep = clock.Now, clock.Advance
	c, err := clustertest.New(o)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	cl, err := c.Dial(context.Background())
	require.NoError(t, err)
	t.Cleanup(func() { cl.Close() })
	return &sim{Cluster: c, cl: cl, clock: clock}
}

// run runs argv on node over SSH and returns stdout, stderr and the exit
// status.
func (s *sim) run(t *testing.T, node string, argv ...string) (string, string, int) {
	t.Helper()
	n, ok := s.cl.Node(node)
	require.True(t, ok, node)
	res, err := n.Run(context.Background(), cluster.Command(argv...))
	var ee *cluster.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("%s: %v", node, err)
	}
	return string(res.Stdout), string(res.Stderr), res.ExitCode
}

// installPackage uploads a real private-chef .deb (an .rpm on RHEL nodes)
// over SFTP and installs it with dpkg (rpm).
func (s *sim) installPackage(t *testing.T, node, version string) string {
	t.Helper()
	n, _ := s.cl.Node(node)
	var pkg bytes.Buffer
	file, argv := "/tmp/private-chef_"+version+"-1_amd64.deb", []string{"dpkg", "-i"}
	if rel, _, _ := s.run(t, node, "cat", "/etc/os-release"); strings.Contains(rel, "rhel") {
		file, argv = "/tmp/private-chef-"+version+"-1.el6.x86_64.rpm", []string{"rpm", "-Uvh"}
		require.NoError(t, pkgfile.WriteRPM(&pkg, pkgfile.Meta{Name: "private-chef", Version: version, Release: "1.el6", Arch: "x86_64"}))
	} else {
		require.NoError(t, pkgfile.WriteDeb(&pkg, pkgfile.Meta{Name: "private-chef", Version: version, Release: "1", Arch: "amd64"}))
	}
	require.NoError(t, n.WriteFile(context.Background(), file, pkg.Bytes(), 0o644))
	out, stderr, code := s.run(t, node, append(argv, file)...)
	require.Equal(t, 0, code, "%s%s", out, stderr)
	return out
}

func (s *sim) level(t *testing.T, node string) (migration.Level, error) {
	t.Helper()
	out, _, _ := s.run(t, node, "cat", migration.Path)
	return migration.Parse([]byte(out))
}

// status is `private-chef-ctl status` parsed, by service, and its exit.
func (s *sim) status(t *testing.T, node string, service ...string) (map[string]runit.ServiceStatus, int) {
	t.Helper()
	out, _, code := s.run(t, node, append([]string{"private-chef-ctl", "status"}, service...)...)
	st, err := runit.ParseStatus(strings.NewReader(out))
	require.NoError(t, err, out)
	by := map[string]runit.ServiceStatus{}
	for _, x := range st {
		by[x.Service] = x
	}
	return by, code
}

// haStatus is `private-chef-ctl ha-status` parsed.
func (s *sim) haStatus(t *testing.T, node string) keepalived.HAStatus {
	t.Helper()
	out, _, code := s.run(t, node, "private-chef-ctl", "ha-status")
	h, err := keepalived.ParseHAStatus(strings.NewReader(out), code)
	require.NoError(t, err, out)
	return h
}

// problems are ha-status's WARN and ERROR texts.
func problems(h keepalived.HAStatus) []string {
	var out []string
	for _, c := range h.Problems() {
		out = append(out, c.Text)
	}
	return out
}

// clusterLog is the node's cluster.log, parsed.
func (s *sim) clusterLog(t *testing.T, node string) []keepalived.Event {
	t.Helper()
	out, _, _ := s.run(t, node, "cat", keepalived.ClusterLogPath)
	ev, err := keepalived.ParseClusterLog(strings.NewReader(out))
	require.NoError(t, err)
	return ev
}

// settle moves the clock on until the bootstrap is a stable master again
// (keepalived elections and cluster.sh runs take seconds each).
func (s *sim) settle(t *testing.T) {
	t.Helper()
	for range 60 {
		s.clock.Advance(time.Second)
		cur, _, _ := s.run(t, be1, "cat", keepalived.CurrentStatusPath)
		req, _, _ := s.run(t, be1, "cat", keepalived.RequestedPath)
		busy := true
		s.Node(be1).Lock(func(n *clustertest.Node) { busy = n.InTransition() })
		if cur == "master\n" && req == cur && !busy {
			return
		}
	}
	t.Fatalf("%s did not settle as master", be1)
}

// harm is what the model recorded the real bugs would have damaged.
func (s *sim) harm(node string) string {
	var h []string
	s.Node(node).Lock(func(n *clustertest.Node) { h = n.Harm() })
	return strings.Join(h, "\n")
}

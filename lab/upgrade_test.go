package lab_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chefha/chefha/clustertest"
	"github.com/chefha/chefha/internal/ecmodel"
	"github.com/chefha/chefha/lab"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// upgradeCmd returns examples/upgrade (built once per run) and the
// arguments that point it at the lab: its private-chef.rb, real packages
// of the versions the plan may hop through (clustertest.WritePackage), a
// journal of its own, and no rehearsal (the lab's nodes are throwaway).
func upgradeCmd(t *testing.T, l *lab.Lab) (bin string, args []string) {
	t.Helper()
	dir := t.TempDir()
	bin = buildExample(t, "upgrade")
	rb := filepath.Join(dir, "private-chef.rb")
	b, err := os.ReadFile(l.Nodes[0].Root("/etc/opscode/private-chef.rb")) // the /etc overlay's upper layer
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(rb, b, 0o644))
	args = []string{"-config", rb, "-ssh-config", l.SSHConfig, "-target", "11.1.8", "-backup-waived", "lab: throwaway nodes",
		"-hold", "2s", "-journal", filepath.Join(dir, "journal.json"), "-apply", "-without-rehearsal"}
	for _, v := range []string{"11.0.2", "11.1.8"} {
		p, err := clustertest.WritePackage(dir, "debian", v)
		require.NoError(t, err)
		args = append(args, "-package", p)
	}
	return bin, args
}

// assertLabUpgraded checks every node at the target version and level,
// private-chef.rb the same everywhere, and the bootstrap master.
func assertLabUpgraded(t *testing.T, l *lab.Lab) {
	t.Helper()
	var rb string
	for _, n := range l.Nodes {
		b, err := os.ReadFile(n.Root("/opt/opscode/version-manifest.txt"))
		require.NoError(t, err)
		assert.Equal(t, "private-chef 11.1.8\n", string(b), n.Name)
		b, err = os.ReadFile(n.Root("/var/opt/opscode/upgrades/migration-level"))
		require.NoError(t, err)
		assert.Equal(t, `{"major":1,"minor":13}`+"\n", string(b), n.Name)
		out, err := n.Exec(context.Background(), "cat", "/etc/opscode/private-chef.rb")
		require.NoError(t, err, string(out))
		if rb == "" {
			rb = string(out)
		}
		assert.Equal(t, rb, string(out), "/etc/opscode/private-chef.rb on %s", n.Name)
	}
	b, err := os.ReadFile(l.Nodes[0].Root("/var/opt/opscode/keepalived/current_cluster_status"))
	require.NoError(t, err)
	assert.Equal(t, "master\n", string(b), "the bootstrap is master")
}

// examples/upgrade -apply takes a 1.4.6 lab to 11.1.8 with real
// packages: killed (SIGKILL) right after the package install and run
// again with -resume, it says which steps it found done and finishes,
// installing no package twice.
func TestLabUpgradeKilledAndResumed(t *testing.T) {
	t.Parallel()
	l := startLab(t, lab.Spec{Version: "1.4.6", UpgradeSleep: 2 * time.Second})
	bin, args := upgradeCmd(t, l)
	start := time.Now()
	cmd := exec.Command(bin, append(args, "-o", "json")...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	sc := bufio.NewScanner(stdout)
	killed := false
	var said []string
	for sc.Scan() {
		said = append(said, sc.Text())
		var ev struct{ Kind, Step string }
		if json.Unmarshal(sc.Bytes(), &ev) == nil && ev.Kind == "step-done" && strings.Contains(ev.Step, "install-package") {
			require.NoError(t, cmd.Process.Kill())
			killed = true
			break
		}
	}
	err = cmd.Wait()
	require.True(t, killed, "the run reached the install step; it ended (%v) after %s, saying:\n%s\nstderr:\n%s",
		err, time.Since(start).Round(time.Millisecond), strings.Join(said, "\n"), stderr.String())
	t.Logf("killed after the install, %s in", time.Since(start).Round(time.Millisecond))

	out, err := exec.Command(bin, append(args, "-resume", "-width", "200")...).CombinedOutput() // a line for each message
	t.Logf("resumed (%s in all):\n%s", time.Since(start).Round(time.Millisecond), out)
	require.NoError(t, err)
	assert.Regexp(t, `· hop1/install-package: recorded done, and its effect is on the cluster`, string(out), "the resumed run says what it found done")
	assert.NotContains(t, string(out), "dpkg -i", "the package is not installed twice")
	assertLabUpgraded(t, l)
}

// The runbook's own Example on real runit — the old runsvdir's runsv left
// holding their services' locks after it died and was respawned, both
// runsvdir trees alive on one service directory, and a link to a removed
// service left in /opt/opscode/service — is recovered by examples/upgrade -recover-runit,
// which then upgrades the lab (the issue: it refused to plan, a service
// "not running" behind the stale link).
func TestLabRecoverRunitExample(t *testing.T) {
	t.Parallel()
	l := startLab(t, lab.Spec{Version: "1.4.6", UpgradeSleep: 2 * time.Second,
		Knobs: []ecmodel.Knob{clustertest.RunsvdirRespawned(), clustertest.TwoRunsvdirs(), clustertest.StaleLinks()}})
	be1 := l.Nodes[0].Name
	eventuallyFound(t, l, "11.1.8", be1+" runit-processes/two-runsvdirs", be1+" runit-processes/orphan-runsv", be1+" service-links/stale-service-link")
	bin, args := upgradeCmd(t, l)
	start := time.Now()
	out, err := exec.Command(bin, append(args, "-recover-runit")...).CombinedOutput()
	t.Logf("recovered and upgraded in %s:\n%s", time.Since(start).Round(time.Millisecond), out)
	require.NoError(t, err)
	assert.Contains(t, string(out), "recover-runit", "the recovery is a step of the run")
	assertLabUpgraded(t, l)
	// The links to services EC 11 removed stay until the cleanup phase
	// (warnings); the Example's link to a service that is gone does not.
	got, table := found(t, l, "11.1.8")
	for k := range got {
		assert.False(t, strings.HasPrefix(k, be1+" runit-processes/"), "after the run: %s\n%s", k, table)
	}
	assert.NotContains(t, table, "nagios-old", "the stale link is gone")
	_, err = os.Lstat(l.Nodes[0].Root("/opt/opscode/service/nagios-old"))
	assert.ErrorIs(t, err, fs.ErrNotExist, "the stale link is gone")
}

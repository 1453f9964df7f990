package lab_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chefha/chefha/lab"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// upgradeCmd returns examples/upgrade (built once per run) and the
// arguments that point it at the lab.
func upgradeCmd(t *testing.T, l *lab.Lab) (bin string, args []string) {
	t.Helper()
	dir := t.TempDir()
	bin = buildExample(t, "upgrade")
	rb := filepath.Join(dir, "private-chef.rb")
	b, err := os.ReadFile(l.Nodes[0].Root("/etc/opscode/private-chef.rb")) // the /etc overlay's upper layer
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(rb, b, 0o644))
	pkg := filepath.Join(dir, "private-chef_11.1.8-1_amd64.deb")
	require.NoError(t, os.WriteFile(pkg, []byte("private-chef 11.1.8\n"), 0o644))
	return bin, []string{"-config", rb, "-ssh-config", l.SSHConfig, "-target", "11.1.8", "-package", "debian=" + pkg,
		"-backup-waived", "lab: throwaway nodes", "-hold", "5s", "-state", filepath.Join(dir, "state.json"), "-apply"}
}

// assertLabUpgraded checks every node at the target version and level,
// the bootstrap master, /etc/opscode the same everywhere.
func assertLabUpgraded(t *testing.T, l *lab.Lab) {
	t.Helper()
	var ref map[string][32]byte
	for _, n := range l.Nodes {
		b, err := os.ReadFile(n.Root("/opt/opscode/version-manifest.txt"))
		require.NoError(t, err)
		assert.Equal(t, "private-chef 11.1.8\n", string(b), n.Name)
		b, err = os.ReadFile(n.Root("/var/opt/opscode/upgrades/migration-level"))
		require.NoError(t, err)
		assert.Equal(t, `{"major":1,"minor":13}`+"\n", string(b), n.Name)
		out, err := n.Exec(context.Background(), "sh", "-c", "cd /etc/opscode && find . -type f -exec sha256sum {} + | sort")
		require.NoError(t, err, string(out))
		sums := map[string][32]byte{}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			f := strings.Fields(line)
			if len(f) == 2 {
				sums[f[1]] = sha256.Sum256([]byte(f[0]))
			}
		}
		if ref == nil {
			ref = sums
		} else {
			assert.Equal(t, ref, sums, "/etc/opscode on %s differs from the bootstrap's", n.Name)
		}
	}
	b, err := os.ReadFile(l.Nodes[0].Root("/var/opt/opscode/keepalived/current_cluster_status"))
	require.NoError(t, err)
	assert.Equal(t, "master\n", string(b), "the bootstrap is master")
}

func TestLabUpgrade146To1118(t *testing.T) {
	t.Parallel()
	l := startLab(t, lab.Spec{Version: "1.4.6", Frontends: 1})
	bin, args := upgradeCmd(t, l)
	start := time.Now()
	cmd := exec.Command(bin, args...)
	out, err := cmd.CombinedOutput()
	t.Logf("examples/upgrade -apply against the lab (%s):\n%s", time.Since(start).Round(time.Millisecond), out)
	require.NoError(t, err)
	assertLabUpgraded(t, l)
}

// The runner is killed (SIGKILL) right after the package is installed, and
// resumed: it finishes, installing and upgrading each node once.
func TestLabUpgradeKilledAndResumed(t *testing.T) {
	t.Parallel()
	l := startLab(t, lab.Spec{Version: "1.4.6", Frontends: 1})
	bin, args := upgradeCmd(t, l)
	cmd := exec.Command(bin, append(args, "-o", "json")...)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	sc := bufio.NewScanner(stdout)
	killed := false
	for sc.Scan() {
		var ev struct{ Kind, Step string }
		if json.Unmarshal(sc.Bytes(), &ev) == nil && ev.Kind == "step-done" && strings.Contains(ev.Step, "install-package") {
			require.NoError(t, cmd.Process.Kill())
			killed = true
			break
		}
	}
	cmd.Wait()
	require.True(t, killed, "the run reached the install step")

	out, err := exec.Command(bin, append(args, "-resume")...).CombinedOutput()
	t.Logf("resumed:\n%s", out)
	require.NoError(t, err)
	assert.Contains(t, string(out), "finished in an earlier run")
	assert.NotContains(t, string(out), "dpkg -i", "the package is not installed twice")
	assertLabUpgraded(t, l)
}

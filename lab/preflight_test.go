package lab_test

import (
	"net/netip"
	"os/exec"
	"regexp"
	"testing"
	"time"

	"github.com/chefha/chefha/lab"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A built examples/preflight run with -lab far from the source tree and
// without a Go toolchain on its PATH: its nodes run the preflight binary
// itself, and it prints the report of the lab it started and removed.
func TestLabPreflightBinaryFromAnywhere(t *testing.T) {
	t.Parallel()
	needLab(t)
	admit(t, 1) // its lab
	bin := buildExample(t, "preflight")
	cmd := exec.Command(bin, "-lab")
	cmd.Dir = t.TempDir()
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + cmd.Dir}
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("preflight -lab (%s):\n%s", time.Since(start).Round(time.Millisecond), out)
	require.NoError(t, err)
	s := string(out)
	for _, n := range []string{"be1.lab.test", "be2.lab.test", "fe1.lab.test"} {
		assert.Contains(t, s, n)
	}
	assert.Regexp(t, `\d+ ok, \d+ warn, 0 fail: safe to upgrade`, s)
	m := regexp.MustCompile(`LAB: up on ([0-9./]+),`).FindStringSubmatch(s)
	require.NotNil(t, m, "the lab's subnet is printed")
	subnet, err := netip.ParsePrefix(m[1])
	require.NoError(t, err)
	// The lab's bridge is gone after the run: a route to its subnet now
	// is another lab's, which took the subnet the run freed.
	if dev := routeDev(subnet); dev != "" {
		owner, live := lab.LiveBridge(dev)
		assert.True(t, live && owner == subnet, "the route to %s goes through %s, a live lab's bridge, not the run's", subnet, dev)
	}
}

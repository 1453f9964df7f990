package lab_test

import (
	"net/netip"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A built examples/preflight run with -lab far from the source tree and
// without a Go toolchain on its PATH: its nodes run the preflight binary
// itself, and it prints the report of the lab it started and removed.
func TestLabPreflightBinaryFromAnywhere(t *testing.T) {
	t.Parallel()
	needLab(t)
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
	route, _ := exec.Command("ip", "route", "show", subnet.String()).Output()
	assert.Empty(t, strings.TrimSpace(string(route)), "the lab's bridge is gone after the run")
}

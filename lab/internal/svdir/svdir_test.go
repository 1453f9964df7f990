package svdir

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chefha/chefha/internal/peer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A shim, run by the real sh, starts the program with the role in its
// environment (whatever the caller's, as under sshd) and its arguments
// untouched; ShimArg0 passes the name it was called by first.
func TestShimPassesRoleAndArguments(t *testing.T) {
	dir := t.TempDir()
	prog := filepath.Join(dir, "prog")
	require.NoError(t, os.WriteFile(prog, []byte("#!/bin/sh\necho \"role=$CHEFHA_LABNODE\"\nfor a in \"$@\"; do echo \"arg=$a\"; done\n"), 0o755))
	shim := filepath.Join(dir, "initctl")
	require.NoError(t, os.WriteFile(shim, []byte(strings.ReplaceAll(Shim("initctl"), Program, prog)), 0o755))
	cmd := exec.Command(shim, "start", "two words")
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	assert.Equal(t, "role=initctl\narg=start\narg=two words\n", string(out))

	sv := filepath.Join(dir, "sv")
	require.NoError(t, os.WriteFile(sv, []byte(strings.ReplaceAll(ShimArg0("sv"), Program, prog)), 0o755))
	link := filepath.Join(dir, "nginx")
	require.NoError(t, os.Symlink(sv, link))
	out, err = exec.Command(link, "status").CombinedOutput()
	require.NoError(t, err, string(out))
	assert.Equal(t, "role=sv\narg="+link+"\narg=status\n", string(out))
}

// The stand-in, run by the real sh under its service's name: it is ready
// once its start delay has passed, and drains for its stop delay on TERM,
// leaving no child behind.
func TestServiceStandIn(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		peer.Missing(t, "sh (dash)")
	}
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "delays"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "delays", "opscode-expander"), []byte("1 1\n"), 0o644))
	script := filepath.Join(dir, "chefha-service")
	require.NoError(t, os.WriteFile(script, []byte(Service(dir)), 0o755))
	link := filepath.Join(dir, "opscode-expander")
	require.NoError(t, os.Symlink(script, link))
	cmd := exec.Command(link)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out strings.Builder
	cmd.Stdout = &out
	require.NoError(t, cmd.Start())
	ready := filepath.Join(dir, "ready", "opscode-expander")
	assert.NoFileExists(t, ready, "not ready before its start delay")
	require.Eventually(t, func() bool { _, err := os.Stat(ready); return err == nil }, 5*time.Second, 20*time.Millisecond)
	start := time.Now()
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, cmd.Wait())
	assert.GreaterOrEqual(t, time.Since(start), 900*time.Millisecond, "drains for its stop delay")
	assert.Contains(t, out.String(), "opscode-expander: started")
	assert.Contains(t, out.String(), "opscode-expander: stopped")
	// Nothing of it is left in its process group.
	assert.Eventually(t, func() bool { return syscall.Kill(-cmd.Process.Pid, 0) != nil }, 2*time.Second, 20*time.Millisecond)
}

// Without delays the stand-in is ready at once and stops at once on TERM.
func TestServiceStandInWithoutDelays(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		peer.Missing(t, "sh (dash)")
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "chefha-service")
	require.NoError(t, os.WriteFile(script, []byte(Service(dir)), 0o755))
	link := filepath.Join(dir, "nginx")
	require.NoError(t, os.Symlink(script, link))
	cmd := exec.Command(link)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out strings.Builder
	cmd.Stdout = &out
	require.NoError(t, cmd.Start())
	require.Eventually(t, func() bool { _, err := os.Stat(filepath.Join(dir, "ready", "nginx")); return err == nil }, 5*time.Second, 20*time.Millisecond)
	assert.FileExists(t, filepath.Join(dir, "nginx-restarted"))
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, cmd.Wait())
	assert.Contains(t, out.String(), "nginx: draining for 0s\nnginx: stopped\n")
	assert.Eventually(t, func() bool { return syscall.Kill(-cmd.Process.Pid, 0) != nil }, 2*time.Second, 20*time.Millisecond)
}

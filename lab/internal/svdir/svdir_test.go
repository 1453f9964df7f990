package svdir

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
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
	cmd, out := startStandIn(t, dir, "opscode-expander")
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

// startStandIn starts the stand-in under a service's name, in a process
// group of its own, its output gathered.
func startStandIn(t *testing.T, dir, name string) (*exec.Cmd, *strings.Builder) {
	t.Helper()
	script := filepath.Join(dir, "chefha-service")
	require.NoError(t, os.WriteFile(script, []byte(Service(dir)), 0o755))
	link := filepath.Join(dir, name)
	require.NoError(t, os.Symlink(script, link))
	cmd := exec.Command(link)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out := &strings.Builder{}
	cmd.Stdout = out
	require.NoError(t, cmd.Start())
	return cmd, out
}

// Without delays the stand-in is ready at once and stops at once on TERM.
func TestServiceStandInWithoutDelays(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		peer.Missing(t, "sh (dash)")
	}
	dir := t.TempDir()
	cmd, out := startStandIn(t, dir, "nginx")
	require.Eventually(t, func() bool { _, err := os.Stat(filepath.Join(dir, "ready", "nginx")); return err == nil }, 5*time.Second, 20*time.Millisecond)
	assert.FileExists(t, filepath.Join(dir, "nginx-restarted"))
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, cmd.Wait())
	assert.Contains(t, out.String(), "nginx: draining for 0s\nnginx: stopped\n")
	// Its killed sleep is gone once the machine's init has reaped it.
	assert.Eventually(t, func() bool { return syscall.Kill(-cmd.Process.Pid, 0) != nil }, 5*time.Second, 20*time.Millisecond)
}

// initctl status, answered by the script: a job is known by its job file
// or, for the packaging's jobs, by running; it runs when its pid file
// names a live runsvdir. Anything else goes to the node program.
func TestInitctlStatus(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		peer.Missing(t, "sleep (coreutils)")
	}
	dir := t.TempDir()
	prog := filepath.Join(dir, "prog")
	require.NoError(t, os.WriteFile(prog, []byte("#!/bin/sh\necho \"role=$CHEFHA_LABNODE $*\"\n"), 0o755))
	script := strings.ReplaceAll(Initctl(dir+"/jobs/$job.pid", dir+"/init/$job.conf", []string{"opscode-runsvdir", "private-chef-runsvdir"}), Program, prog)
	initctl := filepath.Join(dir, "initctl")
	require.NoError(t, os.WriteFile(initctl, []byte(script), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "jobs"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "init"), 0o755))

	// A process whose comm is runsvdir, and one whose comm is not.
	b, err := os.ReadFile(sleep)
	require.NoError(t, err)
	runsvdir := filepath.Join(dir, "runsvdir")
	require.NoError(t, os.WriteFile(runsvdir, b, 0o755))
	running := exec.Command(runsvdir, "60")
	require.NoError(t, running.Start())
	defer func() { running.Process.Kill(); running.Wait() }()
	other := exec.Command(sleep, "60")
	require.NoError(t, other.Start())
	defer func() { other.Process.Kill(); other.Wait() }()
	pidFile := func(job string, pid int) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "jobs", job+".pid"), []byte(strconv.Itoa(pid)+"\n"), 0o644))
	}
	pidFile("opscode-runsvdir", running.Process.Pid)                                                       // running, no job file: known
	pidFile("private-chef-runsvdir", other.Process.Pid)                                                    // not a runsvdir, no job file: unknown
	pidFile("custom", running.Process.Pid)                                                                 // running, not the packaging's, no job file: unknown
	require.NoError(t, os.WriteFile(filepath.Join(dir, "init", "private_chef-runsvdir.conf"), nil, 0o644)) // a job file: known, stopped
	require.NoError(t, os.WriteFile(filepath.Join(dir, "init", "custom2.conf"), nil, 0o644))
	pidFile("custom2", running.Process.Pid) // a job file and a runsvdir

	for _, c := range []struct {
		job, out string
		code     int
	}{
		{"opscode-runsvdir", "opscode-runsvdir start/running, process " + strconv.Itoa(running.Process.Pid) + "\n", 0},
		{"private-chef-runsvdir", "initctl: Unknown job: private-chef-runsvdir\n", 1},
		{"custom", "initctl: Unknown job: custom\n", 1},
		{"private_chef-runsvdir", "private_chef-runsvdir stop/waiting\n", 0},
		{"custom2", "custom2 start/running, process " + strconv.Itoa(running.Process.Pid) + "\n", 0},
		{"nosuch", "initctl: Unknown job: nosuch\n", 1},
	} {
		cmd := exec.Command(initctl, "status", c.job)
		cmd.Env = []string{"PATH=/usr/bin:/bin"}
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else {
			require.NoError(t, err)
		}
		assert.Equal(t, c.out, string(out), c.job)
		assert.Equal(t, c.code, code, c.job)
	}
	out, err := exec.Command(initctl, "start", "opscode-runsvdir").CombinedOutput()
	require.NoError(t, err, string(out))
	assert.Equal(t, "role=initctl start opscode-runsvdir\n", string(out), "the rest is the node program's")
}

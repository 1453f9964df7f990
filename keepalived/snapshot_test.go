package keepalived

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chefha/chefha/internal/peer"
)

// recordedReading is testdata/watch-poll-transition.txt, a look at a node
// in mid-transition recorded from the model, split at its section markers
// as upgrade's reader splits a node's output.
func recordedReading(t testing.TB) Reading {
	t.Helper()
	const mark, markRC = "@@chefha-watch-fixture:", "@@chefha-watch-fixture-rc:"
	secs := map[string]Output{}
	var name string
	var body strings.Builder
	for _, line := range strings.SplitAfter(fixture(t, "watch-poll-transition.txt"), "\n") {
		l := strings.TrimSuffix(line, "\n")
		switch {
		case strings.HasPrefix(l, mark):
			name = strings.TrimPrefix(l, mark)
			body.Reset()
		case strings.HasPrefix(l, markRC):
			rc, err := strconv.Atoi(strings.TrimPrefix(l, markRC))
			require.NoError(t, err)
			secs[name] = Output{Text: strings.TrimSuffix(body.String(), "\n"), RC: rc}
		case name != "":
			body.WriteString(line)
		}
	}
	require.Len(t, secs, 9)
	return Reading{Current: secs["current"], Requested: secs["requested"], Lock: secs["lock"], PS: secs["ps"], Addrs: secs["addrs"],
		LogStat: secs["logstat"], Log: secs["log"], LogStat2: secs["logstat2"], Status: secs["status"]}
}

// The recorded look at a node in mid-transition reads as such.
func TestSnapshotFixtureTransition(t *testing.T) {
	t.Parallel()
	f := Follower{Backlog: 3}
	s := f.Snapshot("be1.chefha.test", "192.168.4.7", recordedReading(t))
	require.NoError(t, s.Err)
	assert.Equal(t, Master, s.Current)
	assert.Equal(t, Backup, s.Requested)
	assert.True(t, s.InTransition())
	assert.Equal(t, 1392, s.LockPID)
	assert.False(t, s.LockAlive, "the model's ps does not list cluster.sh")
	assert.False(t, s.HasVIP, "the VIP went with keepalived")
	require.NotNil(t, s.Services)
	assert.Equal(t, 1, s.Services.Up, "opscode-chef-mover, not an HA service")
	assert.Equal(t, 16, s.Services.Down)
	assert.Contains(t, s.Services.Stopped, "keepalived")
	assert.Equal(t, []string{
		"Tue, 10 Jun 2014 14:01:18 +0000: Stopping service couchdb",
		"Tue, 10 Jun 2014 14:01:18 +0000: Stopping service bookshelf",
		"Tue, 10 Jun 2014 14:01:18 +0000: Attempting to become DRBD secondary - attempts left 300",
	}, s.Log)
	require.Len(t, s.Events, 3)
	assert.Equal(t, EventStop, s.Events[0].Kind)
	assert.Equal(t, "couchdb", s.Events[0].Service)
	assert.Empty(t, s.Problems)
}

// What a node could not say becomes a problem or the node's error, never
// a silent wrong answer.
func TestSnapshotProblems(t *testing.T) {
	t.Parallel()
	with := func(change func(r *Reading)) Reading {
		r := recordedReading(t)
		change(&r)
		return r
	}
	snap := func(r Reading) NodeSnapshot {
		var f Follower
		return f.Snapshot("be1", "192.168.4.7", r)
	}
	s := snap(with(func(r *Reading) {
		r.Current = Output{Text: "cat: " + CurrentStatusPath + ": No such file or directory", RC: 1}
	}))
	assert.ErrorContains(t, s.Err, "be1: cannot read "+CurrentStatusPath+": cat: ")
	s = snap(with(func(r *Reading) { r.Current = Output{Text: "\x1b[2J"} }))
	var fe *FormatError
	assert.ErrorAs(t, s.Err, &fe)

	s = snap(with(func(r *Reading) {
		r.Requested = Output{Text: "maybe"}
		r.Lock = Output{Text: "pid"}
		r.Addrs = Output{Text: "sh: ip: not found", RC: 127}
		r.Status = Output{Text: "sh: private-chef-ctl: not found", RC: 127}
	}))
	require.NoError(t, s.Err)
	assert.Nil(t, s.Services)
	assert.Len(t, s.Problems, 4)
	for _, want := range []string{RequestedPath, LockPath, "ip -o -4 addr show failed: sh: ip: not found", "private-chef-ctl status exited 127"} {
		assert.Contains(t, strings.Join(s.Problems, "\n"), want)
	}
	s = snap(with(func(r *Reading) { r.PS = Output{Text: "ps: command not found", RC: 127} }))
	assert.Contains(t, strings.Join(s.Problems, "\n"), "whether lock holder pid 1392 runs: ps failed")
	s = snap(with(func(r *Reading) {
		r.PS = Output{Text: "  PID  PPID USER     STAT COMMAND\n 1392     1 root     S    /bin/sh cluster.sh backup\n"}
	}))
	assert.True(t, s.LockAlive)
	s = snap(with(func(r *Reading) {
		r.PS = Output{Text: "  PID  PPID USER     STAT COMMAND\n 1392     1 root     Z    [cluster.sh] <defunct>\n"}
	}))
	assert.False(t, s.LockAlive, "a zombie holds no transition")
	s = snap(with(func(r *Reading) { r.Addrs = Output{Text: "2: eth0    inet 192.168.4.70/24 scope global eth0\n"} }))
	assert.False(t, s.HasVIP, "192.168.4.70 is not 192.168.4.7")
	s = snap(with(func(r *Reading) {
		r.Addrs = Output{Text: "2: eth0    inet 192.168.4.7/24 scope global secondary eth0\n"}
	}))
	assert.True(t, s.HasVIP)
}

// The commands of a Reading under a real shell and coreutils, on files of
// the test's own: exit statuses, stat's %i, and a log rotated the way
// logrotate does it (create: a new inode; copytruncate: the same one).
func TestSnapshotRealShell(t *testing.T) {
	t.Parallel()
	sh := peer.Need(t, "sh", "dash")
	peer.Need(t, "stat", "coreutils")
	peer.Need(t, "ps", "procps")
	dir := t.TempDir()
	paths := watchPaths{current: filepath.Join(dir, "current"), requested: filepath.Join(dir, "requested"),
		lock: filepath.Join(dir, "lock"), log: filepath.Join(dir, "cluster's log")}
	require.NoError(t, os.WriteFile(paths.current, []byte("master\n"), 0o644))
	require.NoError(t, os.WriteFile(paths.requested, []byte("master\n"), 0o644))
	require.NoError(t, os.WriteFile(paths.lock, fmt.Appendf(nil, "%d\n", os.Getpid()), 0o644))
	head := stamped("Transitioning to master", "Transitioned to master")
	require.NoError(t, os.WriteFile(paths.log, []byte(head), 0o644))

	run := func(cmd string) Output {
		t.Helper()
		out, err := exec.CommandContext(context.Background(), sh, "-c", cmd+" 2>&1").Output()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return Output{Text: string(out), RC: ee.ExitCode()}
		}
		require.NoError(t, err)
		return Output{Text: string(out)}
	}
	f := Follower{Backlog: 10, paths: paths}
	q := func(p string) string { return "cat '" + strings.ReplaceAll(p, "'", `'\''`) + "'" }
	poll := func() NodeSnapshot {
		t.Helper()
		return f.Snapshot("local", "", Reading{
			Current: run(q(paths.current)), Requested: run(q(paths.requested)), Lock: run(q(paths.lock)),
			PS: run("ps -eo pid,ppid,user,stat,args"), Addrs: run("ip -o -4 addr show"),
			LogStat: run(logStatCmd(paths.log)), Log: run(logTail(paths.log)), LogStat2: run(logStatCmd(paths.log)),
			Status: run("private-chef-ctl status"),
		})
	}
	s := poll()
	require.NoError(t, s.Err)
	assert.Equal(t, Master, s.Current)
	assert.Equal(t, os.Getpid(), s.LockPID)
	assert.True(t, s.LockAlive, "this test's process runs")
	headLines, _ := completeLines(head)
	assert.Equal(t, headLines, s.Log)
	assert.Len(t, s.Events, 2)
	if _, err := exec.LookPath("private-chef-ctl"); err != nil {
		assert.Nil(t, s.Services)
		assert.Contains(t, strings.Join(s.Problems, "\n"), "private-chef-ctl status exited 127")
	}

	appendTo := func(p, text string) {
		fh, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
		require.NoError(t, err)
		_, err = fh.WriteString(text)
		require.NoError(t, err)
		require.NoError(t, fh.Close())
	}
	appendTo(paths.log, stamped("Requested transition to backup"))
	assert.Equal(t, []string{"Tue, 10 Jun 2014 14:00:00 +0000: Requested transition to backup"}, poll().Log)

	// logrotate's create: the old file moved away, a new one begun.
	require.NoError(t, os.Rename(paths.log, paths.log+".1"))
	require.NoError(t, os.WriteFile(paths.log, []byte(head+head), 0o644))
	s = poll()
	assert.Len(t, s.Log, 4, "every line of the new file")
	assert.False(t, s.LogGap)

	// copytruncate: emptied in place, then written again.
	require.NoError(t, os.Truncate(paths.log, 0))
	appendTo(paths.log, stamped("Transitioning to backup"))
	assert.Equal(t, []string{"Tue, 10 Jun 2014 14:00:00 +0000: Transitioning to backup"}, poll().Log)

	require.NoError(t, os.Remove(paths.log))
	s = poll()
	assert.Empty(t, s.Log)
	for _, p := range s.Problems {
		assert.NotContains(t, p, paths.log, "a missing log is no problem")
	}
	require.NoError(t, os.Remove(paths.current))
	assert.ErrorContains(t, poll().Err, "cannot read "+paths.current)
}

// Whatever a node prints, a snapshot has a status or an error.
func FuzzSnapshot(f *testing.F) {
	f.Add("master\n", "backup\n", "1392\n", 0)
	f.Add("", "", "", 1)
	f.Add("\x1b[2J", "maybe", "pid", 127)
	f.Fuzz(func(t *testing.T, current, requested, lock string, rc int) {
		r := recordedReading(t)
		r.Current, r.Requested, r.Lock = Output{Text: current, RC: rc}, Output{Text: requested}, Output{Text: lock}
		var fl Follower
		s := fl.Snapshot("n", "192.168.4.7", r)
		if s.Err == nil && s.Current == "" {
			t.Fatalf("no error and no status: %+v", s)
		}
	})
}

// OC-11499: the watch's reading of the VIP matches it exactly, where
// ha-status's unanchored regex takes 10.0.0.10 for 10.0.0.1.
func TestHasAddressIsExact(t *testing.T) {
	out := "2: eth0    inet 10.0.0.10/24 brd 10.0.0.255 scope global eth0\n"
	if hasAddress(out, "10.0.0.1") {
		t.Error("10.0.0.10 taken for the VIP 10.0.0.1")
	}
	if !hasAddress(out, "10.0.0.10") {
		t.Error("10.0.0.10 not found")
	}
}

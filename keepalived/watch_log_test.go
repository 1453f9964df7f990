package keepalived

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chefha/chefha/internal/peer"
)

// look is what one poll reads of a log holding content (exists false: no
// file): the stat, tail -c window and stat sections, as GNU coreutils
// print them.
func look(content, inode string, exists bool, window int) (section, section, section) {
	if !exists {
		st := section{out: "stat: cannot statx '" + ClusterLogPath + "': No such file or directory", rc: 1}
		return st, section{out: "tail: cannot open '" + ClusterLogPath + "' for reading: No such file or directory", rc: 1}, st
	}
	st := section{out: fmt.Sprintf("%d %s", len(content), inode)}
	return st, section{out: content[max(0, len(content)-window):]}, st
}

func stamped(msgs ...string) string {
	var b strings.Builder
	for _, m := range msgs {
		b.WriteString("Tue, 10 Jun 2014 14:00:00 +0000: " + m + "\n")
	}
	return b.String()
}

func TestLogFollower(t *testing.T) {
	t.Parallel()
	head := stamped("Transitioning to master", "Starting service nginx", "Transitioned to master")
	pair := stamped("Requested transition to backup", "Requested transition to backup, but state transition already running.")
	type poll struct {
		content string
		inode   string
		gone    bool
		window  int // bytes; default LogTailBytes
		want    []string
		gap     bool
	}
	lines := func(s string) []string { l, _ := completeLines(s); return l }
	tests := []struct {
		name    string
		backlog int
		polls   []poll
	}{
		{"first look: the backlog, then only what is new", 2, []poll{
			{content: head, inode: "7", want: lines(head)[1:]},
			{content: head, inode: "7"},
			{content: head + pair, inode: "7", want: lines(pair)},
		}},
		{"the same lines twice in one second come twice", 0, []poll{
			{content: head + pair, inode: "7"},
			{content: head + pair + pair, inode: "7", want: lines(pair)},
			{content: head + pair + pair + pair + pair, inode: "7", want: lines(pair + pair)},
		}},
		{"a line being written waits for its newline", 0, []poll{
			{content: head, inode: "7"},
			{content: head + "Tue, 10 Jun 2014 14:00:00 +0000: Stopping ser", inode: "7"},
			{content: head + pair[:10], inode: "7"},
			{content: head + pair, inode: "7", want: lines(pair)},
		}},
		{"copytruncate: shrunk, every line of it is new", 0, []poll{
			{content: head + pair, inode: "7"},
			{content: pair[:len(pair)/2+20], inode: "7", want: lines(pair)[:1]},
			{content: pair, inode: "7", want: lines(pair)[1:]},
		}},
		{"replaced by a longer file, same inode: told by its content", 0, []poll{
			{content: head, inode: "7"},
			{content: pair + pair + pair, inode: "7", want: lines(pair + pair + pair)},
		}},
		{"replaced by a longer file, stat without %i: told by its content", 0, []poll{
			{content: head, inode: "%i"},
			{content: pair + pair + pair, inode: "%i", want: lines(pair + pair + pair)},
			{content: pair + pair + pair + head, inode: "%i", want: lines(head)},
		}},
		{"logrotate create: a new inode", 0, []poll{
			{content: head + pair, inode: "7"},
			{content: head + pair + head, inode: "8", want: lines(head + pair + head)},
		}},
		{"removed, then back", 1, []poll{
			{gone: true},
			{content: head, inode: "9", want: lines(head)},
			{gone: true},
			{content: pair, inode: "9", want: lines(pair)},
		}},
		{"more written than the window holds: a gap", 0, []poll{
			{content: head, inode: "7"},
			{content: head + pair + pair + head, inode: "7", window: len(head) + 1, want: lines(head), gap: true},
			{content: head + pair + pair + head + pair, inode: "7", window: len(head) + len(pair), want: lines(pair)},
		}},
		{"a window that starts inside a line: the part is not a line", 0, []poll{
			{content: head, inode: "7"},
			{content: head + pair + head, inode: "7", window: len(head) + 10, want: lines(head), gap: true},
		}},
		{"the first look at a window inside a line: its whole lines", 5, []poll{
			{content: pair + head, inode: "7", window: len(head) + 10, want: lines(head)},
		}},
		{"rotated and already past the window: a gap", 0, []poll{
			{content: head, inode: "7"},
			{content: pair + head, inode: "8", window: len(head) + 1, want: lines(head), gap: true},
		}},
		{"a line longer than the window: a gap, then the lines after it", 0, []poll{
			{content: head, inode: "7"},
			{content: head + strings.Repeat("x", 3*LogTailBytes) + "\n", inode: "7", gap: true},
			{content: head + strings.Repeat("x", 3*LogTailBytes) + "\n" + pair, inode: "7", want: lines(pair)},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f logFollower
			for i, p := range tt.polls {
				w := p.window
				if w == 0 {
					w = LogTailBytes
				}
				s1, tail, s2 := look(p.content, p.inode, !p.gone, w)
				got, gap, err := f.next(ClusterLogPath, s1, tail, s2, tt.backlog)
				require.NoError(t, err, "poll %d", i+1)
				assert.Equal(t, p.want, got, "poll %d", i+1)
				assert.Equal(t, p.gap, gap, "poll %d gap", i+1)
			}
		})
	}
}

// A log written between the two stats is read again at the next poll,
// not guessed at.
func TestLogFollowerWrittenWhileRead(t *testing.T) {
	t.Parallel()
	head := stamped("Transitioning to master")
	more := stamped("Transitioned to master")
	var f logFollower
	s1, tail, s2 := look(head, "7", true, LogTailBytes)
	_, _, err := f.next(ClusterLogPath, s1, tail, s2, 0)
	require.NoError(t, err)
	s1, _, _ = look(head, "7", true, LogTailBytes)
	_, tail, s2 = look(head+more, "7", true, LogTailBytes)
	got, _, err := f.next(ClusterLogPath, s1, tail, s2, 0)
	require.NoError(t, err)
	assert.Empty(t, got)
	s1, tail, s2 = look(head+more, "7", true, LogTailBytes)
	got, _, err = f.next(ClusterLogPath, s1, tail, s2, 0)
	require.NoError(t, err)
	assert.Equal(t, []string{strings.TrimSuffix(more, "\n")}, got)
}

func TestLogFollowerErrors(t *testing.T) {
	t.Parallel()
	ok := section{out: "10 7"}
	for _, tt := range []struct {
		name             string
		stat1, tail, st2 section
		want             string
	}{
		{"stat refused", section{out: "stat: cannot statx 'x': Permission denied", rc: 1}, section{}, ok, "Permission denied"},
		{"stat silent", section{out: ""}, section{}, ok, "printed nothing"},
		{"not a size", section{out: "ten 7"}, section{}, ok, `"ten" is not a size`},
		{"negative", section{out: "-1 7"}, section{}, ok, "is not a size"},
		{"tail refused", ok, section{out: "tail: cannot open 'x' for reading: Permission denied", rc: 1}, ok, "tail " + ClusterLogPath + " failed"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var f logFollower
			_, _, err := f.next(ClusterLogPath, tt.stat1, tt.tail, tt.st2, 10)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.Contains(t, err.Error(), ClusterLogPath)
		})
	}
}

// The recorded poll of a node in mid-transition reads as such.
func TestPollFixtureTransition(t *testing.T) {
	t.Parallel()
	out, err := parsePoll(fixture(t, "watch-poll-transition.txt"), "chefha-watch-fixture")
	require.NoError(t, err)
	var f logFollower
	s := out.snapshot(defaultWatchPaths, "be1.chefha.test", "192.168.4.7", &f, 3)
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

func TestParsePollRefusesCutShortOutput(t *testing.T) {
	t.Parallel()
	full := fixture(t, "watch-poll-transition.txt")
	_, err := parsePoll(full, "chefha-watch-other")
	assert.ErrorContains(t, err, "no current section")
	cut := full[:strings.Index(full, "@@chefha-watch-fixture:status")]
	_, err = parsePoll(cut, "chefha-watch-fixture")
	assert.ErrorContains(t, err, "no status section in the watch script's output (cut short?)")
	_, err = parsePoll(strings.Replace(full, "-rc:0\n", "-rc:zero\n", 1), "chefha-watch-fixture")
	assert.ErrorContains(t, err, "bad status line")
}

// What a node could not say becomes a problem or the node's error, never
// a silent wrong answer.
func TestPollSnapshotProblems(t *testing.T) {
	t.Parallel()
	base, err := parsePoll(fixture(t, "watch-poll-transition.txt"), "chefha-watch-fixture")
	require.NoError(t, err)
	with := func(changes map[string]section) pollOutput {
		p := pollOutput{}
		for k, v := range base {
			p[k] = v
		}
		for k, v := range changes {
			p[k] = v
		}
		return p
	}
	snap := func(p pollOutput) NodeSnapshot {
		var f logFollower
		return p.snapshot(defaultWatchPaths, "be1", "192.168.4.7", &f, 0)
	}
	s := snap(with(map[string]section{"current": {out: "cat: " + CurrentStatusPath + ": No such file or directory", rc: 1}}))
	assert.ErrorContains(t, s.Err, "be1: cannot read "+CurrentStatusPath+": cat: ")
	s = snap(with(map[string]section{"current": {out: "\x1b[2J"}}))
	var fe *FormatError
	assert.ErrorAs(t, s.Err, &fe)

	s = snap(with(map[string]section{
		"requested": {out: "maybe"},
		"lock":      {out: "pid"},
		"addrs":     {out: "sh: ip: not found", rc: 127},
		"status":    {out: "sh: private-chef-ctl: not found", rc: 127},
	}))
	require.NoError(t, s.Err)
	assert.Nil(t, s.Services)
	assert.Len(t, s.Problems, 4)
	for _, want := range []string{RequestedPath, LockPath, "ip -o -4 addr show failed: sh: ip: not found", "private-chef-ctl status exited 127"} {
		assert.Contains(t, strings.Join(s.Problems, "\n"), want)
	}
	s = snap(with(map[string]section{"ps": {out: "ps: command not found", rc: 127}}))
	assert.Contains(t, strings.Join(s.Problems, "\n"), "whether lock holder pid 1392 runs: ps failed")
	s = snap(with(map[string]section{"ps": {out: "  PID  PPID USER     STAT COMMAND\n 1392     1 root     S    /bin/sh cluster.sh backup\n"}}))
	assert.True(t, s.LockAlive)
	s = snap(with(map[string]section{"ps": {out: "  PID  PPID USER     STAT COMMAND\n 1392     1 root     Z    [cluster.sh] <defunct>\n"}}))
	assert.False(t, s.LockAlive, "a zombie holds no transition")
	s = snap(with(map[string]section{"addrs": {out: "2: eth0    inet 192.168.4.70/24 scope global eth0\n"}}))
	assert.False(t, s.HasVIP, "192.168.4.70 is not 192.168.4.7")
	s = snap(with(map[string]section{"addrs": {out: "2: eth0    inet 192.168.4.7/24 scope global secondary eth0\n"}}))
	assert.True(t, s.HasVIP)
}

// The poll script under a real shell and coreutils, on files of the test's
// own: sections, exit statuses, stat's %i, and a log rotated the way
// logrotate does it (create: a new inode; copytruncate: the same one).
func TestWatchScriptRealShell(t *testing.T) {
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

	var f logFollower
	poll := func() NodeSnapshot {
		t.Helper()
		nonce := "chefha-watch-test"
		out, err := exec.CommandContext(context.Background(), sh, "-c", paths.script(nonce)).Output()
		require.NoError(t, err)
		p, err := parsePoll(string(out), nonce)
		require.NoError(t, err)
		return p.snapshot(paths, "local", "", &f, 10)
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

func FuzzParsePoll(f *testing.F) {
	full, err := os.ReadFile(filepath.Join("testdata", "watch-poll-transition.txt"))
	require.NoError(f, err)
	f.Add(string(full))
	f.Add("@@n:current\nmaster\n@@n-rc:0\n")
	f.Fuzz(func(t *testing.T, out string) {
		p, err := parsePoll(out, "chefha-watch-fixture")
		if err != nil {
			return
		}
		var fl logFollower
		s := p.snapshot(defaultWatchPaths, "n", "192.168.4.7", &fl, 10)
		if s.Err == nil && s.Current == "" {
			t.Fatalf("no error and no status: %+v", s)
		}
	})
}

// The lines handed out of a log that only grows are the lines it gained,
// each once, in order, unless a gap is reported.
func FuzzLogFollower(f *testing.F) {
	f.Add([]byte("a\nbb\nbb\n"), uint8(3), []byte{2, 1, 5})
	f.Add([]byte("x\n\n\nx\n"), uint8(1), []byte{0, 7, 1})
	f.Fuzz(func(t *testing.T, text []byte, window uint8, cuts []byte) {
		var fl logFollower
		content, at := "", 0
		var got []string
		gapped := false
		s1, tail, s2 := look("", "7", true, 1)
		if _, _, err := fl.next(ClusterLogPath, s1, tail, s2, 0); err != nil {
			t.Fatal(err)
		}
		for _, c := range append(cuts, 255) {
			at = min(len(text), at+int(c))
			content = string(text[:at])
			s1, tail, s2 := look(content, "7", true, int(window)+1)
			lines, gap, err := fl.next(ClusterLogPath, s1, tail, s2, 0)
			if err != nil {
				t.Fatal(err)
			}
			gapped = gapped || gap
			got = append(got, lines...)
		}
		if !gapped {
			want, _ := completeLines(content)
			if strings.Join(want, "\n") != strings.Join(got, "\n") || len(want) != len(got) {
				t.Fatalf("log %q: got %q, want %q", content, got, want)
			}
		}
	})
}

// A read of cluster.log's end that a line longer than the read fills
// parses as the whole lines after it, never as the part: the facts and the
// gates read a node whose log holds a 300 MB line.
func TestTrimClusterLogTail(t *testing.T) {
	t.Parallel()
	tail := stamped("Transitioning to master", "Transitioned to master")
	for _, tt := range []struct {
		name, log string
		want      int
	}{
		{"shorter than a read: all of it", tail, 2},
		{"cut inside a line", strings.Repeat("y", LogTailBytes) + "\n" + tail, 2},
		{"one line longer than a read", strings.Repeat("z", 2*LogTailBytes), 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			read := tt.log[max(0, len(tt.log)-LogTailBytes):]
			evs, err := ParseClusterLog(strings.NewReader(TrimClusterLogTail(read)))
			require.NoError(t, err)
			assert.Len(t, evs, tt.want)
		})
	}
	assert.Equal(t, "tail -c 65536 /var/log/opscode/keepalived/cluster.log", ClusterLogTail)
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

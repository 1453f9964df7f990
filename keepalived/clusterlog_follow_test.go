package keepalived

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// look is what one poll reads of a log holding content (exists false: no
// file): the stat, tail -c window and stat sections, as GNU coreutils
// print them.
func look(content, inode string, exists bool, window int) (Output, Output, Output) {
	if !exists {
		st := Output{Text: "stat: cannot statx '" + ClusterLogPath + "': No such file or directory", RC: 1}
		return st, Output{Text: "tail: cannot open '" + ClusterLogPath + "' for reading: No such file or directory", RC: 1}, st
	}
	st := Output{Text: fmt.Sprintf("%d %s", len(content), inode)}
	return st, Output{Text: content[max(0, len(content)-window):]}, st
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
	ok := Output{Text: "10 7"}
	for _, tt := range []struct {
		name             string
		stat1, tail, st2 Output
		want             string
	}{
		{"stat refused", Output{Text: "stat: cannot statx 'x': Permission denied", RC: 1}, Output{}, ok, "Permission denied"},
		{"stat silent", Output{Text: ""}, Output{}, ok, "printed nothing"},
		{"not a size", Output{Text: "ten 7"}, Output{}, ok, `"ten" is not a size`},
		{"negative", Output{Text: "-1 7"}, Output{}, ok, "is not a size"},
		{"tail refused", ok, Output{Text: "tail: cannot open 'x' for reading: Permission denied", RC: 1}, ok, "tail " + ClusterLogPath + " failed"},
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

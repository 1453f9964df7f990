package keepalived

import (
	"fmt"
	"strconv"
	"strings"
)

// logFollower hands out the lines a file gained since the last look, as
// `tail -F` does, from what one poll can read in the same command session:
// the file's size and inode (stat), its last LogTailBytes (tail -c), and
// its size and inode again. When both stats agree the window is known
// to be the file's last bytes, so the new lines are the window's bytes
// past the offset read up to last time: exact, even where cluster.sh wrote
// the same line twice in one second (it does: "Requested transition to
// backup" and "…, but state transition already running." come in pairs).
//
// The file was replaced (logrotate's create, or copytruncate) when its
// inode changed, it shrank below that offset, or the bytes before the
// offset are no longer the line read last: then every line of the new
// file is new. A file written while it was read (the stats differ) is
// read again at the next poll.
type logFollower struct {
	started bool
	offset  int64  // the end of the last complete line handed out
	inode   string // "" when stat did not say
	lastNL  string // that line with its newline, "" when none
}

// logStat is what `stat -c '%s %i'` said of the log.
type logStat struct {
	exists bool
	size   int64
	inode  string
}

func parseLogStat(file string, s Output) (logStat, error) {
	if s.RC != 0 {
		if strings.Contains(s.Text, "No such file") {
			return logStat{}, nil
		}
		return logStat{}, fmt.Errorf("stat %s failed: %s", file, oneLine(s.Text))
	}
	f := strings.Fields(s.Text)
	if len(f) == 0 {
		return logStat{}, fmt.Errorf("stat %s printed nothing", file)
	}
	size, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil || size < 0 {
		return logStat{}, fmt.Errorf("stat %s: %q is not a size", file, abbrev(f[0]))
	}
	st := logStat{exists: true, size: size}
	// A stat that does not know %i prints it as it is: the inode is then
	// unknown, and replacement is told by size and content alone.
	if len(f) > 1 {
		if _, err := strconv.ParseUint(f[1], 10, 64); err == nil {
			st.inode = f[1]
		}
	}
	return st, nil
}

// next takes one look's stat, tail and second stat outputs and returns
// the new complete lines, whether some were missed, and what could not be
// read. On the first look it returns the last backlog lines.
func (f *logFollower) next(file string, stat1, tail, stat2 Output, backlog int) ([]string, bool, error) {
	a, err := parseLogStat(file, stat1)
	if err != nil {
		return nil, false, err
	}
	b, err := parseLogStat(file, stat2)
	if err != nil {
		return nil, false, err
	}
	if a != b {
		return nil, false, nil // written while read: read again next time
	}
	if !a.exists {
		// No log (yet, or rotated away): a log that appears is new from
		// its first line.
		*f = logFollower{started: true}
		return nil, false, nil
	}
	if tail.RC != 0 {
		return nil, false, fmt.Errorf("tail %s failed: %s", file, oneLine(tail.Text))
	}
	w := tail.Text
	if int64(len(w)) > a.size {
		return nil, false, nil // not the file the stats saw: read again next time
	}
	if !f.started {
		if int64(len(w)) < a.size {
			w = w[lineStart(w):]
		}
		lines, partial := completeLines(w)
		f.started, f.inode = true, a.inode
		f.offset = a.size - int64(len(partial))
		if len(lines) > 0 {
			f.lastNL = lines[len(lines)-1] + "\n"
		}
		if backlog <= 0 {
			return nil, false, nil
		}
		return lines[len(lines)-min(backlog, len(lines)):], false, nil
	}
	replaced := a.inode != "" && f.inode != "" && a.inode != f.inode || a.size < f.offset
	i := int64(len(w)) - (a.size - f.offset) // where the unread bytes start in w
	if !replaced && !f.continues(w, i) {
		replaced = true
	}
	if replaced {
		i = int64(len(w)) - a.size
	}
	// Unread bytes that start in the window start a line (the offset is
	// a line's end); a window that starts past them starts anywhere.
	gap := i < 0
	if gap {
		i = int64(lineStart(w))
	}
	lines, partial := completeLines(w[i:])
	f.offset, f.inode = a.size-int64(len(partial)), a.inode
	switch {
	case len(lines) > 0:
		f.lastNL = lines[len(lines)-1] + "\n"
	case replaced || gap:
		f.lastNL = "" // the last line read is not one handed out
	}
	return lines, gap, nil
}

// continues reports whether w, whose unread bytes start at i, is the file
// read last time: the bytes before i end a line, and that line is the one
// handed out last. A window that starts past i cannot tell, and is taken
// to continue it (the lines between are a gap).
func (f *logFollower) continues(w string, i int64) bool {
	switch {
	case i <= 0:
		return true
	case w[i-1] != '\n':
		return false
	case f.lastNL == "":
		return true
	case i < int64(len(f.lastNL)):
		// tail starts at a line's start, and no line starts inside the
		// last line read.
		return false
	}
	j := i - int64(len(f.lastNL))
	return w[j:i] == f.lastNL && (j == 0 || w[j-1] == '\n')
}

// completeLines splits s into its newline-terminated lines (without the
// newline) and what follows the last newline.
func completeLines(s string) ([]string, string) {
	k := strings.LastIndexByte(s, '\n')
	if k < 0 {
		return nil, s
	}
	return strings.Split(s[:k], "\n"), s[k+1:]
}

// lineStart is where the first whole line of a window cut from a file's
// end starts: past its first newline, or at its end when it holds none
// (the whole window is a part of one line). Only a newline tells a line's
// start: a window that starts exactly at one loses that line.
func lineStart(w string) int {
	if k := strings.IndexByte(w, '\n'); k >= 0 {
		return k + 1
	}
	return len(w)
}

package runit

import (
	"bytes"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
)

// Process is one row of a `ps` listing.
type Process struct {
	User string
	PID  int
	// PPID is the parent's PID, or 0 when the listing had no PPID column
	// (`ps aux` has none).
	PPID int
	// Stat is the STAT column (e.g. "Ss", "Zs"), empty when absent.
	Stat string
	// Command is the whole argv text as ps printed it, spaces kept.
	Command string
}

// Argv splits Command on blanks. It is only as exact as ps's rendering:
// ps joins arguments with single spaces, so an argument holding a space
// reads back as two.
func (p Process) Argv() []string { return strings.Fields(p.Command) }

// Name is the base name of argv[0] ("runsvdir" for
// "/opt/opscode/embedded/bin/runsvdir -P …"); kernel threads keep their
// brackets ("[kthreadd]").
func (p Process) Name() string {
	cmd := p.Command
	if i := strings.IndexByte(cmd, ' '); i >= 0 {
		cmd = cmd[:i]
	}
	return path.Base(cmd)
}

// Columns that ps prints as one blank-free token. Anything else in a header
// is accepted as one token too, except the command column, which must be
// last because it may hold spaces.
var commandHeaders = map[string]bool{"COMMAND": true, "CMD": true, "ARGS": true}

// auxHeader is the column set of `ps aux`, assumed for listings without a
// header line (what `ps aux | grep [r]unsvdir` prints, as in the runbook).
var auxHeader = []string{"USER", "PID", "%CPU", "%MEM", "VSZ", "RSS", "TTY", "STAT", "START", "TIME", "COMMAND"}

// ParseError reports a line of input that could not be read.
type ParseError struct {
	What string // what was being parsed, e.g. "ps listing"
	Line int    // 1-based line number
	Text string // the offending line
	Err  string // what is wrong with it
}

func (e *ParseError) Error() string {
	text := e.Text
	if len(text) > 120 {
		text = text[:120] + "…"
	}
	return fmt.Sprintf("%s line %d: %s: %q", e.What, e.Line, e.Err, text)
}

// ParsePS reads a `ps` listing: `ps aux`, `ps -eo pid,ppid,user,stat,args`,
// or any column set whose header names a PID column and ends with the
// command (COMMAND, CMD or ARGS). The header decides the columns; input
// without a header is read as `ps aux` rows, which is what `ps aux | grep`
// prints.
//
// A headerless listing may also be a terminal capture in which long command
// lines were wrapped (the runbook's examples are such captures): there, a
// line that is not a row continues the previous row's command. With a header
// the listing came from a pipe, which ps never wraps, so any line that is not
// a row is an error.
func ParsePS(r io.Reader) ([]Process, error) {
	var buf bytes.Buffer
	if l, ok := r.(interface{ Len() int }); ok {
		buf.Grow(l.Len() + 1)
	}
	if _, err := buf.ReadFrom(r); err != nil {
		return nil, fmt.Errorf("reading ps listing: %w", err)
	}
	// One string for the whole input: every field below is a substring of
	// it, so parsing allocates per process only its slot in procs.
	text := buf.String()
	cols, headerless := auxHeader, true
	lineNo := 0
	var procs []Process
	if n := strings.Count(text, "\n"); n > 1 {
		procs = make([]Process, 0, n)
	}
	iUser, iPID, iPPID, iStat := -1, -1, -1, -1
	setCols := func(c []string) error {
		iUser, iPID, iPPID, iStat = -1, -1, -1, -1
		for i, h := range c {
			switch h {
			case "USER", "UID", "EUSER", "RUSER":
				if iUser < 0 {
					iUser = i
				}
			case "PID":
				iPID = i
			case "PPID":
				iPPID = i
			case "STAT", "S":
				iStat = i
			}
			if commandHeaders[h] && i != len(c)-1 {
				return fmt.Errorf("command column %s is not last", h)
			}
		}
		if iPID < 0 {
			return fmt.Errorf("no PID column")
		}
		if !commandHeaders[c[len(c)-1]] {
			return fmt.Errorf("last column %s is not the command (COMMAND, CMD or ARGS)", c[len(c)-1])
		}
		return nil
	}
	if err := setCols(cols); err != nil {
		panic(err) // auxHeader is a constant
	}
	for len(text) > 0 {
		var line string
		if i := strings.IndexByte(text, '\n'); i >= 0 {
			line, text = text[:i], text[i+1:]
		} else {
			line, text = text, ""
		}
		lineNo++
		line = strings.TrimSuffix(line, "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		if lineNo == 1 || (headerless && len(procs) == 0) {
			if h := strings.Fields(line); isHeader(h) {
				if err := setCols(h); err != nil {
					return nil, &ParseError{What: "ps listing", Line: lineNo, Text: line, Err: "header: " + err.Error()}
				}
				cols, headerless = h, false
				continue
			}
		}
		p, ok := parseRow(line, len(cols), iUser, iPID, iPPID, iStat)
		if !ok {
			if headerless && len(procs) > 0 {
				procs[len(procs)-1].Command += strings.TrimLeft(line, " \t")
				continue
			}
			return nil, &ParseError{What: "ps listing", Line: lineNo, Text: line,
				Err: fmt.Sprintf("want %d columns (%s) with a numeric PID", len(cols), strings.Join(cols, " "))}
		}
		procs = append(procs, p)
	}
	return procs, nil
}

// isHeader tells a header from a row: it names PID or ends with the
// command column.
func isHeader(fields []string) bool {
	if len(fields) > 0 && commandHeaders[fields[len(fields)-1]] {
		return true
	}
	for _, f := range fields {
		if f == "PID" {
			return true
		}
	}
	return false
}

// parseRow splits a row into n columns, the last taking the rest of the line.
func parseRow(line string, n, iUser, iPID, iPPID, iStat int) (Process, bool) {
	var p Process
	rest := line
	for i := 0; i < n-1; i++ {
		rest = skipBlanks(rest)
		end := 0
		for end < len(rest) && rest[end] != ' ' && rest[end] != '\t' {
			end++
		}
		if end == 0 || end == len(rest) {
			return Process{}, false
		}
		field := rest[:end]
		rest = rest[end:]
		switch i {
		case iUser:
			p.User = field
		case iPID:
			pid, err := strconv.Atoi(field)
			if err != nil || pid < 0 {
				return Process{}, false
			}
			p.PID = pid
		case iPPID:
			ppid, err := strconv.Atoi(field)
			if err != nil || ppid < 0 {
				return Process{}, false
			}
			p.PPID = ppid
		case iStat:
			p.Stat = field
		}
	}
	// Keep the command verbatim but for the padding before it: a trailing
	// blank matters when a terminal wrapped the line there.
	p.Command = skipBlanks(rest)
	if strings.TrimSpace(p.Command) == "" {
		return Process{}, false
	}
	return p, true
}

func skipBlanks(s string) string {
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return s[i:]
}

// Children returns the processes whose parent is pid, in listing order. It
// needs a listing with a PPID column.
func Children(ps []Process, pid int) []Process {
	var out []Process
	for _, p := range ps {
		if p.PPID == pid && p.PID != pid {
			out = append(out, p)
		}
	}
	return out
}

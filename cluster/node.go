package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"
	"unicode/utf8"
)

// Node is a host chefha observes and acts on. Every call takes a context:
// cancelling it ends a running remote command and returns promptly.
// Implementations are safe for concurrent use.
type Node interface {
	// Name is the node's name in the topology (or its address).
	Name() string
	// Run runs a command. A command that ran and exited non-zero returns
	// its Result and an *ExitError carrying the same Result.
	Run(ctx context.Context, cmd Cmd) (Result, error)
	// ReadFile returns a file's contents. A missing file gives an error
	// that matches fs.ErrNotExist.
	ReadFile(ctx context.Context, name string) ([]byte, error)
	// WriteFile replaces a file atomically: it writes a temporary file in
	// the same directory and renames it over name, so a reader sees the old
	// or the new contents, never a part.
	WriteFile(ctx context.Context, name string, data []byte, perm fs.FileMode) error
	// Stat describes a file without following a final symlink.
	Stat(ctx context.Context, name string) (FileInfo, error)
	// ReadDir lists a directory, sorted by name.
	ReadDir(ctx context.Context, name string) ([]FileInfo, error)
	// Close releases the node's connection.
	Close() error
}

// Cmd is a command to run on a node.
type Cmd struct {
	// Argv is the program and its arguments; they are quoted for the
	// remote POSIX shell, so spaces and quotes arrive as given.
	Argv []string
	// Stdin, if not nil, is fed to the command's standard input.
	Stdin []byte
	// Sudo runs the command as root: through `sudo -n` when the node's
	// login user is not root (a sudo that wants a password fails at once
	// with *SudoError instead of hanging). Over SSH, where sudoers says
	// "Defaults requiretty", root commands run under a pseudo-terminal,
	// which merges their stderr into Stdout (see SSH.Run).
	Sudo bool
	// Output, if not nil, also gets the command's standard output as it
	// arrives (Result holds all of it at the end): what a long command is
	// doing can be shown while it runs.
	Output io.Writer
	// Label, if set, names the command in logs instead of its argv: a
	// script of kilobytes sent every few seconds says nothing more for
	// being written out each time. The node runs Argv.
	Label string
}

// Command builds a Cmd from a program and its arguments.
func Command(argv ...string) Cmd { return Cmd{Argv: argv} }

// AsRoot returns a copy of c that runs as root.
func (c Cmd) AsRoot() Cmd { c.Sudo = true; return c }

// String is the command line as the remote shell receives it.
func (c Cmd) String() string { return ShellJoin(c.Argv) }

// Result is what a command printed and how it exited.
type Result struct {
	Stdout   []byte
	Stderr   []byte
	ExitCode int
}

// ExitError is a command that ran and exited non-zero.
type ExitError struct {
	Node   string
	Cmd    string
	Result Result
}

// Error quotes the command's stderr (or stdout), secrets redacted
// (RedactSecrets): error messages end up in logs and reports.
func (e *ExitError) Error() string {
	msg := strings.TrimSpace(string(RedactSecrets(e.Result.Stderr)))
	if msg == "" {
		msg = strings.TrimSpace(string(RedactSecrets(e.Result.Stdout)))
	}
	if len(msg) > 300 {
		// The end: where a failing program says why.
		cut := len(msg) - 300
		for cut < len(msg) && !utf8.RuneStart(msg[cut]) {
			cut++
		}
		msg = "…" + msg[cut:]
	}
	if msg != "" {
		msg = ": " + msg
	}
	return fmt.Sprintf("%s: %s exited %d%s", e.Node, RedactSecrets([]byte(e.Cmd)), e.Result.ExitCode, msg)
}

// SudoError is a sudo that refused to run a root command: it wanted a
// password, or (RequireTTY) a terminal that could not be given.
type SudoError struct {
	Node, User, Cmd string
	Stderr          string // what sudo said, or why no terminal could be had
	// RequireTTY: sudoers has "Defaults requiretty" and the command could
	// not be run under a terminal.
	RequireTTY bool
}

func (e *SudoError) Error() string {
	said := strings.TrimSpace(string(RedactSecrets([]byte(e.Stderr))))
	if e.RequireTTY {
		return fmt.Sprintf("%s: sudo refused %q for user %s: sudoers requires a terminal (Defaults requiretty) and %s; add the line \"Defaults:%s !requiretty\" to the node's sudoers (visudo -f /etc/sudoers.d/chefha), or log in as root",
			e.Node, e.Cmd, e.User, said, e.User)
	}
	return fmt.Sprintf("%s: sudo -n refused %q for user %s (%s): give %s passwordless sudo for private-chef-ctl and the commands chefha runs (a sudoers line such as \"%s ALL=(root) NOPASSWD: ALL\"), or log in as root",
		e.Node, e.Cmd, e.User, said, e.User, e.User)
}

// ErrConnectionLost is returned (wrapped) when the connection to a node
// dropped while a command ran: its outcome is unknown. The next call
// reconnects.
var ErrConnectionLost = errors.New("connection lost")

// FileInfo describes a file on a node.
type FileInfo struct {
	Path    string
	Mode    fs.FileMode // type bits and permissions, as io/fs
	Size    int64
	ModTime time.Time
	UID     int // -1 when unknown
	GID     int
	Target  string // a symlink's target, when listed by ReadDir or Stat
}

// Name is the file's base name.
func (f FileInfo) Name() string {
	if i := strings.LastIndexByte(f.Path, '/'); i >= 0 && i < len(f.Path)-1 {
		return f.Path[i+1:]
	}
	return f.Path
}

// IsDir reports whether the file is a directory.
func (f FileInfo) IsDir() bool { return f.Mode.IsDir() }

// ShellJoin quotes argv for a POSIX shell: words made only of safe
// characters go bare, everything else in single quotes with embedded single
// quotes written as '\”.
func ShellJoin(argv []string) string {
	var b strings.Builder
	for i, a := range argv {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(ShellQuote(a))
	}
	return b.String()
}

// ShellQuote quotes one word for a POSIX shell.
func ShellQuote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("@%+=:,./_-", c) >= 0) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// sudoPrompted reports whether sudo's stderr says it wanted a password.
// The texts are sudo's own (plugins/sudoers), across 1.8 and 1.9.
func sudoPrompted(stderr []byte) bool {
	s := string(stderr)
	return strings.Contains(s, "sudo: a password is required") ||
		strings.Contains(s, "sudo: a terminal is required") ||
		strings.Contains(s, "is not in the sudoers file") ||
		strings.Contains(s, "is not allowed to run sudo")
}

// sudoArgv wraps argv in sudo -n when the command needs root and user is not root.
func sudoArgv(c Cmd, user string) []string {
	if !c.Sudo || user == "root" {
		return c.Argv
	}
	return append([]string{"sudo", "-n", "--"}, c.Argv...)
}

// finish turns a finished command into (Result, error), recognising sudo
// refusals.
func finish(node, user string, c Cmd, res Result) (Result, error) {
	if res.ExitCode == 0 {
		return res, nil
	}
	if c.Sudo && user != "root" && sudoPrompted(res.Stderr) {
		return res, &SudoError{Node: node, User: user, Cmd: ShellJoin(c.Argv), Stderr: string(res.Stderr)}
	}
	if c.Sudo && user != "root" && sudoWantsTTY(res.Stderr) {
		// Local has no terminal to give; SSH retries under one first.
		return res, &SudoError{Node: node, User: user, Cmd: ShellJoin(c.Argv), RequireTTY: true, Stderr: "chefha runs it without one"}
	}
	return res, &ExitError{Node: node, Cmd: ShellJoin(c.Argv), Result: res}
}

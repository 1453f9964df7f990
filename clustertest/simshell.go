package clustertest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The simulated node's shell: `sh -c` scripts and the commands chefha
// sends, answered with the real programs' output formats and exit codes
// (reference/formats.md). A command it does not emulate fails with exit
// 127 and "clustertest: not emulated: <argv>", so a gap is loud.

// shellIO is one command's streams.
type shellIO struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	env            map[string]string
	sess           *session
}

// session is the node as one login session's commands see it. Its umask is
// the session's own (the login's, then what `umask` in its script set), as
// a process's is: sessions running at once do not share one.
type session struct {
	*Node
	umask fs.FileMode
}

// WriteFile writes as the session's process would, under its umask.
func (s *session) WriteFile(p string, b []byte, perm fs.FileMode) error {
	return s.Node.writeFile(p, b, perm, s.umask)
}

// Run runs a command line as the node's login shell would and returns its
// exit status. `sh -c SCRIPT` runs SCRIPT's lines (`cmd; cmd` or one per
// line) in turn, with "$?" meaning the previous command's status.
func (n *Node) Run(ctx context.Context, command string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := shellIO{Stdin: stdin, Stdout: stdout, Stderr: stderr, env: map[string]string{}, sess: &session{Node: n, umask: loginUmask}}
	argv, err := Split(command)
	if err != nil {
		fmt.Fprintf(e.Stderr, "sh: %v\n", err)
		return 2
	}
	// The cluster package's wrapper: "echo $$; exec CMD".
	if len(argv) >= 3 && argv[0] == "echo" && argv[1] == "$$;" && argv[2] == "exec" {
		fmt.Fprintf(e.Stdout, "%d\n", 4242)
		argv = argv[3:]
	}
	if len(argv) >= 3 && argv[0] == "sudo" && argv[1] == "-n" && argv[2] == "--" {
		argv = argv[3:]
	}
	if len(argv) >= 7 && argv[0] == "sh" && argv[1] == "-c" && argv[3] == "chefha-detached" {
		return n.detached(ctx, argv[4], argv[5], argv[6:], e)
	}
	if len(argv) >= 3 && argv[0] == "sh" && argv[1] == "-c" {
		script := argv[2]
		if len(argv) > 4 { // sh -c SCRIPT $0 ARGS…: "$@" is ARGS
			q := make([]string, len(argv)-4)
			for i, a := range argv[4:] {
				q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
			}
			script = strings.ReplaceAll(script, `"$@"`, strings.Join(q, " "))
		}
		return n.script(ctx, script, e)
	}
	return n.command(ctx, argv, e)
}

// Split splits a command line into words with POSIX quoting ('…', "…", \x),
// the inverse of cluster.ShellJoin. It expands nothing: $VAR, globs and
// operators are left to the callers that emulate them.
func Split(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unterminated '")
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				// In double quotes a backslash escapes only $ ` " \ and
				// newline (POSIX 2.2.3); before anything else it stays.
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("$`\"\\\n", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, errors.New(`unterminated "`)
			}
			inWord = true
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inWord = true
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out, nil
}

func (n *Node) script(ctx context.Context, s string, e shellIO) int {
	status := 0
	for _, line := range splitScript(s) {
		line = strings.TrimSpace(strings.ReplaceAll(line, "$?", fmt.Sprint(status)))
		if line == "" {
			continue
		}
		argv, err := Split(line)
		if err != nil {
			fmt.Fprintf(e.Stderr, "sh: %v\n", err)
			return 2
		}
		argv = n.glob(argv)
		if len(argv) > 1 && argv[0] == "exec" {
			argv = argv[1:]
		}
		ee := e
		if len(argv) > 0 && argv[len(argv)-1] == "2>&1" {
			argv, ee.Stderr = argv[:len(argv)-1], e.Stdout
		} else if len(argv) > 0 && argv[len(argv)-1] == "2>/dev/null" {
			argv, ee.Stderr = argv[:len(argv)-1], io.Discard
		}
		status = n.command(ctx, argv, ee)
	}
	return status
}

// splitScript splits a script at newlines and semicolons outside quotes.
func splitScript(s string) []string {
	var out []string
	var quote byte
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == ';' || c == '\n':
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// glob expands absolute path words holding '*' against the node's tree,
// as sh does (a pattern that matches nothing stays as it is).
func (n *Node) glob(argv []string) []string {
	var out []string
	for _, a := range argv {
		if !strings.HasPrefix(a, "/") || !strings.Contains(a, "*") {
			out = append(out, a)
			continue
		}
		matches, _ := fs.Glob(n.FS(), strings.TrimPrefix(path.Clean(a), "/"))
		if len(matches) == 0 {
			out = append(out, a)
			continue
		}
		sort.Strings(matches)
		for _, m := range matches {
			out = append(out, "/"+m)
		}
	}
	return out
}

// command dispatches one argv.
func (n *Node) command(ctx context.Context, argv []string, e shellIO) int {
	if len(argv) == 0 {
		return 0
	}
	n.c.mu.Lock()
	defer n.c.mu.Unlock()
	n.c.settle()
	n.curPID = n.pid()
	return n.dispatch(ctx, argv, e)
}

// dispatch runs one argv with the node locked.
func (n *Node) dispatch(ctx context.Context, argv []string, e shellIO) int {
	switch filepath.Base(argv[0]) {
	case "env":
		// env VAR=value… CMD: only SVWAIT matters to the emulated programs.
		i := 1
		for ; i < len(argv) && strings.Contains(argv[i], "="); i++ {
			k, v, _ := strings.Cut(argv[i], "=")
			e.env[k] = v
		}
		if i == len(argv) {
			return notEmulated(argv, e)
		}
		return n.dispatch(ctx, argv[i:], e)
	case "echo":
		fmt.Fprintln(e.Stdout, strings.Join(argv[1:], " "))
		return 0
	case "umask":
		if len(argv) != 2 {
			return notEmulated(argv, e)
		}
		m, err := strconv.ParseUint(argv[1], 8, 32)
		if err != nil {
			return notEmulated(argv, e)
		}
		e.sess.umask = fs.FileMode(m) // for the rest of this session's script
		return 0
	case "printf":
		return n.printf(argv, e)
	case "true":
		return 0
	case "cat":
		return n.cat(argv, e)
	case "ps":
		return n.ps(argv, e)
	case "kill":
		return n.kill(argv, e)
	case "sv":
		return n.sv(ctx, argv, e)
	case "private-chef-ctl":
		return n.ctl(ctx, argv, e)
	case "cluster.sh":
		return n.clusterSh(ctx, argv, e)
	case "findmnt":
		if len(argv) > 2 && argv[len(argv)-2] == "--target" {
			return n.findmntTarget(argv, e)
		}
		return n.drbdCommand(ctx, argv, e)
	case "lvm", "lvs", "lvcreate", "lvextend":
		return n.lvmCommand(ctx, argv, e)
	case "drbdadm", "mount", "mountpoint", "ping", "umount":
		return n.drbdCommand(ctx, argv, e)
	case "stat":
		return n.stat(argv, e)
	case "df":
		return n.df(argv, e)
	case "find":
		return n.find(argv, e)
	case "initctl":
		return n.initctl(ctx, argv, e)
	case "test":
		return n.test(argv, e)
	case "dpkg", "rpm":
		return n.install(argv, e)
	case "uname":
		return n.uname(argv, e)
	case "date":
		return n.date(argv, e)
	case "tail":
		return n.tail(argv, e)
	case "ip":
		return n.ip(argv, e)
	case "chown", "chmod", "rm", "cp", "mkdir", "readlink", "ls", "sha256sum":
		return n.fileCommand(argv, e)
	}
	return notEmulated(argv, e)
}

func notEmulated(argv []string, e shellIO) int {
	fmt.Fprintf(e.Stderr, "clustertest: not emulated: %s\n", strings.Join(argv, " "))
	return 127
}

// detached is upgrade's detached run of a critical command (its detach
// script: the command in a session of its own, its output and status kept
// in DIR/ID.log and DIR/ID.rc, its pid in DIR/ID.pid). Emulated as the
// script behaves: the command runs to its end even when the session that
// started it is gone, and a second call while it runs waits for it instead
// of starting it again.
func (n *Node) detached(ctx context.Context, dir, id string, argv []string, e shellIO) int {
	base := dir + "/" + id
	if _, err := n.Lstat(base + ".pid"); err == nil {
		for {
			if _, err := n.Lstat(base + ".rc"); err == nil {
				return n.detachedResult(base, e)
			}
			select {
			case <-ctx.Done():
				return 255
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	n.Remove(base + ".rc")
	n.WriteFile(base+".pid", []byte("4243\n"), 0o600)
	n.files.WriteFile(base+".log", nil, 0o600) // the script's >"$0.log"
	out := &growingFile{n: n, name: base + ".log"}
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	rc := n.Run(context.WithoutCancel(ctx), strings.Join(q, " "), e.Stdin, out, out)
	n.wrote(base + ".log")
	n.WriteFile(base+".rc", fmt.Appendf(nil, "%d\n", rc), 0o600)
	n.Remove(base + ".pid")
	return n.detachedResult(base, e)
}

// growingFile is a detached command's log: as the real one's, it holds
// what the command wrote so far while it runs.
type growingFile struct {
	n    *Node
	name string
	mu   sync.Mutex
}

// Write appends p. It does not count against the volume's snapshots:
// their fill counts files written, and the whole log counts once, when
// the command ends.
func (f *growingFile) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w, err := f.n.files.OpenFile(f.name, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return 0, err
	}
	_, err = w.Write(p)
	return len(p), errors.Join(err, w.Close())
}

func (n *Node) detachedResult(base string, e shellIO) int {
	log, _ := n.ReadFile(base + ".log")
	e.Stdout.Write(log)
	b, _ := n.ReadFile(base + ".rc")
	rc, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 125
	}
	return rc
}

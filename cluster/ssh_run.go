package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// Run runs a command in its own session. A root command from a non-root
// login goes through sudo -n; when sudoers has "Defaults requiretty"
// (RHEL 6's default), sudo refuses without a terminal, so Run then runs
// that node's root commands under a pseudo-terminal (see runTTY) from
// then on.
func (n *SSH) Run(ctx context.Context, c Cmd) (Result, error) {
	if len(c.Argv) == 0 {
		return Result{}, fmt.Errorf("%s: empty command", n.Name())
	}
	sudo := c.Sudo && n.cfg.User != "root"
	if sudo && n.needTTY.Load() {
		return n.runTTY(ctx, c)
	}
	res, err := n.run(ctx, c)
	if err == nil && sudo && res.ExitCode != 0 && sudoWantsTTY(res.Stderr) {
		n.needTTY.Store(true)
		return n.runTTY(ctx, c)
	}
	if err != nil {
		return res, err
	}
	return finish(n.Name(), n.cfg.User, c, res)
}

// session opens a session, retrying once on a fresh connection: nothing
// ran yet, so that is safe.
func (n *SSH) session(ctx context.Context) (*sshConn, *ssh.Session, error) {
	conn, err := n.get(ctx)
	if err != nil {
		return nil, nil, err
	}
	sess, err := conn.client.NewSession()
	if err == nil {
		return conn, sess, nil
	}
	n.forget(conn)
	if conn, err = n.get(ctx); err != nil {
		return nil, nil, err
	}
	if sess, err = conn.client.NewSession(); err != nil {
		n.forget(conn)
		return nil, nil, fmt.Errorf("%s: open session: %w: %w", n.Name(), ErrConnectionLost, err)
	}
	return conn, sess, nil
}

// run runs c without a terminal: stdout and stderr apart, stdin as given.
func (n *SSH) run(ctx context.Context, c Cmd) (Result, error) {
	conn, sess, err := n.session(ctx)
	if err != nil {
		return Result{}, err
	}
	defer sess.Close()
	if c.Stdin != nil {
		sess.Stdin = bytes.NewReader(c.Stdin)
	}
	// The shell prints its PID, then execs the command with that PID:
	// sshd made it a process group leader, so on cancel the whole group
	// can be killed from a second session. SSH "signal" requests alone are
	// not enough: OpenSSH refuses them for root logins (no post-auth
	// privilege separation) before 9.8.
	line := "echo $$; exec " + ShellJoin(sudoArgv(c, n.cfg.User))
	return n.wait(ctx, conn, sess, c, line, false)
}

// wait starts line in sess and waits for it, or kills it when ctx ends.
func (n *SSH) wait(ctx context.Context, conn *sshConn, sess *ssh.Session, c Cmd, line string, tty bool) (Result, error) {
	var stdout, stderr syncBuffer
	sess.Stdout, sess.Stderr = &stdout, &stderr
	if c.Output != nil {
		sess.Stdout = io.MultiWriter(&stdout, &afterPIDLine{w: c.Output})
	}
	if err := sess.Start(line); err != nil {
		return Result{}, fmt.Errorf("%s: start %s: %w", n.Name(), c, err)
	}
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		sess.Signal(ssh.SIGKILL)
		n.killGroup(conn, pidLine(&stdout, done), c.Sudo, tty)
		sess.Close()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
		}
		out, _ := splitPID(stdout.Bytes())
		return Result{Stdout: out, Stderr: stderr.Bytes()}, fmt.Errorf("%s: %s: %w", n.Name(), c, ctx.Err())
	}
	out, ok := splitPID(stdout.Bytes())
	if !ok && err == nil {
		return Result{}, fmt.Errorf("%s: %s: the remote shell did not print its PID first (is the login shell POSIX?): %q", n.Name(), c, abbrev(string(stdout.Bytes())))
	}
	res := Result{Stdout: out, Stderr: stderr.Bytes()}
	var ee *ssh.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.ExitCode = ee.ExitStatus()
	default:
		// ExitMissingError or io.EOF: the channel closed without an exit
		// status, which is what a dropped connection looks like.
		n.forget(conn)
		return res, fmt.Errorf("%s: %s: %w (the command's outcome is unknown): %v", n.Name(), c, ErrConnectionLost, err)
	}
	return res, nil
}

// afterPIDLine passes on what comes after the PID line Run's wrapper
// prints first.
type afterPIDLine struct {
	w    io.Writer
	past bool
}

func (a *afterPIDLine) Write(p []byte) (int, error) {
	n := len(p)
	if !a.past {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			return n, nil
		}
		a.past, p = true, p[i+1:]
	}
	if len(p) > 0 {
		if _, err := a.w.Write(p); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// splitPID removes the PID line Run's wrapper prints first.
func splitPID(b []byte) ([]byte, bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return b, false
	}
	if _, err := strconv.Atoi(string(b[:i])); err != nil {
		return b, false
	}
	return b[i+1:], true
}

// killGroup kills a cancelled command's process group from a new session.
// Under a terminal sudo (with use_pty) runs the command in a session of
// its own, which the group kill would miss: there the group first gets
// SIGTERM, which sudo relays to the command, and SIGKILL once sudo is
// gone or a second has passed.
// pidLineWait bounds how long a cancel waits for the remote shell's PID
// line: the command may be running while the line is still on its way.
const pidLineWait = 5 * time.Second

// pidLine returns the session's output once its first line (the remote
// shell's PID) is in, or what there is when the session ends or
// pidLineWait passes.
func pidLine(stdout *syncBuffer, done chan error) []byte {
	deadline := time.After(pidLineWait)
	for {
		b := stdout.Bytes()
		if bytes.IndexByte(b, '\n') >= 0 {
			return b
		}
		select {
		case err := <-done:
			done <- err // the caller waits on it next (room for one)
			return stdout.Bytes()
		case <-deadline:
			return b
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (n *SSH) killGroup(conn *sshConn, stdout []byte, sudo, tty bool) {
	i := bytes.IndexByte(stdout, '\n')
	if i < 0 {
		return
	}
	pid, err := strconv.Atoi(string(stdout[:i]))
	if err != nil || pid <= 1 {
		return
	}
	sess, err := conn.client.NewSession()
	if err != nil {
		return
	}
	defer sess.Close()
	argv := []string{"kill", "-KILL", "--", "-" + strconv.Itoa(pid)}
	if tty {
		if err := sess.RequestPty("dumb", 24, 80, ttyModes); err != nil {
			return
		}
		argv = []string{"sh", "-c", `kill -TERM -- -$1; i=0; while kill -0 $1 2>/dev/null && [ $i -lt 10 ]; do sleep 0.1; i=$((i+1)); done; kill -KILL -- -$1 2>/dev/null; exit 0`, "sh", strconv.Itoa(pid)}
	}
	kill := ShellJoin(sudoArgv(Cmd{Argv: argv, Sudo: sudo}, n.cfg.User))
	done := make(chan struct{})
	go func() { sess.Run(kill); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
}

// syncBuffer is a bytes.Buffer safe to read while the session writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}

package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

func (n *SSH) Run(ctx context.Context, c Cmd) (Result, error) {
	if len(c.Argv) == 0 {
		return Result{}, fmt.Errorf("%s: empty command", n.Name())
	}
	conn, err := n.get(ctx)
	if err != nil {
		return Result{}, err
	}
	sess, err := conn.client.NewSession()
	if err != nil {
		// Nothing ran yet, so one retry on a fresh connection is safe.
		n.forget(conn)
		if conn, err = n.get(ctx); err != nil {
			return Result{}, err
		}
		if sess, err = conn.client.NewSession(); err != nil {
			n.forget(conn)
			return Result{}, fmt.Errorf("%s: open session: %w: %w", n.Name(), ErrConnectionLost, err)
		}
	}
	defer sess.Close()
	var stdout, stderr syncBuffer
	sess.Stdout, sess.Stderr = &stdout, &stderr
	if c.Stdin != nil {
		sess.Stdin = bytes.NewReader(c.Stdin)
	}
	// The shell prints its PID, then execs the command with that PID:
	// sshd made it a process group leader, so on cancel the whole group
	// can be killed from a second session. SSH "signal" requests alone are
	// not enough: OpenSSH refuses them for root logins (no post-auth
	// privilege separation) before 9.8.
	argv := sudoArgv(c, n.cfg.User)
	line := "echo $$; exec " + ShellJoin(argv)
	if err := sess.Start(line); err != nil {
		return Result{}, fmt.Errorf("%s: start %s: %w", n.Name(), c, err)
	}
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		sess.Signal(ssh.SIGKILL)
		n.killGroup(conn, stdout.Bytes(), c.Sudo)
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
	return finish(n.Name(), n.cfg.User, c, res)
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
func (n *SSH) killGroup(conn *sshConn, stdout []byte, sudo bool) {
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
	kill := ShellJoin(sudoArgv(Cmd{Argv: []string{"kill", "-KILL", "--", "-" + strconv.Itoa(pid)}, Sudo: sudo}, n.cfg.User))
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

package clustertest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// Exec is one command an SSHServer runs.
type Exec struct {
	User    string
	Command string // the command line as the client sent it
	Stdin   io.Reader
	Stdout  io.Writer
	Stderr  io.Writer
}

// ExecFunc runs a command and returns its exit status. ctx ends when the
// client sends a signal or the connection drops.
type ExecFunc func(ctx context.Context, e Exec) int

// SSHServer is a real SSH server on 127.0.0.1 for tests. Any user whose key
// is in AuthorizedKeys may log in; commands go to Exec (default: /bin/sh -c
// on this machine); the "sftp" subsystem serves Handlers (default: this
// machine's file system).
type SSHServer struct {
	Addr    string // host:port
	HostKey ssh.Signer

	exec     ExecFunc
	handlers func(user string) sftp.Handlers
	ln       net.Listener
	cfg      *ssh.ServerConfig

	mu     sync.Mutex
	conns  map[*ssh.ServerConn]bool
	closed bool
	wg     sync.WaitGroup
	execs  atomic.Int64
}

// Execs counts the exec requests (commands) served so far.
func (s *SSHServer) Execs() int64 { return s.execs.Load() }

// SSHServerConfig configures NewSSHServer.
type SSHServerConfig struct {
	AuthorizedKeys []ssh.PublicKey
	HostKey        ssh.Signer // generated when nil
	Exec           ExecFunc   // default ShellExec(nil)
	// SFTP returns the handlers for a user's SFTP session; nil serves this
	// machine's file system.
	SFTP func(user string) sftp.Handlers
}

// NewSSHServer starts a server on 127.0.0.1 on a free port.
func NewSSHServer(c SSHServerConfig) (*SSHServer, error) {
	if c.HostKey == nil {
		k, err := NewSigner()
		if err != nil {
			return nil, err
		}
		c.HostKey = k
	}
	if c.Exec == nil {
		c.Exec = ShellExec(nil)
	}
	s := &SSHServer{HostKey: c.HostKey, exec: c.Exec, handlers: c.SFTP, conns: map[*ssh.ServerConn]bool{}}
	s.cfg = &ssh.ServerConfig{
		PublicKeyCallback: func(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			for _, k := range c.AuthorizedKeys {
				if k.Type() == key.Type() && string(k.Marshal()) == string(key.Marshal()) {
					return nil, nil
				}
			}
			return nil, fmt.Errorf("unknown key for %s", meta.User())
		},
	}
	s.cfg.AddHostKey(c.HostKey)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.ln, s.Addr = ln, ln.Addr().String()
	s.wg.Add(1)
	go s.serve()
	return s, nil
}

// NewSigner makes a fresh ed25519 key.
func NewSigner() (ssh.Signer, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	return ssh.NewSignerFromKey(priv)
}

// Port is the server's TCP port.
func (s *SSHServer) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

func (s *SSHServer) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.handleConn(c)
		}()
	}
}

func (s *SSHServer) handleConn(nc net.Conn) {
	sc, chans, reqs, err := ssh.NewServerConn(nc, s.cfg)
	if err != nil {
		nc.Close()
		return
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		sc.Close()
		return
	}
	s.conns[sc] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, sc)
		s.mu.Unlock()
		sc.Close()
	}()
	go func() {
		for r := range reqs {
			// keepalive@openssh.com and friends: answer, as OpenSSH does.
			if r.WantReply {
				r.Reply(r.Type == "keepalive@openssh.com", nil)
			}
		}
	}()
	var wg sync.WaitGroup
	for nch := range chans {
		switch nch.ChannelType() {
		case "session":
			ch, creqs, err := nch.Accept()
			if err != nil {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.session(sc.User(), ch, creqs)
			}()
		case "direct-tcpip":
			wg.Add(1)
			go func() {
				defer wg.Done()
				forward(nch)
			}()
		default:
			nch.Reject(ssh.UnknownChannelType, "not supported")
		}
	}
	wg.Wait()
}

// forward serves a ProxyJump hop: a direct-tcpip channel to host:port.
func forward(nch ssh.NewChannel) {
	var m struct {
		Host     string
		Port     uint32
		OrigHost string
		OrigPort uint32
	}
	if err := ssh.Unmarshal(nch.ExtraData(), &m); err != nil {
		nch.Reject(ssh.ConnectionFailed, "bad request")
		return
	}
	c, err := net.Dial("tcp", net.JoinHostPort(m.Host, fmt.Sprint(m.Port)))
	if err != nil {
		nch.Reject(ssh.ConnectionFailed, err.Error())
		return
	}
	ch, reqs, err := nch.Accept()
	if err != nil {
		c.Close()
		return
	}
	go ssh.DiscardRequests(reqs)
	done := make(chan struct{}, 2)
	go func() { io.Copy(ch, c); ch.CloseWrite(); done <- struct{}{} }()
	go func() { io.Copy(c, ch); c.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
	<-done
	<-done
	ch.Close()
	c.Close()
}

func (s *SSHServer) session(user string, ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for r := range reqs {
		switch r.Type {
		case "exec":
			var p struct{ Command string }
			if err := ssh.Unmarshal(r.Payload, &p); err != nil {
				r.Reply(false, nil)
				return
			}
			r.Reply(true, nil)
			s.execs.Add(1)
			done := make(chan int, 1)
			stdout, stderr := newCoalescer(ch), newCoalescer(ch.Stderr())
			go func() {
				done <- s.exec(ctx, Exec{User: user, Command: p.Command, Stdin: ch, Stdout: stdout, Stderr: stderr})
			}()
			// Signals and a closed channel cancel the command.
			go func() {
				for r := range reqs {
					if r.Type == "signal" {
						cancel()
					}
					if r.WantReply {
						r.Reply(false, nil)
					}
				}
				cancel()
			}()
			status := <-done
			stdout.Close()
			stderr.Close()
			ch.CloseWrite()
			var b [4]byte
			binary.BigEndian.PutUint32(b[:], uint32(status))
			ch.SendRequest("exit-status", false, b[:])
			return
		case "subsystem":
			var p struct{ Name string }
			ssh.Unmarshal(r.Payload, &p)
			if p.Name != "sftp" {
				r.Reply(false, nil)
				continue
			}
			r.Reply(true, nil)
			go ssh.DiscardRequests(reqs)
			if s.handlers == nil {
				srv, err := sftp.NewServer(ch)
				if err == nil {
					srv.Serve()
					srv.Close()
				}
				return
			}
			srv := sftp.NewRequestServer(ch, s.handlers(user))
			srv.Serve()
			srv.Close()
			return
		case "env", "pty-req":
			r.Reply(r.Type == "env", nil)
		default:
			if r.WantReply {
				r.Reply(false, nil)
			}
		}
	}
}

// ShellExec runs commands with /bin/sh -c on this machine, in their own
// process group (killed as a whole on cancel), with env added to the
// server's environment.
func ShellExec(env []string) ExecFunc {
	return func(ctx context.Context, e Exec) int {
		cmd := exec.Command("/bin/sh", "-c", e.Command)
		cmd.Env = append(os.Environ(), env...)
		cmd.Stdout, cmd.Stderr = e.Stdout, e.Stderr
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return 255
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			fmt.Fprintln(e.Stderr, err)
			return 127
		}
		go func() { io.Copy(stdin, e.Stdin); stdin.Close() }()
		stop := context.AfterFunc(ctx, func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
		defer stop()
		err = cmd.Wait()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				return 128 + int(ws.Signal())
			}
			return ee.ExitCode()
		}
		if err != nil {
			return 255
		}
		return 0
	}
}

// DropConnections cuts every client connection, as a network failure would.
func (s *SSHServer) DropConnections() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.Close()
	}
}

// Close stops the server and cuts its connections.
func (s *SSHServer) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	err := s.ln.Close()
	s.DropConnections()
	s.wg.Wait()
	return err
}

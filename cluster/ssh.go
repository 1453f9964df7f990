package cluster

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// Default SSH timings. The ssh package's own Timeout covers only the TCP
// connect; a server that accepts and then stalls would hang a handshake
// forever, so chefha bounds the handshake separately.
const (
	DefaultDialTimeout       = 15 * time.Second
	DefaultHandshakeTimeout  = 20 * time.Second
	DefaultKeepAliveInterval = 15 * time.Second
	// DefaultKeepAliveMax unanswered keepalives drop the connection, as
	// OpenSSH's ServerAliveCountMax.
	DefaultKeepAliveMax = 3
)

// HostKeyPolicy says what to do with a host that is not in known_hosts.
type HostKeyPolicy int

const (
	// HostKeyStrict refuses unknown hosts (OpenSSH's StrictHostKeyChecking yes).
	HostKeyStrict HostKeyPolicy = iota
	// HostKeyAcceptNew records unknown hosts in the first known_hosts file
	// and refuses changed keys (StrictHostKeyChecking accept-new).
	HostKeyAcceptNew
)

// SSHConfig says how to reach one node. LoadSSHConfig fills one from
// ~/.ssh/config.
type SSHConfig struct {
	Name string // the node's name; defaults to Host
	Host string // address to dial
	Port int    // default 22
	User string // default: the local user

	// Auth: the agent (AgentSocket, or $SSH_AUTH_SOCK when empty), then
	// Signers, then IdentityFiles. Encrypted key files need Passphrase.
	// User certificates are offered before plain keys, as OpenSSH does:
	// the agent's, then CertificateFiles and the <IdentityFile>-cert.pub
	// beside each identity file, each with the key it certifies (from the
	// files, Signers or the agent).
	NoAgent          bool
	AgentSocket      string
	Signers          []ssh.Signer
	IdentityFiles    []string
	CertificateFiles []string
	Passphrase       func(file string) ([]byte, error)

	// Host keys: checked against KnownHostsFiles (default
	// ~/.ssh/known_hosts) under HostKeyPolicy, as OpenSSH checks them:
	// host patterns with *, ? and !, [host]:port and hashed (|1|) names;
	// @cert-authority lines vouch for host certificates, @revoked lines
	// refuse a key or the CA that signed a certificate.
	KnownHostsFiles []string
	HostKeyPolicy   HostKeyPolicy
	// InsecureIgnoreHostKey accepts any host key. It exists for throwaway
	// labs; never set it for a production cluster.
	InsecureIgnoreHostKey bool

	// ProxyJump are bastion hops, dialled in order: the node is reached
	// through the last one.
	ProxyJump []SSHConfig

	DialTimeout       time.Duration
	HandshakeTimeout  time.Duration
	KeepAliveInterval time.Duration // negative disables keepalives
	KeepAliveMax      int
}

func (c SSHConfig) addr() string {
	port := c.Port
	if port == 0 {
		port = 22
	}
	return net.JoinHostPort(c.Host, strconv.Itoa(port))
}

func (c SSHConfig) name() string {
	if c.Name != "" {
		return c.Name
	}
	return c.Host
}

func (c SSHConfig) withDefaults() SSHConfig {
	if c.User == "" {
		c.User = localUser()
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if c.KeepAliveInterval == 0 {
		c.KeepAliveInterval = DefaultKeepAliveInterval
	}
	if c.KeepAliveMax == 0 {
		c.KeepAliveMax = DefaultKeepAliveMax
	}
	return c
}

// SSH is a node reached over SSH: commands in sessions, files over SFTP,
// one connection reused by every call and redialled after it drops.
type SSH struct {
	cfg  SSHConfig
	auth *authSet
	hk   ssh.HostKeyCallback

	mu   sync.Mutex
	conn *sshConn
}

type sshConn struct {
	client *ssh.Client
	jumps  []*ssh.Client
	dead   chan struct{}

	sftpOnce sync.Once
	sftp     *sftp.Client
	sftpErr  error
}

func (c *sshConn) alive() bool {
	select {
	case <-c.dead:
		return false
	default:
		return true
	}
}

func (c *sshConn) close() {
	if c.sftp != nil {
		c.sftp.Close()
	}
	c.client.Close()
	for i := len(c.jumps) - 1; i >= 0; i-- {
		c.jumps[i].Close()
	}
}

// DialSSH connects to a node now, so that a wrong address, key or host key
// shows before any work starts.
func DialSSH(ctx context.Context, cfg SSHConfig) (*SSH, error) {
	n, err := NewSSH(cfg)
	if err != nil {
		return nil, err
	}
	if _, err := n.get(ctx); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

// NewSSH prepares a node without connecting; the first call dials.
func NewSSH(cfg SSHConfig) (*SSH, error) {
	cfg = cfg.withDefaults()
	if cfg.Host == "" {
		return nil, errors.New("ssh: no host given")
	}
	auth, err := newAuthSet(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.name(), err)
	}
	hk, err := hostKeyCallback(cfg)
	if err != nil {
		auth.close()
		return nil, fmt.Errorf("%s: %w", cfg.name(), err)
	}
	return &SSH{cfg: cfg, auth: auth, hk: hk}, nil
}

func (n *SSH) Name() string { return n.cfg.name() }

// User is the login user.
func (n *SSH) User() string { return n.cfg.User }

func (n *SSH) get(ctx context.Context) (*sshConn, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.conn != nil && n.conn.alive() {
		return n.conn, nil
	}
	if n.conn != nil {
		n.conn.close()
		n.conn = nil
	}
	c, err := n.dial(ctx)
	if err != nil {
		return nil, err
	}
	n.conn = c
	return c, nil
}

func (n *SSH) dial(ctx context.Context) (*sshConn, error) {
	c := &sshConn{dead: make(chan struct{})}
	var via *ssh.Client
	for _, hop := range n.cfg.ProxyJump {
		hopNode, err := NewSSH(hop)
		if err != nil {
			closeAll(c.jumps)
			return nil, fmt.Errorf("%s: bastion: %w", n.Name(), err)
		}
		cl, err := hopNode.connect(ctx, via)
		hopNode.auth.close() // the agent socket: the connection keeps what it needs
		if err != nil {
			closeAll(c.jumps)
			return nil, fmt.Errorf("%s: via bastion: %w", n.Name(), err)
		}
		c.jumps = append(c.jumps, cl)
		via = cl
	}
	cl, err := n.connect(ctx, via)
	if err != nil {
		closeAll(c.jumps)
		return nil, err
	}
	c.client = cl
	go func() {
		cl.Wait()
		close(c.dead)
	}()
	if n.cfg.KeepAliveInterval > 0 {
		go keepAlive(cl, c.dead, n.cfg.KeepAliveInterval, n.cfg.KeepAliveMax)
	}
	return c, nil
}

func closeAll(cs []*ssh.Client) {
	for i := len(cs) - 1; i >= 0; i-- {
		cs[i].Close()
	}
}

// connect dials this node's address (directly or through via) and does the
// SSH handshake within the dial and handshake deadlines.
func (n *SSH) connect(ctx context.Context, via *ssh.Client) (*ssh.Client, error) {
	cfg := n.cfg
	addr := cfg.addr()
	dctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	defer cancel()
	var conn net.Conn
	var err error
	if via == nil {
		var d net.Dialer
		conn, err = d.DialContext(dctx, "tcp", addr)
	} else {
		conn, err = via.DialContext(dctx, "tcp", addr)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: dial %s: %w", cfg.name(), addr, err)
	}
	algos, err := hostKeyAlgorithms(cfg, addr)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("%s: %w", cfg.name(), err)
	}
	clientCfg := &ssh.ClientConfig{
		User:              cfg.User,
		Auth:              n.auth.methods(),
		HostKeyCallback:   n.hk,
		HostKeyAlgorithms: algos,
	}
	// The handshake deadline, and cancellation of ctx while handshaking.
	deadline := time.Now().Add(cfg.HandshakeTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	sc, chans, reqs, err := ssh.NewClientConn(conn, addr, clientCfg)
	stop()
	if err != nil {
		conn.Close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s: ssh handshake with %s: %w", cfg.name(), addr, ctx.Err())
		}
		var hk *HostKeyError
		if errors.As(err, &hk) {
			return nil, err
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, fmt.Errorf("%s: ssh handshake with %s did not finish within %s: %w", cfg.name(), addr, cfg.HandshakeTimeout, err)
		}
		return nil, fmt.Errorf("%s: ssh handshake with %s as %s: %w", cfg.name(), addr, cfg.User, err)
	}
	conn.SetDeadline(time.Time{})
	return ssh.NewClient(sc, chans, reqs), nil
}

// keepAlive sends OpenSSH keepalives and drops the connection after max
// unanswered ones, so a dead peer turns into an error instead of a hang.
func keepAlive(cl *ssh.Client, dead <-chan struct{}, every time.Duration, max int) {
	t := time.NewTicker(every)
	defer t.Stop()
	missed := 0
	for {
		select {
		case <-dead:
			return
		case <-t.C:
		}
		reply := make(chan error, 1)
		go func() {
			_, _, err := cl.SendRequest("keepalive@openssh.com", true, nil)
			reply <- err
		}()
		select {
		case <-dead:
			return
		case err := <-reply:
			if err != nil {
				cl.Close()
				return
			}
			missed = 0
		case <-time.After(every):
			if missed++; missed >= max {
				cl.Close()
				return
			}
		}
	}
}

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

// forget drops a connection that failed, so the next call redials. A
// command whose session ended without an exit status is the sign: the
// transport may look alive for a moment longer, but it is not to be trusted.
func (n *SSH) forget(c *sshConn) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.conn == c {
		c.close()
		n.conn = nil
	}
}

func (n *SSH) sftpClient(ctx context.Context) (*sftp.Client, error) {
	c, err := n.get(ctx)
	if err != nil {
		return nil, err
	}
	c.sftpOnce.Do(func() {
		c.sftp, c.sftpErr = sftp.NewClient(c.client,
			sftp.UseConcurrentWrites(true), sftp.MaxConcurrentRequestsPerFile(64))
	})
	if c.sftpErr != nil {
		return nil, fmt.Errorf("%s: sftp: %w", n.Name(), c.sftpErr)
	}
	return c.sftp, nil
}

// withSFTP runs fn with the SFTP client, giving up when ctx ends: pkg/sftp
// calls take no context, so a stalled server is cut off by closing the
// connection.
func (n *SSH) withSFTP(ctx context.Context, fn func(*sftp.Client) error) error {
	cl, err := n.sftpClient(ctx)
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- fn(cl) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		n.mu.Lock()
		if n.conn != nil {
			n.conn.close()
			n.conn = nil
		}
		n.mu.Unlock()
		<-done
		return fmt.Errorf("%w (connection closed to stop the transfer)", ctx.Err())
	}
}

func (n *SSH) ReadFile(ctx context.Context, name string) ([]byte, error) {
	var out []byte
	err := n.withSFTP(ctx, func(cl *sftp.Client) error {
		f, err := cl.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		var b bytes.Buffer
		_, err = f.WriteTo(&b)
		out = b.Bytes()
		return err
	})
	if errors.Is(err, fs.ErrPermission) && n.cfg.User != "root" {
		res, rerr := n.Run(ctx, Cmd{Argv: []string{"cat", "--", name}, Sudo: true})
		if rerr == nil {
			return res.Stdout, nil
		}
	}
	return out, n.fileErr("read", name, err)
}

func (n *SSH) WriteFile(ctx context.Context, name string, data []byte, perm fs.FileMode) error {
	tmp, err := n.writeFrom(ctx, name, bytes.NewReader(data), perm)
	if errors.Is(err, fs.ErrPermission) && n.cfg.User != "root" {
		// The login user may not write there; root may, through sudo.
		script := `umask 077 && cat > "$1" && chmod "$2" "$1" && mv -f "$1" "$3"`
		_, serr := n.Run(ctx, Cmd{Argv: []string{"sh", "-c", script, "sh", tmp, strconv.FormatUint(uint64(perm.Perm()), 8), name}, Stdin: data, Sudo: true})
		if serr == nil {
			return nil
		}
		return fmt.Errorf("%s: write %s: %w (and through sudo: %v)", n.Name(), name, err, serr)
	}
	return n.fileErr("write", name, err)
}

// WriteFileFrom is WriteFile for data too large to hold in memory (a
// package file): it streams r into a temporary file beside name and
// renames it over name.
func (n *SSH) WriteFileFrom(ctx context.Context, name string, r io.Reader, perm fs.FileMode) error {
	_, err := n.writeFrom(ctx, name, r, perm)
	if errors.Is(err, fs.ErrPermission) && n.cfg.User != "root" {
		err = fmt.Errorf("%w (%s may not write there; choose a directory it owns)", err, n.cfg.User)
	}
	return n.fileErr("write", name, err)
}

// writeFrom streams r to a temporary file over SFTP (writes overlap:
// UseConcurrentWrites) and renames it over name; it returns the temporary
// name it used.
func (n *SSH) writeFrom(ctx context.Context, name string, r io.Reader, perm fs.FileMode) (string, error) {
	tmp := path.Join(path.Dir(name), "."+path.Base(name)+".chefha-"+strconv.FormatInt(time.Now().UnixNano(), 36))
	return tmp, n.withSFTP(ctx, func(cl *sftp.Client) error {
		f, err := cl.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
		if err != nil {
			return err
		}
		_, err = f.ReadFrom(r)
		if err == nil {
			err = f.Chmod(perm)
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = cl.PosixRename(tmp, name)
		}
		if err != nil {
			cl.Remove(tmp)
		}
		return err
	})
}

func (n *SSH) Stat(ctx context.Context, name string) (FileInfo, error) {
	var fi FileInfo
	err := n.withSFTP(ctx, func(cl *sftp.Client) error {
		st, err := cl.Lstat(name)
		if err != nil {
			return err
		}
		fi = sftpInfo(name, st)
		if st.Mode()&fs.ModeSymlink != 0 {
			fi.Target, _ = cl.ReadLink(name)
		}
		return nil
	})
	return fi, n.fileErr("stat", name, err)
}

func (n *SSH) ReadDir(ctx context.Context, name string) ([]FileInfo, error) {
	var out []FileInfo
	err := n.withSFTP(ctx, func(cl *sftp.Client) error {
		ents, err := cl.ReadDir(name)
		if err != nil {
			return err
		}
		for _, st := range ents {
			p := path.Join(name, st.Name())
			fi := sftpInfo(p, st)
			if st.Mode()&fs.ModeSymlink != 0 {
				fi.Target, _ = cl.ReadLink(p)
			}
			out = append(out, fi)
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, n.fileErr("list", name, err)
}

func sftpInfo(p string, st fs.FileInfo) FileInfo {
	fi := FileInfo{Path: p, Mode: st.Mode(), Size: st.Size(), ModTime: st.ModTime(), UID: -1, GID: -1}
	if fs, ok := st.Sys().(*sftp.FileStat); ok {
		fi.UID, fi.GID = int(fs.UID), int(fs.GID)
	}
	return fi
}

func (n *SSH) fileErr(op, name string, err error) error {
	if err == nil {
		return nil
	}
	var se *sftp.StatusError
	if errors.As(err, &se) && se.FxCode() == sftp.ErrSSHFxNoSuchFile {
		err = fmt.Errorf("%w: %w", fs.ErrNotExist, err)
	}
	if errors.Is(err, io.EOF) {
		err = fmt.Errorf("%w: %w", ErrConnectionLost, err)
	}
	return fmt.Errorf("%s: %s %s: %w", n.Name(), op, name, err)
}

// Close ends the connection (and the bastion hops').
func (n *SSH) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.conn != nil {
		n.conn.close()
		n.conn = nil
	}
	n.auth.close()
	return nil
}

// Mkdir makes a directory, or sets the mode of one that exists.
func (n *SSH) Mkdir(ctx context.Context, name string, perm fs.FileMode) error {
	return n.fileErr("mkdir", name, n.withSFTP(ctx, func(cl *sftp.Client) error {
		err := cl.Mkdir(name)
		if err != nil {
			if st, serr := cl.Stat(name); serr != nil || !st.IsDir() {
				return err
			}
		}
		return cl.Chmod(name, perm)
	}))
}

// Rename renames, replacing newname if it is a file (posix-rename@openssh.com).
func (n *SSH) Rename(ctx context.Context, oldname, newname string) error {
	return n.fileErr("rename", oldname, n.withSFTP(ctx, func(cl *sftp.Client) error {
		return cl.PosixRename(oldname, newname)
	}))
}

func (n *SSH) RemoveAll(ctx context.Context, name string) error {
	return n.fileErr("remove", name, n.withSFTP(ctx, func(cl *sftp.Client) error {
		return cl.RemoveAll(name)
	}))
}

func (n *SSH) Chown(ctx context.Context, name string, uid, gid int) error {
	return n.fileErr("chown", name, n.withSFTP(ctx, func(cl *sftp.Client) error {
		return cl.Chown(name, uid, gid)
	}))
}

func (n *SSH) Symlink(ctx context.Context, target, name string) error {
	return n.fileErr("symlink", name, n.withSFTP(ctx, func(cl *sftp.Client) error {
		return cl.Symlink(target, name)
	}))
}

// SHA256 hashes files on the node with sha256sum, so a copy is verified
// without reading it back.
func (n *SSH) SHA256(ctx context.Context, paths []string) ([][sha256.Size]byte, error) {
	return remoteSHA256(ctx, n, false, paths)
}

package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
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
	// needTTY: sudo on this node wants a terminal (Defaults requiretty);
	// learnt from its refusal, kept across reconnects.
	needTTY atomic.Bool
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
			return nil, fmt.Errorf("%s: %w", cfg.name(), hk)
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

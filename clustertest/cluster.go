package clustertest

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/clustertest/internal/memfs"
	"github.com/chefha/chefha/internal/ecmodel"
	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Options shape a simulated cluster.
type Options struct {
	Version   string // a version of the model's release table; default "1.4.6"
	Frontends int    // default 2
	// Clock is the nodes' time: keepalived transitions finish when it has
	// moved on by their TransitionTime. Default time.Now; tests pass a
	// fake clock so a two-minute wait takes milliseconds.
	Clock func() time.Time
	// Sleep is how a sleeping node command (upgrade's two minutes,
	// cluster.sh's DRBD retries) moves time on; a test passing a
	// FakeClock's Now passes its Advance. Default: the nodes keep their
	// own offset from Clock, so time moves for them alone.
	Sleep func(time.Duration)
	// TransitionTime is how long cluster.sh's service starts and stops
	// take (default 3 s); keepalived elects a master after 3 s of silence.
	TransitionTime time.Duration
	Knobs          []Knob
	// PrivateChefRB is the cluster's private-chef.rb: its servers (names,
	// roles, the bootstrap, addresses, the VIP) make the cluster, as many
	// front ends as it names (Frontends is then ignored); the nodes'
	// /etc/opscode/private-chef.rb unless their EtcOpscode has one.
	// Default: be1, be2 and Frontends front ends under chefha.test.
	PrivateChefRB []byte
	// EtcOpscode is every node's /etc/opscode, laid down before the
	// install's reconfigure (files with the modes the tree reports; see
	// NodeOptions.EtcOpscode for a node whose tree differs). Default:
	// private-chef.rb and two simulated keys.
	EtcOpscode fs.FS
	// Master is the back end keepalived makes master (default the
	// bootstrap).
	Master string
	// Nodes shape single nodes, by name: versions, migration level,
	// runit state (see NodeOptions). They are planted before Knobs.
	Nodes map[string]NodeOptions
	// LVM is each back end's volume group: the volume under DRBD, which
	// the upgrade's backup snapshots (default: LVM's defaults).
	LVM *LVM
	// Dir is where the cluster's client files go (known_hosts, in a new
	// 0700 directory that Close removes); the nodes' file trees are in
	// memory. Default: os.TempDir.
	Dir string
}

// Cluster is a simulated HA Enterprise Chef cluster: two back ends and N
// front ends, each an emulated node behind its own real SSH server.
type Cluster struct {
	Topology   cluster.Topology
	Nodes      map[string]*Node
	Servers    map[string]*SSHServer
	KnownHosts string
	dir        string
	key        ssh.Signer
	priv       ed25519.PrivateKey

	mu             sync.Mutex // the whole cluster's state: back ends move as a pair
	clock          func() time.Time
	sleepFn        func(time.Duration)
	offset         time.Duration
	at             time.Time    // while settle runs an event: its time
	seen           atomic.Int64 // now's last answer (UnixNano), for fileTime
	transitionTime time.Duration
	releases       map[string]ecmodel.Release // the model's table, built once
	list           []*Node
	boot, sec      *Node
	drbd           *drbd
}

// New starts a cluster. Close it when done.
//
//	c, err := clustertest.New(clustertest.Options{Version: "1.4.6", Knobs: []clustertest.Knob{clustertest.OC11297()}})
//	if err != nil { ... }
//	defer c.Close()
//	cl, err := c.Dial(ctx)        // a *cluster.Cluster over real SSH
//	if err != nil { ... }
//	defer cl.Close()
//	report, err := upgrade.Preflight(ctx, cl, upgrade.Options{})
func New(o Options) (*Cluster, error) {
	if o.Version == "" {
		o.Version = "1.4.6"
	}
	if o.Frontends == 0 {
		o.Frontends = 2
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	key, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(o.Dir, "chefha-clustertest-")
	if err != nil {
		return nil, err
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.TransitionTime <= 0 {
		o.TransitionTime = 3 * time.Second
	}
	c := &Cluster{Nodes: map[string]*Node{}, Servers: map[string]*SSHServer{}, dir: dir, key: key, priv: priv,
		KnownHosts: filepath.Join(dir, "known_hosts"), clock: o.Clock, sleepFn: o.Sleep, transitionTime: o.TransitionTime,
		releases: ecmodel.Releases()}
	c.seen.Store(o.Clock().UnixNano())
	// Not a named result: `return nil, err` would set it to nil before
	// this runs, and Close on nil panics.
	started := false
	defer func() {
		if !started {
			c.Close()
		}
	}()
	rb, top, err := o.topology()
	if err != nil {
		return nil, err
	}
	c.Topology = top
	if _, ok := ecmodel.Releases()[o.Version]; !ok {
		return nil, fmt.Errorf("clustertest: no release %q in the model", o.Version)
	}
	for _, s := range top.Servers {
		if _, _, err := o.releases(s.Name); err != nil {
			return nil, err
		}
	}
	var kh strings.Builder
	for _, s := range c.Topology.Servers {
		n := &Node{c: c, Name: s.Name, files: memfs.New(c.fileTime), owners: map[string]string{}, svcs: map[string]*service{},
			nextPID: 1000, fault: &fault{}, clusterIP: s.ClusterIPAddress}
		if c.Topology.BackendVIP != nil {
			n.VIP = c.Topology.BackendVIP.IPAddress
		}
		srv, err := NewSSHServer(SSHServerConfig{AuthorizedKeys: []ssh.PublicKey{key.PublicKey()},
			Exec: c.nodeExec(n), SFTP: func(string) sftp.Handlers { return n.sftpHandlers() }})
		if err != nil {
			return nil, err
		}
		c.Nodes[s.Name], c.Servers[s.Name] = n, srv
		c.list = append(c.list, n)
		kh.WriteString(knownhosts.Line([]string{knownhosts.Normalize(srv.Addr)}, srv.HostKey.PublicKey()) + "\n")
	}
	bs, _ := c.Topology.Bootstrap()
	ss, _ := c.Topology.Secondary()
	c.boot, c.sec = c.Nodes[bs.Name], c.Nodes[ss.Name]
	c.boot.peer, c.sec.peer = c.sec, c.boot
	c.drbd = newDRBD(c)
	if err := c.install(o, rb); err != nil {
		return nil, err
	}
	var vg LVM
	if o.LVM != nil {
		vg = *o.LVM
	}
	for _, n := range []*Node{c.boot, c.sec} {
		if n.vols, err = newVolumes(vg); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(c.KnownHosts, []byte(kh.String()), 0o600); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.list {
		if err := c.plantNode(n, o.Nodes[n.Name]); err != nil {
			return nil, err
		}
		c.settle()
	}
	for _, k := range o.Knobs {
		if err := k.Plant(c); err != nil {
			return nil, fmt.Errorf("clustertest: knob %s: %w", k.Name, err)
		}
		c.settle()
	}
	started = true
	return c, nil
}

func (c *Cluster) nodeExec(n *Node) ExecFunc {
	f := n.fault
	return func(ctx context.Context, e Exec) int {
		f.mu.Lock()
		delay := f.delay
		drop := false
		if f.dropAfter > 0 {
			f.dropAfter--
			drop = f.dropAfter == 0
		}
		f.mu.Unlock()
		if drop {
			c.Servers[n.Name].DropConnections()
			<-ctx.Done()
			return 255
		}
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-ctx.Done():
				return 255
			}
		}
		// Buffered: a real program's stdio is, and one SSH packet per
		// line would make the emulator, not chefha, what a benchmark measures.
		stdout, stderr := bufio.NewWriterSize(e.Stdout, 32<<10), bufio.NewWriter(e.Stderr)
		defer stderr.Flush()
		defer stdout.Flush()
		return n.Run(ctx, e.Command, e.Stdin, stdout, stderr)
	}
}

func privateChefRB(frontends int) string {
	var b strings.Builder
	b.WriteString(`topology "ha"
server "be1.chefha.test",
  :ipaddress => "192.168.4.1",
  :role => "backend",
  :bootstrap => true,
  :cluster_ipaddress => "10.1.2.10"
server "be2.chefha.test",
  :ipaddress => "192.168.4.6",
  :role => "backend",
  :cluster_ipaddress => "10.1.2.12"
backend_vip "be.chefha.test",
  :ipaddress => "192.168.4.7",
  :device => "eth0",
  :heartbeat_device => "eth1"
`)
	for i := 1; i <= frontends; i++ {
		fmt.Fprintf(&b, "server \"fe%d.chefha.test\",\n  :ipaddress => \"192.168.5.%d\",\n  :role => \"frontend\"\n", i, i)
	}
	b.WriteString("api_fqdn \"chef.chefha.test\"\n")
	return b.String()
}

// SSHConfig is how the cluster package reaches node name.
func (c *Cluster) SSHConfig(name string) (cluster.SSHConfig, error) {
	srv, ok := c.Servers[name]
	if !ok {
		return cluster.SSHConfig{}, fmt.Errorf("clustertest: no node %s", name)
	}
	return cluster.SSHConfig{Name: name, Host: "127.0.0.1", Port: srv.Port(), User: "root",
		NoAgent: true, Signers: []ssh.Signer{c.key}, KnownHostsFiles: []string{c.KnownHosts}}, nil
}

// WriteSSHConfig writes an OpenSSH client config for the cluster into dir,
// with the client key and known_hosts beside it, and returns its path: a
// separate process (or `ssh -F`) reaches the nodes by name with it, and
// cluster.LoadSSHConfig reads it.
func (c *Cluster) WriteSSHConfig(dir string) (string, error) {
	block, err := ssh.MarshalPrivateKey(c.priv, "clustertest")
	if err != nil {
		return "", err
	}
	key := filepath.Join(dir, "id_ed25519")
	if err := os.WriteFile(key, pem.EncodeToMemory(block), 0o600); err != nil {
		return "", err
	}
	kh, err := os.ReadFile(c.KnownHosts)
	if err != nil {
		return "", err
	}
	khPath := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(khPath, kh, 0o600); err != nil {
		return "", err
	}
	var b strings.Builder
	for _, s := range c.Topology.Servers {
		fmt.Fprintf(&b, "Host %s\n  HostName 127.0.0.1\n  Port %d\n  User root\n  IdentityFile %s\n  UserKnownHostsFile %s\n  IdentityAgent none\n\n",
			s.Name, c.Servers[s.Name].Port(), key, khPath)
	}
	conf := filepath.Join(dir, "config")
	return conf, os.WriteFile(conf, []byte(b.String()), 0o600)
}

// WriteNamed writes into dir what names the cluster to a tool, as an
// operator has it: the bootstrap's private-chef.rb, and the OpenSSH client
// config of WriteSSHConfig. It returns their paths.
func (c *Cluster) WriteNamed(dir string) (config, sshConfig string, err error) {
	if sshConfig, err = c.WriteSSHConfig(dir); err != nil {
		return "", "", err
	}
	rb, err := c.Bootstrap().ReadFile("/etc/opscode/private-chef.rb")
	if err != nil {
		return "", "", err
	}
	config = filepath.Join(dir, "private-chef.rb")
	return config, sshConfig, os.WriteFile(config, rb, 0o600)
}

// Dial connects a cluster.Cluster to every node over SSH.
func (c *Cluster) Dial(ctx context.Context) (*cluster.Cluster, error) {
	return cluster.Dial(ctx, c.Topology, func(s cluster.Server) (cluster.SSHConfig, error) { return c.SSHConfig(s.Name) })
}

// Node returns the simulated node called name (e.g. "be1.chefha.test").
func (c *Cluster) Node(name string) *Node { return c.Nodes[name] }

// Bootstrap and Secondary return the back ends.
func (c *Cluster) Bootstrap() *Node { return c.boot }

func (c *Cluster) Secondary() *Node { return c.sec }

// Close stops every server and removes the cluster's client files.
func (c *Cluster) Close() error {
	for _, s := range c.Servers {
		s.Close()
	}
	return os.RemoveAll(c.dir)
}

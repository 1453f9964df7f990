package lab

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/clustertest"
	"github.com/chefha/chefha/internal/ecmodel"
	"github.com/chefha/chefha/keepalived"
	"github.com/chefha/chefha/lab/internal/labnode"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Spec shapes a lab cluster.
type Spec struct {
	Version   string // a release of the node model (ecmodel); default 1.4.6
	Frontends int    // default 1
	// Subnet is the IPv4 network of the lab's bridge, its nodes, their
	// replication addresses and its VIP, e.g. 10.231.7.0/24 (a /28 holds a
	// lab of four nodes). When empty, Start picks a free /24 of
	// 10.231.0.0/16. Either way it must be one that no interface or route
	// on the host reaches and no other lab holds.
	Subnet netip.Prefix
	// Knobs are the scenario, the same values clustertest takes
	// (clustertest.OC11297(), clustertest.RunsvdirErrors(), …), planted
	// in order once the cluster is up, each the real way where the lab has
	// the mechanism (each knob's doc says how). A knob the lab cannot
	// plant fails Start with an error matching clustertest.ErrCannotPlant.
	Knobs []clustertest.Knob
	// NotifyScript, when set, is the back ends' keepalived notify script
	// (cluster.sh) instead of the model's, kept by every reconfigure: the
	// packaging's own, rendered from its template, drops in.
	NotifyScript string
	// UpgradeSleep is how long `private-chef-ctl upgrade`'s 11.1.7+
	// "sleep 120" lasts (default: the packaging's two minutes).
	UpgradeSleep time.Duration
	// Program is the nodes' program: a binary that imports this package
	// (lab/cmd/chefha-labnode is one), which the nodes run for every
	// command in its role. Default: the running program. A test binary
	// built with -race should name one built without it: the detector
	// makes each of the thousands of node commands start slower and use
	// more memory, and it has nothing of the library's to watch there.
	Program string
}

// Lab is a running lab cluster.
type Lab struct {
	Topology   cluster.Topology
	Dir        string // the lab's files: per-node trees, SSH config, keys
	SSHConfig  string // OpenSSH client config reaching every node by name
	KnownHosts string
	Subnet     netip.Prefix // the lab's network: nodes from its first address up
	VIP        string
	Nodes      []*Node
	id         string
	bridge     string
	claim      *claim
	closeOnce  sync.Once
	closeErr   error
}

func lookPath(p string) (string, error) {
	if path, err := exec.LookPath(p); err == nil {
		return path, nil
	}
	for _, d := range []string{"/usr/sbin/", "/sbin/"} {
		if _, err := os.Stat(d + p); err == nil {
			return d + p, nil
		}
	}
	return "", fmt.Errorf("%s not found", p)
}

func run(ctx context.Context, name string, args ...string) error {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// each runs f on every node at once and joins their errors.
func each(nodes []*Node, f func(i int, n *Node) error) error {
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f(i, n)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Start builds a lab cluster as a fresh HA install of spec.Version (every
// node's reconfigure run by the model, the bootstrap's first so that its
// keepalived wins the first election), waits until the bootstrap is
// keepalived master and the secondary backup with no transition left to
// run on either, and plants spec.Knobs. It
// waits for each of these as long as ctx allows (three minutes when ctx
// has no deadline): on a loaded machine the real programs are slow, not
// broken. On error everything made so far is removed.
func Start(ctx context.Context, spec Spec) (_ *Lab, err error) {
	if err := Check(); err != nil {
		return nil, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, startTimeout)
		defer cancel()
	}
	if spec.Version == "" {
		spec.Version = "1.4.6"
	}
	if spec.Frontends == 0 {
		spec.Frontends = 1
	}
	rel, ok := ecmodel.Releases()[spec.Version]
	if !ok {
		return nil, fmt.Errorf("lab: the node model has no release %q", spec.Version)
	}
	if err := hostPrep(ctx); err != nil {
		return nil, err
	}
	c, err := claimSubnet(ctx, spec.Subnet, 2+spec.Frontends)
	if err != nil {
		return nil, err
	}
	l := &Lab{Dir: labDir(c.ID), Subnet: c.Subnet, VIP: addr(c.Subnet, vipIndex(c.Subnet)).String(),
		id: c.ID, bridge: bridgeName(c.ID), claim: c}
	defer func() {
		if err != nil {
			l.Close()
		}
	}()
	exe := filepath.Join(l.Dir, "chefha-labnode")
	if err := placeExecutable(ctx, exe, spec.Program); err != nil {
		return nil, fmt.Errorf("lab: place this program for the nodes: %w", err)
	}
	if err := l.bridgeUp(ctx); err != nil {
		return nil, err
	}
	names := []string{"be1.lab.test", "be2.lab.test"}
	for i := 1; i <= spec.Frontends; i++ {
		names = append(names, fmt.Sprintf("fe%d.lab.test", i))
	}
	for i, name := range names {
		n := &Node{Name: name, Addr: addr(l.Subnet, i+1).String(), Backend: i < 2, Bootstrap: i == 0,
			Dir: filepath.Join(l.Dir, name), NetNS: netnsName(l.id, i), veth: vethName(l.id, i)}
		if n.Backend {
			n.ClusterAddr = addr(l.Subnet, clusterIndex(l.Subnet, i)).String()
		}
		l.Nodes = append(l.Nodes, n)
	}
	rb := l.topologyText()
	if l.Topology, err = cluster.ParseTopology(strings.NewReader(rb)); err != nil {
		return nil, err
	}
	if err := l.drbdPrep(); err != nil {
		return nil, err
	}
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	clientKey, _ := ssh.NewSignerFromKey(priv)
	block, _ := ssh.MarshalPrivateKey(priv, "chefha lab")
	keyFile := filepath.Join(l.Dir, "id_ed25519")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, err
	}
	hostKeys := make([]ssh.PublicKey, len(l.Nodes))
	err = each(l.Nodes, func(i int, n *Node) error {
		k, err := l.layoutNode(n, rel, spec, rb, exe, clientKey.PublicKey())
		if err != nil {
			return err
		}
		hostKeys[i] = k
		if err := l.network(ctx, n); err != nil {
			return err
		}
		return l.startNode(ctx, n)
	})
	if err != nil {
		return nil, err
	}
	if err := l.writeSSHConfig(keyFile, hostKeys); err != nil {
		return nil, err
	}
	if err := l.install(ctx); err != nil {
		return nil, err
	}
	for _, k := range spec.Knobs {
		if err := l.Plant(k); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// startTimeout is how long Start waits for a lab when its context has no
// deadline of its own. A lab is up in about 15 s on an idle machine.
const startTimeout = 3 * time.Minute

// install runs every node's first reconfigure, as a fresh install's
// operator does: the front ends and the bootstrap at once, then, once the
// bootstrap's keepalived is master (both start as BACKUP with nopreempt,
// and the first up would win), the secondary.
func (l *Lab) install(ctx context.Context) error {
	var first []*Node
	for _, n := range l.Nodes {
		if !n.Backend || n.Bootstrap {
			first = append(first, n)
		}
	}
	reconfigure := func(_ int, n *Node) error {
		out, err := n.Exec(ctx, ecmodel.CtlPath, "reconfigure")
		if err != nil {
			return fmt.Errorf("lab: %s: private-chef-ctl reconfigure: %v: %s", n.Name, err, out)
		}
		return nil
	}
	if err := each(first, reconfigure); err != nil {
		return err
	}
	// keepalived asks cluster.sh for master (which writes
	// requested_cluster_status first) once it is MASTER and sends adverts:
	// from then on the secondary's keepalived stays BACKUP.
	if err := l.waitStatus(ctx, l.Nodes[0], keepalived.RequestedPath, "master"); err != nil {
		return err
	}
	if err := reconfigure(1, l.Nodes[1]); err != nil {
		return err
	}
	if err := l.waitSettled(ctx, l.Nodes[0], keepalived.Master); err != nil {
		return err
	}
	return l.waitSettled(ctx, l.Nodes[1], keepalived.Backup)
}

// hostPrep makes the mount points, and the users and group the
// packaging's resources name, which the nodes see through the host's
// /etc/passwd and /etc/group.
func hostPrep(ctx context.Context) error {
	for _, p := range append(slices.Clone(labnode.Private), labnode.DRBDDir) {
		if err := os.MkdirAll(p, 0o755); err != nil {
			return err
		}
	}
	// /etc/opscode lives in each node's /etc overlay; one on the host
	// would make it a lower-layer directory that cannot be renamed.
	if _, err := os.Stat("/etc/opscode/private-chef.rb"); err == nil {
		return fmt.Errorf("%w: /etc/opscode/private-chef.rb exists: this machine is a Chef server, not a lab host", ErrUnsupported)
	}
	os.Remove("/etc/opscode")
	// opscode runs the services; 1.x's postgresql log directory is
	// opscode-pgsql's, nagios' group opscode-nagios's
	// (chef-boneyard/opscode-omnibus@1.4.6:files/private-chef-cookbooks/
	// private-chef/recipes/postgresql.rb, nagios.rb; the packaging
	// table's Service.Log).
	for _, a := range []struct {
		name  string
		group bool
	}{{"opscode", false}, {"opscode-pgsql", false}, {"opscode-nagios", true}} {
		if err := ensureAccount(ctx, a.name, a.group); err != nil {
			return err
		}
	}
	return nil
}

// ensureAccount makes a system user (with its group) or a system group
// unless the host has it.
func ensureAccount(ctx context.Context, name string, group bool) error {
	exists := func() bool {
		if group {
			return exec.CommandContext(ctx, "getent", "group", name).Run() == nil
		}
		return exec.CommandContext(ctx, "id", name).Run() == nil
	}
	if exists() {
		return nil
	}
	argv := []string{"useradd", "-r", "-M", "-s", "/usr/sbin/nologin", name}
	if group {
		argv = []string{"groupadd", "-r", name}
	}
	if err := run(ctx, argv[0], argv[1:]...); err != nil && !exists() {
		// Another lab starting at the same moment may have made it.
		return err
	}
	return nil
}

// waitStatus waits until a node's cluster status file (current or
// requested) says want, as long as ctx allows.
func (l *Lab) waitStatus(ctx context.Context, n *Node, file, want string) error {
	start := time.Now()
	for {
		b, _ := os.ReadFile(n.Root(file))
		if strings.TrimSpace(string(b)) == want {
			return nil
		}
		if ctx.Err() != nil {
			log, _ := os.ReadFile(n.Root(keepalived.ClusterLogPath))
			return fmt.Errorf("lab: %s's %s did not become %s in %s (is %q): %w; its cluster.log:\n%s", n.Name, filepath.Base(file), want,
				time.Since(start).Round(time.Millisecond), strings.TrimSpace(string(b)), ctx.Err(), log)
		}
		sleep(ctx, 50*time.Millisecond)
	}
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// Node returns the lab node called name.
func (l *Lab) Node(name string) *Node {
	for _, n := range l.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// Dial connects a cluster.Cluster to the lab over SSH.
func (l *Lab) Dial(ctx context.Context) (*cluster.Cluster, error) {
	return cluster.Dial(ctx, l.Topology, cluster.ServerConfigs(l.SSHConfig, false))
}

// Close stops every node and removes the namespaces, links, files and the
// lab's claim on its subnet. It returns once the nodes' processes are gone:
// every node is told at once, and one that has not gone within a few
// seconds is killed.
func (l *Lab) Close() error {
	l.closeOnce.Do(func() { l.closeErr = l.close() })
	return l.closeErr
}

func (l *Lab) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	each(l.Nodes, func(_ int, n *Node) error {
		n.stop()
		killNetNS(ctx, n.NetNS)
		return nil
	})
	if l.claim == nil {
		return nil // not a started lab
	}
	deleteLink(ctx, l.bridge)
	err := removeLabDir(l.Dir)
	l.claim.release()
	return err
}

func (l *Lab) writeSSHConfig(keyFile string, hostKeys []ssh.PublicKey) error {
	l.KnownHosts = filepath.Join(l.Dir, "known_hosts")
	l.SSHConfig = filepath.Join(l.Dir, "ssh_config")
	var kh, conf strings.Builder
	for i, n := range l.Nodes {
		kh.WriteString(knownhosts.Line([]string{knownhosts.Normalize(n.Addr + ":22")}, hostKeys[i]) + "\n")
		fmt.Fprintf(&conf, "Host %s\n  HostName %s\n  User root\n  IdentityFile %s\n  UserKnownHostsFile %s\n  IdentityAgent none\n\n", n.Name, n.Addr, keyFile, l.KnownHosts)
	}
	if err := os.WriteFile(l.KnownHosts, []byte(kh.String()), 0o600); err != nil {
		return err
	}
	return os.WriteFile(l.SSHConfig, []byte(conf.String()), 0o600)
}

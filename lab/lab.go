package lab

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/clustertest/ecnode"
	"github.com/chefha/chefha/keepalived"
	"github.com/chefha/chefha/lab/internal/svdir"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Spec shapes a lab cluster.
type Spec struct {
	Version   string // a key of ecnode.Releases; default 1.4.6
	Frontends int    // default 1
	// MissingLogDir removes the bootstrap's /var/log/opscode/opscode-erchef
	// before its services start, so svlogd fails and runsvdir's argv fills
	// with the real errors.
	MissingLogDir bool
	// TwoRunsvdirs starts private-chef-runsvdir beside the bootstrap's
	// opscode-runsvdir: both supervise one service dir, as the runbook
	// warns happens mid-upgrade.
	TwoRunsvdirs bool
	// StaleLink leaves a service link to a removed service's directory on
	// the bootstrap.
	StaleLink bool
	// LogDirMode700 makes the bootstrap's /var/log/opscode mode 700.
	LogDirMode700 bool
	// Bugs are known issues (e.g. "OC-11657") the nodes reproduce.
	Bugs []string
}

// Lab is a running lab cluster.
type Lab struct {
	Topology   cluster.Topology
	Dir        string // the lab's files: per-node trees, SSH config, keys
	SSHConfig  string // OpenSSH client config reaching every node by name
	KnownHosts string
	VIP        string
	Nodes      []*Node
	id         string
	bridge     string
}

// Node is one lab node.
type Node struct {
	Name      string
	Addr      string
	Backend   bool
	Bootstrap bool
	Dir       string // node dir: root/ holds what is bind-mounted over the shared paths
	NetNS     string
	veth      string
	init      *exec.Cmd
}

// Root maps a path inside the node to the host file that backs it (for the
// bind-mounted trees).
func (n *Node) Root(p string) string { return filepath.Join(n.Dir, "root", p) }

// Tools the lab runs, with the Debian package of each.
var tools = [][2]string{{"ip", "iproute2"}, {"unshare", "util-linux"}, {"sshd", "openssh-server"},
	{"runsvdir", "runit"}, {"sv", "runit"}, {"svlogd", "runit"}, {"keepalived", "keepalived"}, {"go", "golang (the Go toolchain builds chefha-labnode)"}}

// ErrUnsupported is returned (wrapped) when the machine cannot run a lab.
var ErrUnsupported = errors.New("lab unsupported here")

// Check says whether a lab can run here, and if not what is missing.
func Check() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: needs root (network and mount namespaces)", ErrUnsupported)
	}
	var missing []string
	for _, t := range tools {
		if _, err := lookPath(t[0]); err != nil {
			missing = append(missing, t[0]+" ("+t[1]+")")
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: missing %s", ErrUnsupported, strings.Join(missing, ", "))
	}
	return nil
}

func lookPath(p string) (string, error) {
	if path, err := exec.LookPath(p); err == nil {
		return path, nil
	}
	for _, d := range []string{"/usr/sbin/", "/sbin/", "/usr/local/go/bin/"} {
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

// Start builds a lab cluster and waits until every node answers over SSH
// and the bootstrap is keepalived master. On error everything made so far
// is removed.
func Start(ctx context.Context, spec Spec) (_ *Lab, err error) {
	if err := Check(); err != nil {
		return nil, err
	}
	if spec.Version == "" {
		spec.Version = "1.4.6"
	}
	if spec.Frontends == 0 {
		spec.Frontends = 1
	}
	rel, ok := ecnode.Releases()[spec.Version]
	if !ok {
		return nil, fmt.Errorf("lab: no release %q", spec.Version)
	}
	CleanLeftovers()
	if err := hostPrep(ctx); err != nil {
		return nil, err
	}
	// Not under /tmp: each node gets a private /tmp over it. The PID in
	// every name lets a later Start clean up after a killed run.
	id := strconv.Itoa(os.Getpid())
	dir, err := os.MkdirTemp("/var/tmp", "chefha-lab-"+id+"-")
	if err != nil {
		return nil, err
	}
	l := &Lab{Dir: dir, id: id, bridge: "chlb" + id, VIP: "10.231.0.100"}
	defer func() {
		if err != nil {
			l.Close()
		}
	}()
	bin := filepath.Join(dir, "chefha-labnode")
	if err := buildLabnode(ctx, bin); err != nil {
		return nil, err
	}
	// The bridge joins the nodes and the host (10.231.0.254).
	if err := run(ctx, "ip", "link", "add", l.bridge, "type", "bridge"); err != nil {
		return nil, err
	}
	for _, args := range [][]string{{"addr", "add", "10.231.0.254/24", "dev", l.bridge}, {"link", "set", l.bridge, "up"}} {
		if err := run(ctx, "ip", args...); err != nil {
			return nil, err
		}
	}
	names := []string{"be1.lab.test", "be2.lab.test"}
	for i := 1; i <= spec.Frontends; i++ {
		names = append(names, fmt.Sprintf("fe%d.lab.test", i))
	}
	var rb strings.Builder
	rb.WriteString("topology \"ha\"\n")
	for i, name := range names {
		n := &Node{Name: name, Addr: fmt.Sprintf("10.231.0.%d", i+1), Backend: i < 2, Bootstrap: i == 0,
			Dir: filepath.Join(dir, name), NetNS: fmt.Sprintf("chl-%s-%d", id, i), veth: fmt.Sprintf("chlv%sx%d", id, i)}
		l.Nodes = append(l.Nodes, n)
		role := "frontend"
		if n.Backend {
			role = "backend"
		}
		fmt.Fprintf(&rb, "server %q,\n  :ipaddress => %q,\n  :role => %q", name, n.Addr, role)
		if n.Bootstrap {
			rb.WriteString(",\n  :bootstrap => true")
		}
		if n.Backend {
			fmt.Fprintf(&rb, ",\n  :cluster_ipaddress => %q", n.Addr)
		}
		rb.WriteString("\n")
		if i == 1 {
			fmt.Fprintf(&rb, "backend_vip \"be.lab.test\",\n  :ipaddress => %q,\n  :device => \"eth0\"\n", l.VIP)
		}
	}
	rb.WriteString("api_fqdn \"chef.lab.test\"\n")
	l.Topology, err = cluster.ParseTopology(strings.NewReader(rb.String()))
	if err != nil {
		return nil, err
	}
	// Client key, known_hosts, SSH config.
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	clientKey, _ := ssh.NewSignerFromKey(priv)
	block, _ := ssh.MarshalPrivateKey(priv, "chefha lab")
	keyFile := filepath.Join(dir, "id_ed25519")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, err
	}
	l.KnownHosts = filepath.Join(dir, "known_hosts")
	var kh, conf strings.Builder
	for _, n := range l.Nodes {
		hostPub, err := l.layoutNode(n, rel, spec, rb.String(), bin, clientKey.PublicKey())
		if err != nil {
			return nil, err
		}
		kh.WriteString(knownhosts.Line([]string{knownhosts.Normalize(n.Addr + ":22")}, hostPub) + "\n")
		fmt.Fprintf(&conf, "Host %s\n  HostName %s\n  User root\n  IdentityFile %s\n  UserKnownHostsFile %s\n  IdentityAgent none\n\n", n.Name, n.Addr, keyFile, l.KnownHosts)
		if err := l.network(ctx, n); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(l.KnownHosts, []byte(kh.String()), 0o600); err != nil {
		return nil, err
	}
	l.SSHConfig = filepath.Join(dir, "ssh_config")
	if err := os.WriteFile(l.SSHConfig, []byte(conf.String()), 0o600); err != nil {
		return nil, err
	}
	// The bootstrap first, so that it becomes master; then the rest.
	for i, n := range l.Nodes {
		if err := l.startNode(ctx, n); err != nil {
			return nil, err
		}
		if i == 0 {
			if err := l.waitStatus(ctx, n, "master", 30*time.Second); err != nil {
				return nil, err
			}
			if spec.TwoRunsvdirs {
				if out, err := n.Exec(ctx, "/usr/local/bin/initctl", "start", "private-chef-runsvdir"); err != nil {
					return nil, fmt.Errorf("lab: second runsvdir on %s: %v: %s", n.Name, err, out)
				}
			}
		}
	}
	return l, nil
}

// hostPrep makes the mount points and the opscode user the nodes need.
func hostPrep(ctx context.Context) error {
	for _, p := range []string{"/opt/opscode", "/var/opt/opscode", "/var/log/opscode"} {
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
	if err := exec.CommandContext(ctx, "id", "opscode").Run(); err != nil {
		if err := run(ctx, "useradd", "-r", "-M", "-s", "/usr/sbin/nologin", "opscode"); err != nil {
			return err
		}
	}
	return nil
}

// buildLabnode compiles chefha-labnode for the nodes.
func buildLabnode(ctx context.Context, out string) error {
	goBin, err := lookPath("go")
	if err != nil {
		return err
	}
	modDir, err := exec.CommandContext(ctx, goBin, "list", "-m", "-f", "{{.Dir}}", "github.com/chefha/chefha").Output()
	if err != nil {
		return fmt.Errorf("lab: find the chefha module (run from inside it): %w", err)
	}
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", out, "./lab/cmd/chefha-labnode")
	cmd.Dir = strings.TrimSpace(string(modDir))
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("lab: build chefha-labnode: %v: %s", err, b)
	}
	return nil
}

func (l *Lab) network(ctx context.Context, n *Node) error {
	steps := [][]string{
		{"netns", "add", n.NetNS},
		{"link", "add", n.veth, "type", "veth", "peer", "name", "eth0", "netns", n.NetNS},
		{"link", "set", n.veth, "master", l.bridge},
		{"link", "set", n.veth, "up"},
		{"-n", n.NetNS, "link", "set", "lo", "up"},
		{"-n", n.NetNS, "addr", "add", n.Addr + "/24", "dev", "eth0"},
		{"-n", n.NetNS, "link", "set", "eth0", "up"},
	}
	for _, s := range steps {
		if err := run(ctx, "ip", s...); err != nil {
			return err
		}
	}
	return nil
}

// layoutNode writes a node's tree as a node at rel would have it.
func (l *Lab) layoutNode(n *Node, rel ecnode.Release, spec Spec, rb, bin string, clientKey ssh.PublicKey) (ssh.PublicKey, error) {
	w := func(p, content string, mode os.FileMode) error {
		full := n.Root(p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		return os.WriteFile(full, []byte(content), mode)
	}
	role := "frontend"
	switch {
	case n.Bootstrap:
		role = "bootstrap"
	case n.Backend:
		role = "backend"
	}
	files := map[string]string{
		"/etc/opscode/private-chef.rb":              rb,
		"/opt/opscode/version-manifest.txt":         "private-chef " + rel.Version + "\n",
		"/var/opt/opscode/upgrades/migration-level": fmt.Sprintf(`{"major":%d,"minor":%d}`+"\n", rel.Level.Major, rel.Level.Minor),
		"/var/opt/opscode/chefha-lab/release":       rel.Version + "\n",
		"/var/opt/opscode/chefha-lab/role":          role + "\n",
		"/var/opt/opscode/chefha-lab/vip":           l.VIP + "\n",
		"/var/opt/opscode/chefha-lab/bugs":          strings.Join(spec.Bugs, "\n") + "\n",
	}
	for p, c := range files {
		if err := w(p, c, 0o644); err != nil {
			return nil, err
		}
	}
	if n.Bootstrap {
		if err := w("/var/opt/opscode/bootstrapped", "", 0o644); err != nil {
			return nil, err
		}
	}
	// The shims: private-chef-ctl, initctl, dpkg, rpm and the service
	// processes are chefha-labnode, first on sshd's PATH.
	b, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	if err := w("/usr/local/bin/chefha-labnode", string(b), 0o755); err != nil {
		return nil, err
	}
	for _, s := range []string{"private-chef-ctl", "initctl", "dpkg", "rpm", "ha-hook"} {
		if err := os.Symlink("chefha-labnode", n.Root("/usr/local/bin/"+s)); err != nil {
			return nil, err
		}
	}
	// Services, as reconfigure would write them.
	svc := append([]string(nil), rel.Services...)
	if n.Backend {
		svc = append(svc, "keepalived")
	}
	for _, s := range svc {
		down := n.Backend && !n.Bootstrap && s != "keepalived"
		noLogDir := spec.MissingLogDir && n.Bootstrap && s == "opscode-erchef"
		if err := svdir.Write(n.Root("/"), s, down, noLogDir); err != nil {
			return nil, err
		}
	}
	owner := rel.ServiceOwner
	if err := chownTree(n.Root("/var/log/opscode"), owner); err != nil {
		return nil, err
	}
	if n.Bootstrap && spec.StaleLink {
		if err := os.Symlink("/opt/opscode/sv/nagios-removed", n.Root("/opt/opscode/service/nagios-old")); err != nil {
			return nil, err
		}
	}
	if n.Bootstrap && spec.LogDirMode700 {
		if err := os.Chmod(n.Root("/var/log/opscode"), 0o700); err != nil {
			return nil, err
		}
	}
	if n.Backend {
		if err := l.keepalivedConfig(n, w); err != nil {
			return nil, err
		}
	}
	// sshd: its own host key and config, on the node's address.
	_, hostPriv, _ := ed25519.GenerateKey(rand.Reader)
	block, _ := ssh.MarshalPrivateKey(hostPriv, "")
	if err := os.WriteFile(filepath.Join(n.Dir, "host_key"), pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(n.Dir, "authorized_keys"), ssh.MarshalAuthorizedKey(clientKey), 0o600); err != nil {
		return nil, err
	}
	sshdConf := fmt.Sprintf("ListenAddress %s\nPort 22\nHostKey %s/host_key\nAuthorizedKeysFile %s/authorized_keys\nPidFile none\nStrictModes no\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\nSubsystem sftp internal-sftp\nMaxStartups 100\nMaxSessions 100\nLogLevel ERROR\n", n.Addr, n.Dir, n.Dir)
	if err := os.WriteFile(filepath.Join(n.Dir, "sshd_config"), []byte(sshdConf), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(n.Dir, "hostname"), []byte(n.Name+"\n"), 0o644); err != nil {
		return nil, err
	}
	pub, err := ssh.NewPublicKey(hostPriv.Public())
	return pub, err
}

func chownTree(root, owner string) error {
	out, err := exec.Command("chown", "-R", owner+":"+owner, root).CombinedOutput()
	if err != nil {
		return fmt.Errorf("chown %s: %v: %s", root, err, out)
	}
	return nil
}

// keepalivedConfig writes EC's shape of keepalived.conf (unicast, nopreempt,
// both nodes start as BACKUP) and cluster.sh from the keepalived package.
func (l *Lab) keepalivedConfig(n *Node, w func(string, string, os.FileMode) error) error {
	peer := l.Nodes[0].Addr
	prio := 90
	if n.Bootstrap {
		peer, prio = "10.231.0.2", 100
	}
	conf := keepalived.VRRPConfig{RouterID: n.Name, Interface: "eth0", Priority: prio, SourceIP: n.Addr,
		PeerIP: peer, VIP: l.VIP, Notify: "/opt/opscode/bin/cluster.sh"}.String()
	if err := w("/var/opt/opscode/keepalived/etc/keepalived.conf", conf, 0o644); err != nil {
		return err
	}
	script := keepalived.NotifyScript(keepalived.NotifyConfig{StateDir: keepalived.StateDir, LogFile: keepalived.ClusterLogPath, Hook: "/usr/local/bin/ha-hook"})
	if err := w("/opt/opscode/bin/cluster.sh", script, 0o755); err != nil {
		return err
	}
	return os.MkdirAll(n.Root("/var/log/opscode/keepalived"), 0o755)
}

func (l *Lab) startNode(ctx context.Context, n *Node) error {
	bin, _ := lookPath("unshare")
	cmd := exec.Command("ip", "netns", "exec", n.NetNS, bin, "--mount", "--pid", "--uts", "--fork", "--mount-proc",
		n.Root("/usr/local/bin/chefha-labnode"), "init", n.Dir)
	logf, err := os.Create(filepath.Join(n.Dir, "init.log"))
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	n.init = cmd
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(n.Dir, "ready")); err == nil {
			c, err := net.DialTimeout("tcp", n.Addr+":22", time.Second)
			if err == nil {
				c.Close()
				return nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			b, _ := os.ReadFile(filepath.Join(n.Dir, "init.log"))
			s, _ := os.ReadFile(filepath.Join(n.Dir, "sshd.log"))
			return fmt.Errorf("lab: node %s did not come up: init: %s; sshd: %s", n.Name, b, s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (l *Lab) waitStatus(ctx context.Context, n *Node, want string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		b, _ := os.ReadFile(n.Root(keepalived.CurrentStatusPath))
		if strings.TrimSpace(string(b)) == want {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("lab: %s's keepalived did not become %s within %s (is %q)", n.Name, want, d, strings.TrimSpace(string(b)))
		}
		time.Sleep(100 * time.Millisecond)
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

// Exec runs a command inside a node's namespaces (as its sshd would), for
// tests that act on a node behind chefha's back.
func (n *Node) Exec(ctx context.Context, argv ...string) ([]byte, error) {
	// init was started as `ip netns exec … unshare --fork …`: that PID is
	// unshare's, and the node's PID 1 (in all the node's namespaces) is
	// its only child.
	pid := n.init.Process.Pid
	child, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return nil, err
	}
	target := strings.Fields(string(child))
	if len(target) == 0 {
		return nil, fmt.Errorf("%s: the node's init is not running", n.Name)
	}
	return exec.CommandContext(ctx, "nsenter", append([]string{"-t", target[0], "-a"}, argv...)...).CombinedOutput()
}

// Close stops every node and removes the namespaces, links and files.
func (l *Lab) Close() error {
	for _, n := range l.Nodes {
		if n.init != nil && n.init.Process != nil {
			syscall.Kill(-n.init.Process.Pid, syscall.SIGTERM)
		}
	}
	for _, n := range l.Nodes {
		if n.init != nil && n.init.Process != nil {
			done := make(chan struct{})
			go func() { n.init.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				syscall.Kill(-n.init.Process.Pid, syscall.SIGKILL)
				<-done
			}
		}
		killNetNS(n.NetNS)
	}
	exec.Command("ip", "link", "delete", l.bridge).Run()
	return os.RemoveAll(l.Dir)
}

// killNetNS kills what still runs in a namespace and deletes it.
func killNetNS(ns string) {
	if out, err := exec.Command("ip", "netns", "pids", ns).Output(); err == nil {
		for _, f := range strings.Fields(string(out)) {
			if pid, err := strconv.Atoi(f); err == nil {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	exec.Command("ip", "netns", "delete", ns).Run()
}

// CleanLeftovers removes the namespaces, bridges and files of labs whose
// process is gone (a killed test run).
func CleanLeftovers() {
	dead := func(s string) bool {
		pid, err := strconv.Atoi(s)
		return err == nil && pid != os.Getpid() && syscall.Kill(pid, 0) != nil
	}
	dirs, _ := filepath.Glob("/var/tmp/chefha-lab-*-*")
	for _, d := range dirs {
		if parts := strings.Split(filepath.Base(d), "-"); len(parts) >= 4 && dead(parts[2]) {
			os.RemoveAll(d)
		}
	}
	out, _ := exec.Command("ip", "netns", "list").Output()
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || !strings.HasPrefix(f[0], "chl-") {
			continue
		}
		parts := strings.Split(f[0], "-")
		if len(parts) < 3 {
			continue
		}
		if dead(parts[1]) {
			killNetNS(f[0])
		}
	}
	links, _ := exec.Command("ip", "-o", "link", "show", "type", "bridge").Output()
	for _, line := range strings.Split(string(links), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		name := strings.TrimSuffix(f[1], ":")
		if strings.HasPrefix(name, "chlb") && dead(strings.TrimPrefix(name, "chlb")) {
			exec.Command("ip", "link", "delete", name).Run()
		}
	}
}

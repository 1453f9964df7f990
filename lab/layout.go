package lab

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/chefha/chefha/clustertest/ecnode"
	"github.com/chefha/chefha/keepalived"
	"github.com/chefha/chefha/lab/internal/svdir"
	"golang.org/x/crypto/ssh"
)

// topologyText is the lab's private-chef.rb.
func (l *Lab) topologyText() string {
	var rb strings.Builder
	rb.WriteString("topology \"ha\"\n")
	for i, n := range l.Nodes {
		role := "frontend"
		if n.Backend {
			role = "backend"
		}
		fmt.Fprintf(&rb, "server %q,\n  :ipaddress => %q,\n  :role => %q", n.Name, n.Addr, role)
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
	return rb.String()
}

// placeExecutable puts the running program at dst, for the nodes to run
// in their roles: a hard link when dst is on the program's filesystem, a
// copy otherwise (from /proc/self/exe, which works even when the file was
// removed after it started).
func placeExecutable(dst string) error {
	if exe, err := os.Executable(); err == nil && os.Link(exe, dst) == nil {
		return nil
	}
	return copyFile("/proc/self/exe", dst)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// layoutNode writes a node's tree as a node at rel would have it.
func (l *Lab) layoutNode(n *Node, rel ecnode.Release, spec Spec, rb, exe string, clientKey ssh.PublicKey) (ssh.PublicKey, error) {
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
	// The program, and the shims that run it as private-chef-ctl, initctl,
	// dpkg, rpm and keepalived's hook, first on sshd's PATH.
	prog := n.Root(svdir.Program)
	if err := os.MkdirAll(filepath.Dir(prog), 0o755); err != nil {
		return nil, err
	}
	if err := os.Link(exe, prog); err != nil {
		if err := copyFile(exe, prog); err != nil {
			return nil, err
		}
	}
	for _, r := range []string{"private-chef-ctl", "initctl", "dpkg", "rpm", "ha-hook"} {
		if err := w("/usr/local/bin/"+r, svdir.Shim(r), 0o755); err != nil {
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
	if err := chownTree(n.Root("/var/log/opscode"), rel.ServiceOwner); err != nil {
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
	return ssh.NewPublicKey(hostPriv.Public())
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
	peer, prio := l.Nodes[0].Addr, 90
	if n.Bootstrap {
		peer, prio = l.Nodes[1].Addr, 100
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

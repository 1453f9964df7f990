package lab

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/chefha/chefha/internal/ecmodel"
	"github.com/chefha/chefha/internal/packaging"
	"github.com/chefha/chefha/internal/stockhome"
	"github.com/chefha/chefha/lab/internal/labnode"
	"github.com/chefha/chefha/lab/internal/svdir"
	"github.com/chefha/chefha/migration"
	"golang.org/x/crypto/ssh"
)

// topologyText is the lab's private-chef.rb: a back end's
// :cluster_ipaddress is its replication address, apart from its public
// one as in the packaging's HA examples.
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
			fmt.Fprintf(&rb, ",\n  :cluster_ipaddress => %q", n.ClusterAddr)
		}
		rb.WriteString("\n")
		if i == 1 {
			fmt.Fprintf(&rb, "backend_vip \"be.lab.test\",\n  :ipaddress => %q,\n  :device => \"eth0\",\n  :heartbeat_device => \"eth0\"\n", l.VIP)
		}
	}
	rb.WriteString("api_fqdn \"chef.lab.test\"\n")
	return rb.String()
}

// placeExecutable puts program (the running one when "") at dst, for the
// nodes to run in their roles: a hard link when dst is on the program's
// filesystem, a copy otherwise (the running program's from
// /proc/self/exe, which works even when the file was removed after it
// started).
func placeExecutable(ctx context.Context, dst, program string) error {
	if program != "" {
		if err := probe(ctx, program); err != nil {
			return err
		}
		if os.Link(program, dst) == nil {
			return nil
		}
		return copyFile(program, dst)
	}
	if exe, err := os.Executable(); err == nil && os.Link(exe, dst) == nil {
		return nil
	}
	return copyFile("/proc/self/exe", dst)
}

// probe makes sure program is a lab node program: one that does not
// import package lab would run its own main in every role of every node,
// failing where nobody reads the error.
func probe(ctx context.Context, program string) error {
	cmd := exec.CommandContext(ctx, program)
	cmd.Env = svdir.Env(labnode.ProbeRole)
	out, err := cmd.Output()
	if err != nil || strings.TrimSpace(string(out)) != labnode.ProbeAnswer {
		return fmt.Errorf("%s is not a lab node program (a binary that imports package lab, such as lab/cmd/chefha-labnode): asked to answer %q, it said %q (%v)",
			program, labnode.ProbeRole, bytes.TrimSpace(out), err)
	}
	return nil
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

// drbdPrep makes the back ends' shared DRBD directory: the pair's state,
// healthy and connected, and the disk it replicates, a file system of its
// own as DRBD's is (cluster.sh's `fuser -km DATADIR` kills what uses that
// file system, and only that).
func (l *Lab) drbdPrep() error {
	dir := filepath.Join(l.Dir, "drbd")
	if err := os.MkdirAll(filepath.Join(dir, "disk"), 0o755); err != nil {
		return err
	}
	if err := syscall.Mount("chefha-drbd", drbdDisk(l.Dir), "tmpfs", 0, "size=16m,mode=0755"); err != nil {
		return fmt.Errorf("lab: the DRBD disk: %w", err)
	}
	b, _ := json.MarshalIndent(ecmodel.NewDRBDPair(l.Nodes[0].Name, l.Nodes[1].Name), "", "  ")
	return os.WriteFile(filepath.Join(dir, "pair.json"), append(b, '\n'), 0o600)
}

// allServices are the service names of every release the model knows:
// the package tree has a program for each.
func allServices() []string {
	var out []string
	for _, r := range ecmodel.Releases() {
		out = append(out, r.AllServices()...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// layoutNode writes a node's tree as a freshly installed package at rel
// leaves it, before its first reconfigure: the package's files (with the
// lab's programs where Enterprise Chef's would be), private-chef.rb,
// partybus init's migration level, and the node's sshd.
func (l *Lab) layoutNode(n *Node, rel ecmodel.Release, spec Spec, rb, exe string, clientKey ssh.PublicKey) (ssh.PublicKey, error) {
	w := func(p, content string, mode os.FileMode) error {
		full := n.Root(p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		return os.WriteFile(full, []byte(content), mode)
	}
	for _, d := range []string{ecmodel.SvDir, ecmodel.ServiceDir, ecmodel.InitDir, ecmodel.LogDir, "/tmp", ecmodel.ModelDir} {
		if err := os.MkdirAll(n.Root(d), 0o755); err != nil {
			return nil, err
		}
	}
	os.Chmod(n.Root("/tmp"), 0o1777)
	if err := stockhome.Write(n.Root(labnode.Home)); err != nil {
		return nil, err
	}
	files := map[string]string{
		ecmodel.TopologyPath:          rb,
		migration.Path:                string(migration.Format(rel.Level())),
		"/etc/opscode/pivotal.pem":    "-----BEGIN RSA PRIVATE KEY-----\n(lab)\n",
		"/etc/opscode/webui_priv.pem": "-----BEGIN RSA PRIVATE KEY-----\n(lab webui)\n",
	}
	versionPath, versionFile := ecmodel.VersionFile(rel.Version)
	files[versionPath] = string(versionFile)
	if n.Bootstrap {
		files["/var/opt/opscode/bootstrapped"] = ""
	}
	if spec.UpgradeSleep > 0 {
		files[ecmodel.UpgradeSleepOverride] = spec.UpgradeSleep.String() + "\n"
	}
	if n.Backend {
		files[ecmodel.ModelDir+"/cluster-prefix"] = strconv.Itoa(l.Subnet.Bits()) + "\n"
		if spec.NotifyScript != "" {
			files[ecmodel.NotifyScriptOverride] = spec.NotifyScript
		}
	}
	for p, c := range files {
		mode := os.FileMode(0o644)
		if strings.HasSuffix(p, ".pem") {
			mode = 0o600
		}
		if err := w(p, c, mode); err != nil {
			return nil, err
		}
	}
	// The program, and the scripts that run it where the package's and
	// the system's programs would be: /usr/local/bin comes first on
	// sshd's PATH.
	prog := n.Root(svdir.Program)
	if err := os.MkdirAll(filepath.Dir(prog), 0o755); err != nil {
		return nil, err
	}
	if err := os.Link(exe, prog); err != nil {
		if err := copyFile(exe, prog); err != nil {
			return nil, err
		}
	}
	scripts := map[string]string{
		"/usr/local/bin/initctl":                   svdir.Initctl(labnode.JobPIDFile("$job"), ecmodel.JobFile("$job"), packaging.RunsvdirJobs()),
		"/usr/local/bin/dpkg":                      svdir.Shim("dpkg"),
		"/usr/local/bin/rpm":                       svdir.Shim("rpm"),
		"/usr/local/bin/drbdadm":                   svdir.Shim("drbdadm"),
		ecmodel.CtlPath:                            svdir.Shim("private-chef-ctl"),
		ecmodel.EmbeddedSv:                         svdir.ShimArg0("sv"),
		ecmodel.ClusterShProgram:                   svdir.Shim("cluster.sh"),
		"/opt/opscode/embedded/bin/chefha-service": svdir.Service(ecmodel.ModelDir),
		"/opt/opscode/embedded/sbin/keepalived":    svdir.Keepalived(ecmodel.KeepalivedDir),
	}
	for p, c := range scripts {
		if err := w(p, c, 0o755); err != nil {
			return nil, err
		}
	}
	// The postinst's /usr/bin/private-chef-ctl link, where the node can
	// have it.
	if err := os.Symlink(ecmodel.CtlPath, n.Root("/usr/local/bin/private-chef-ctl")); err != nil {
		return nil, err
	}
	// Every service's program is the lab's stand-in.
	for _, s := range allServices() {
		if err := os.Symlink("chefha-service", n.Root("/opt/opscode/embedded/bin/"+s)); err != nil {
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

package lab

// One lab node: its init in its own namespaces, its files, a command run
// inside it, and its stop.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/chefha/chefha/lab/internal/labnode"
	"github.com/chefha/chefha/lab/internal/svdir"
)

// Node is one lab node.
type Node struct {
	Name      string
	Addr      string
	Backend   bool
	Bootstrap bool
	// ClusterAddr is a back end's replication address (DRBD's
	// :cluster_ipaddress), a second address on its eth0.
	ClusterAddr string
	Dir         string // node dir: root/ holds what is bind-mounted over the shared paths
	NetNS       string
	veth        string
	init        *exec.Cmd
}

// Root maps a path inside the node to the host file that backs it (for the
// bind-mounted trees; /etc's is the overlay's upper layer, the node's own
// changes).
func (n *Node) Root(p string) string { return filepath.Join(n.Dir, "root", p) }

// Requirement is a program the lab runs and the Debian package that has it.
type Requirement struct{ Program, Package string }

// Requirements are the programs the lab runs, each with its Debian package.
// The nodes' own program is the running one (see labnode.go): no
// toolchain is needed.
func Requirements() []Requirement {
	return []Requirement{{"ip", "iproute2"}, {"unshare", "util-linux"}, {"nsenter", "util-linux"}, {"sshd", "openssh-server"},
		{"runsvdir", "runit"}, {"sv", "runit"}, {"svlogd", "runit"}, {"chpst", "runit"}, {"keepalived", "keepalived"}, {"ping", "iputils-ping"}}
}

// ErrUnsupported is returned (wrapped) when the machine cannot run a lab.
var ErrUnsupported = errors.New("lab unsupported here")

// Check says whether a lab can run here, and if not what is missing.
func Check() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: needs root (network and mount namespaces)", ErrUnsupported)
	}
	var missing []string
	for _, r := range Requirements() {
		if _, err := lookPath(r.Program); err != nil {
			missing = append(missing, r.Program+" ("+r.Package+")")
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: missing %s", ErrUnsupported, strings.Join(missing, ", "))
	}
	return nil
}

func (l *Lab) startNode(ctx context.Context, n *Node) error {
	unshare, _ := lookPath("unshare")
	args := []string{"netns", "exec", n.NetNS, unshare, "--mount", "--pid", "--uts", "--fork", "--mount-proc", n.Root(svdir.Program), n.Dir}
	if n.Backend {
		args = append(args, filepath.Join(l.Dir, "drbd"))
	}
	cmd := exec.Command("ip", args...)
	cmd.Env = append(labnode.InitEnv(), svdir.Env("init")...)
	logf, err := os.Create(filepath.Join(n.Dir, "init.log"))
	if err != nil {
		return err
	}
	defer logf.Close() // the child has its own copy
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	n.init = cmd
	for {
		if _, err := os.Stat(filepath.Join(n.Dir, "ready")); err == nil {
			c, err := net.DialTimeout("tcp", n.Addr+":22", time.Second)
			if err == nil {
				c.Close()
				return nil
			}
		}
		if ctx.Err() != nil {
			b, _ := os.ReadFile(filepath.Join(n.Dir, "init.log"))
			s, _ := os.ReadFile(filepath.Join(n.Dir, "sshd.log"))
			return fmt.Errorf("lab: node %s did not come up: %w: init: %s; sshd: %s", n.Name, ctx.Err(), b, s)
		}
		sleep(ctx, 20*time.Millisecond)
	}
}

// pid1 is the node's PID 1 as this process sees it. init was started as
// `ip netns exec … unshare --fork …`: that PID is unshare's, and the
// node's PID 1 (in all the node's namespaces) is its only child.
func (n *Node) pid1() (int, error) {
	if n.init == nil || n.init.Process == nil {
		return 0, fmt.Errorf("%s: the node is not running", n.Name)
	}
	pid := n.init.Process.Pid
	child, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return 0, err
	}
	target := strings.Fields(string(child))
	if len(target) == 0 {
		return 0, fmt.Errorf("%s: the node's init is not running", n.Name)
	}
	var p int
	_, err = fmt.Sscan(target[0], &p)
	return p, err
}

// Exec runs a command inside a node's namespaces (as its sshd would), for
// tests that act on a node behind chefha's back.
func (n *Node) Exec(ctx context.Context, argv ...string) ([]byte, error) {
	pid, err := n.pid1()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, "nsenter", append([]string{"-t", fmt.Sprint(pid), "-a"}, argv...)...)
	cmd.Env = labnode.InitEnv()
	return cmd.CombinedOutput()
}

// stop TERMs the node's init (its PID 1 takes everything in the node down
// and exits; unshare, which blocks TERM, follows it) and waits for it,
// KILLing the lot after 5 s.
func (n *Node) stop() {
	if n.init == nil || n.init.Process == nil {
		return
	}
	pgrp := -n.init.Process.Pid
	syscall.Kill(pgrp, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { n.init.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		syscall.Kill(pgrp, syscall.SIGKILL)
		<-done
	}
}

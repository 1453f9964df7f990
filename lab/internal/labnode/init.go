package labnode

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/chefha/chefha/internal/ecmodel"
)

// Private are the node's own directories: bind mounts of NODEDIR/root/P
// over the machine's P (the lab makes the mount points). /etc is an
// overlay instead (below). /root is root's home with a Chef server's stock
// dotfiles (Home): every SSH command starts root's shell, which reads them,
// and the machine's own (a developer's pyenv, say) would slow every
// command and could block them all on a lock of the machine's.
var Private = []string{"/opt/opscode", "/var/opt/opscode", "/var/log/opscode", "/usr/local/bin", "/tmp", ecmodel.ModelDir, Home}

// Home is root's home directory in a node.
const Home = "/root"

// InitEnv is the environment of a node's PID 1, which its sshd and every
// process it starts inherit: what a machine's init gives, nothing of the
// environment that started the lab.
func InitEnv() []string {
	return []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + Home, "LANG=C"}
}

// initNode is PID 1 of a node: it mounts the node's private directories
// over the shared paths (a back end also the pair's DRBD directory), names
// the node, starts sshd, reaps orphans, and takes everything down on
// TERM. The runsvdir job is started by the node's reconfigure, as
// enterprise-chef-common's runit_upstart recipe does.
//
// Its command line is the node's directory and, on a back end, the lab's
// DRBD directory.
func initNode(args []string) int {
	if len(args) < 1 || len(args) > 2 {
		fmt.Fprintln(os.Stderr, "usage: init NODEDIR [DRBDDIR]")
		return 2
	}
	dir := args[0]
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		fmt.Fprintln(os.Stderr, "init: make / private:", err)
		return 1
	}
	// /etc is an overlay (the machine's /etc below, the node's changes
	// above) rather than a bind mount on /etc/opscode: the runner replaces
	// /etc/opscode by rename, which a mount point would refuse.
	upper, work := filepath.Join(dir, "root", "etc"), filepath.Join(dir, "etc-work")
	os.MkdirAll(upper, 0o755)
	os.MkdirAll(work, 0o755)
	if err := syscall.Mount("overlay", "/etc", "overlay", 0, "lowerdir=/etc,upperdir="+upper+",workdir="+work); err != nil {
		fmt.Fprintln(os.Stderr, "init: overlay on /etc:", err)
		return 1
	}
	binds := [][2]string{}
	for _, p := range Private {
		binds = append(binds, [2]string{filepath.Join(dir, "root", p), p})
	}
	if len(args) == 2 {
		binds = append(binds, [2]string{args[1], DRBDDir})
	}
	for _, b := range binds {
		if err := os.MkdirAll(b[0], 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "init:", err)
			return 1
		}
		// Recursive: the DRBD directory holds the disk, a mount of its own.
		if err := syscall.Mount(b[0], b[1], "", syscall.MS_BIND|syscall.MS_REC, ""); err != nil {
			fmt.Fprintf(os.Stderr, "init: bind %s over %s: %v\n", b[0], b[1], err)
			return 1
		}
	}
	// The node's own console: keepalived runs with --log-console, and its
	// syslog(3) calls (LOG_CONS, no syslog daemon in the lab) then write to
	// /dev/console, here the machine's serial port: every log line of every
	// node's keepalived cost the machine a slow UART write in the kernel.
	console := filepath.Join(dir, "console.log")
	if f, err := os.OpenFile(console, os.O_CREATE|os.O_WRONLY, 0o600); err == nil {
		f.Close()
	}
	if err := syscall.Mount(console, "/dev/console", "", syscall.MS_BIND, ""); err != nil {
		fmt.Fprintln(os.Stderr, "init: bind the node's console over /dev/console:", err)
		return 1
	}
	if b, err := os.ReadFile(filepath.Join(dir, "hostname")); err == nil {
		syscall.Sethostname([]byte(strings.TrimSpace(string(b))))
	}
	os.MkdirAll("/run/sshd", 0o755)
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	sshd := exec.Command("/usr/sbin/sshd", "-D", "-e", "-f", filepath.Join(dir, "sshd_config"))
	logf, _ := os.Create(filepath.Join(dir, "sshd.log"))
	sshd.Stdout, sshd.Stderr = logf, logf
	if err := sshd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "init: sshd:", err)
		return 1
	}
	os.WriteFile(filepath.Join(dir, "ready"), []byte("ok\n"), 0o644)
	for sig := range sigs {
		if sig == syscall.SIGCHLD {
			for {
				var ws syscall.WaitStatus
				pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
				if pid <= 0 || err != nil {
					break
				}
			}
			continue
		}
		// Down, at once: the node is being thrown away. TERM reaches every
		// process; this loop reaps them until none is left, and KILLs what
		// remains after 300 ms (keepalived runs its notify_stop hook, and
		// a runsv waits for its log service: neither matters to a node
		// about to vanish).
		syscall.Kill(-1, syscall.SIGTERM)
		for deadline := time.Now().Add(300 * time.Millisecond); time.Now().Before(deadline); {
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if errors.Is(err, syscall.ECHILD) {
				return 0
			}
			if pid <= 0 {
				time.Sleep(10 * time.Millisecond)
			}
		}
		syscall.Kill(-1, syscall.SIGKILL)
		return 0
	}
	return 0
}

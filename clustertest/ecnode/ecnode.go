// Package ecnode emulates one Private Chef / Enterprise Chef node: a file
// tree laid out like a real node in a temp dir, an installed version, runit
// services, keepalived state, and the commands chefha sends, answered with
// the real programs' output formats and exit codes (reference/formats.md).
// A command it does not emulate fails with exit 127 and
// "clustertest: not emulated: <argv>", so a gap is loud.
package ecnode

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// Release is what a version installs.
type Release struct {
	Version      string
	RunsvdirJob  string // opscode-runsvdir (pre-11) or private-chef-runsvdir
	Services     []string
	Level        [2]int // last migration level shipped
	ServiceOwner string // owner of /var/log/opscode: root before EC 11, opscode after
}

// Releases are the versions of the runbook.
func Releases() map[string]Release {
	pc := []string{"bookshelf", "couchdb", "fcgiwrap", "nagios", "nginx", "nrpe", "opscode-account", "opscode-chef", "opscode-erchef",
		"opscode-expander", "opscode-org-creator", "opscode-solr", "opscode-webui", "php-fpm", "postgresql", "rabbitmq", "redis"}
	ec := []string{"bookshelf", "nginx", "oc_bifrost", "opscode-account", "opscode-certificate", "opscode-erchef", "opscode-expander",
		"opscode-org-creator", "opscode-solr", "opscode-webui", "postgresql", "rabbitmq", "redis_lb"}
	return map[string]Release{
		"1.2.8":  {"1.2.8", "opscode-runsvdir", pc, [2]int{1, 4}, "root"},
		"1.4.6":  {"1.4.6", "opscode-runsvdir", pc, [2]int{1, 7}, "root"},
		"11.0.2": {"11.0.2", "private-chef-runsvdir", ec, [2]int{1, 12}, "opscode"},
		"11.1.8": {"11.1.8", "private-chef-runsvdir", ec, [2]int{1, 13}, "opscode"},
	}
}

// Service is one runit service's state.
type Service struct {
	Name       string
	Up         bool
	PID        int
	Since      time.Time
	NormallyUp bool
	// StopDelay is how long the service takes to stop (OC-11657: longer
	// than sv's 7 s default makes `sv stop` print timeout:).
	StopDelay time.Duration
}

// Node is one emulated node. Its fields are its state; tests and knobs
// change them under Lock.
type Node struct {
	mu sync.Mutex

	Name      string
	Backend   bool
	Bootstrap bool
	Root      string // the node's file tree
	Release   Release
	Services  map[string]*Service
	Clock     func() time.Time

	// Supervision.
	Runsvdirs   []string // Upstart jobs whose runsvdir is alive
	RunsvdirLog string   // error text in runsvdir's argv (svlogd complaints)
	Leftovers   []string // leftover omnibus-ctl / private-chef-ctl / sv command lines
	// Keepalived.
	KeepalivedUp bool
	HasVIP       bool
	// Owners overrides the owner stat prints for a path ("user:group"):
	// tests run as one user, real nodes have opscode.
	Owners map[string]string
	// DiskFull makes df report /var/log/opscode's filesystem full.
	DiskFull bool

	nextPID int
}

// New makes a node at version (a key of Releases) with its file tree
// under root.
func New(name string, backend, bootstrap bool, version, root string, clock func() time.Time) (*Node, error) {
	rel, ok := Releases()[version]
	if !ok {
		return nil, fmt.Errorf("ecnode: no release %q", version)
	}
	if clock == nil {
		clock = time.Now
	}
	n := &Node{Name: name, Backend: backend, Bootstrap: bootstrap, Root: root, Release: rel,
		Services: map[string]*Service{}, Clock: clock, Owners: map[string]string{"/var/log/opscode": rel.ServiceOwner + ":" + rel.ServiceOwner}, Runsvdirs: []string{rel.RunsvdirJob}, nextPID: 1000}
	for _, s := range rel.Services {
		n.Services[s] = &Service{Name: s, Up: true, PID: n.pid(), Since: clock().Add(-time.Hour), NormallyUp: true}
	}
	if err := n.layout(); err != nil {
		return nil, err
	}
	return n, nil
}

func (n *Node) pid() int { n.nextPID += 7; return n.nextPID }

// Lock runs fn with the node's state locked.
func (n *Node) Lock(fn func(n *Node)) {
	n.mu.Lock()
	defer n.mu.Unlock()
	fn(n)
}

// Path maps a node path to the file tree.
func (n *Node) Path(p string) string { return filepath.Join(n.Root, filepath.Clean("/"+p)) }

// WriteFile writes a file in the node's tree.
func (n *Node) WriteFile(p, content string, mode os.FileMode) error {
	full := n.Path(p)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(full, []byte(content), mode); err != nil {
		return err
	}
	return os.Chmod(full, mode)
}

func (n *Node) layout() error {
	files := map[string]string{
		"/opt/opscode/version-manifest.txt":         "private-chef " + n.Release.Version + "\n",
		"/var/opt/opscode/upgrades/migration-level": fmt.Sprintf(`{"major":%d,"minor":%d}`+"\n", n.Release.Level[0], n.Release.Level[1]),
	}
	for p, c := range files {
		if err := n.WriteFile(p, c, 0o644); err != nil {
			return err
		}
	}
	if n.Backend {
		st := "backup"
		if n.Bootstrap {
			st = "master"
			n.HasVIP = true
			if err := n.WriteFile("/var/opt/opscode/bootstrapped", "", 0o644); err != nil {
				return err
			}
		}
		n.KeepalivedUp = true
		for _, f := range []string{"current_cluster_status", "requested_cluster_status"} {
			if err := n.WriteFile("/var/opt/opscode/keepalived/"+f, st+"\n", 0o644); err != nil {
				return err
			}
		}
		stamp := n.Clock().Add(-time.Hour).Format("Mon, 02 Jan 2006 15:04:05 -0700")
		log := fmt.Sprintf("%s: Transitioning to %s\n%s: Transitioned to %s\n", stamp, st, stamp, st)
		if err := n.WriteFile("/var/log/opscode/keepalived/cluster.log", log, 0o644); err != nil {
			return err
		}
		if !n.Bootstrap {
			// The standby runs only keepalived: HA services are down there.
			for _, s := range n.Services {
				s.Up, s.NormallyUp = false, false
			}
		}
	}
	if err := os.MkdirAll(n.Path("/var/log/opscode"), 0o755); err != nil {
		return err
	}
	if err := os.Chmod(n.Path("/var/log/opscode"), 0o755); err != nil {
		return err
	}
	for s := range n.Services {
		if err := n.WriteFile("/var/log/opscode/"+s+"/current", "", 0o644); err != nil {
			return err
		}
		if err := os.MkdirAll(n.Path("/opt/opscode/sv/"+s), 0o755); err != nil {
			return err
		}
		if err := os.MkdirAll(n.Path("/opt/opscode/service"), 0o755); err != nil {
			return err
		}
		if err := os.Symlink("/opt/opscode/sv/"+s, n.Path("/opt/opscode/service/"+s)); err != nil && !os.IsExist(err) {
			return err
		}
	}
	return nil
}

// Exec is one command for the node.
type Exec struct {
	Command string
	Stdin   io.Reader
	Stdout  io.Writer
	Stderr  io.Writer
}

// Run runs a command line as the node would and returns its exit status.
// `sh -c SCRIPT` runs SCRIPT's lines (`cmd; cmd` or one per line) in turn,
// with "$?" meaning the previous command's status.
func (n *Node) Run(ctx context.Context, e Exec) int {
	argv, err := Split(e.Command)
	if err != nil {
		fmt.Fprintf(e.Stderr, "sh: %v\n", err)
		return 2
	}
	// Run's wrapper in the cluster package: "echo $$; exec CMD".
	if len(argv) >= 3 && argv[0] == "echo" && argv[1] == "$$;" && argv[2] == "exec" {
		fmt.Fprintf(e.Stdout, "%d\n", 4242)
		argv = argv[3:]
	}
	if len(argv) >= 3 && argv[0] == "sudo" && argv[1] == "-n" && argv[2] == "--" {
		argv = argv[3:]
	}
	if len(argv) == 3 && argv[0] == "sh" && argv[1] == "-c" {
		return n.script(ctx, argv[2], e)
	}
	return n.command(ctx, argv, e)
}

func (n *Node) script(ctx context.Context, s string, e Exec) int {
	status := 0
	for _, line := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == ';' }) {
		line = strings.TrimSpace(strings.ReplaceAll(line, `"$?"`, fmt.Sprint(status)))
		line = strings.ReplaceAll(line, "$?", fmt.Sprint(status))
		if line == "" {
			continue
		}
		argv, err := Split(line)
		if err != nil {
			fmt.Fprintf(e.Stderr, "sh: %v\n", err)
			return 2
		}
		redirErr := false
		if len(argv) > 0 && argv[len(argv)-1] == "2>&1" {
			argv, redirErr = argv[:len(argv)-1], true
		}
		ee := e
		if redirErr {
			ee.Stderr = e.Stdout
		}
		status = n.command(ctx, argv, ee)
	}
	return status
}

// command dispatches one argv.
func (n *Node) command(ctx context.Context, argv []string, e Exec) int {
	if len(argv) == 0 {
		return 0
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	switch filepath.Base(argv[0]) {
	case "echo":
		fmt.Fprintln(e.Stdout, strings.Join(argv[1:], " "))
		return 0
	case "true":
		return 0
	case "cat":
		return n.cat(argv, e)
	case "ps":
		return n.ps(argv, e)
	case "sv":
		return n.sv(argv, e)
	case "private-chef-ctl":
		return n.ctl(argv, e)
	case "stat":
		return n.stat(argv, e)
	case "df":
		return n.df(argv, e)
	case "find":
		return n.find(argv, e)
	case "initctl":
		return n.initctl(argv, e)
	case "test":
		return n.test(argv, e)
	}
	return notEmulated(argv, e)
}

func notEmulated(argv []string, e Exec) int {
	fmt.Fprintf(e.Stderr, "clustertest: not emulated: %s\n", strings.Join(argv, " "))
	return 127
}

func (n *Node) sortedServices() []*Service {
	out := make([]*Service, 0, len(n.Services))
	for _, s := range n.Services {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

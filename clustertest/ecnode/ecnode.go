// Package ecnode emulates one Private Chef / Enterprise Chef node: a file
// tree laid out like a real node in a temp dir, an installed package and a
// running release, runit services, keepalived state moving with its peer,
// partybus migrations, and the commands chefha sends, answered with the
// real programs' output formats and exit codes (reference/formats.md).
// A command it does not emulate fails with exit 127 and
// "clustertest: not emulated: <argv>", so a gap is loud.
//
// Known bugs (OC-xxxxx) are off unless a test turns them on with Bugs, so
// each can be shown alone; a bug that only affects some versions also
// checks the versions involved, as the real one did.
package ecnode

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/chefha/chefha/runit"
)

// Release is what a version installs and runs.
type Release struct {
	Version      string
	RunsvdirJob  string // opscode-runsvdir (pre-11) or private-chef-runsvdir
	Services     []string
	Level        Level  // last migration level shipped
	ServiceOwner string // owner of /var/log/opscode: root before EC 11, opscode after
}

// Level is a migration level.
type Level struct{ Major, Minor int }

func (l Level) String() string { return fmt.Sprintf("%d.%d", l.Major, l.Minor) }

// Releases are the versions of the runbook.
func Releases() map[string]Release {
	pc := []string{"bookshelf", "couchdb", "fcgiwrap", "nagios", "nginx", "nrpe", "opscode-account", "opscode-chef", "opscode-erchef",
		"opscode-expander", "opscode-org-creator", "opscode-solr", "opscode-webui", "php-fpm", "postgresql", "rabbitmq", "redis"}
	ec := []string{"bookshelf", "couchdb", "nginx", "oc_bifrost", "opscode-account", "opscode-certificate", "opscode-chef-mover", "opscode-erchef",
		"opscode-expander", "opscode-org-creator", "opscode-solr", "opscode-webui", "postgresql", "rabbitmq", "redis_lb"}
	return map[string]Release{
		"1.2.8":  {"1.2.8", "opscode-runsvdir", pc, Level{1, 4}, "root"},
		"1.4.6":  {"1.4.6", "opscode-runsvdir", pc, Level{1, 7}, "root"},
		"11.0.2": {"11.0.2", "private-chef-runsvdir", ec, Level{1, 12}, "opscode"},
		"11.1.8": {"11.1.8", "private-chef-runsvdir", ec, Level{1, 13}, "opscode"},
	}
}

// RemovedInEC11 reports the 1.x services EC 11 drops; cleanup removes them.
func RemovedInEC11(name string) bool { return slices.Contains(runit.RemovedInEC11(), name) }

// Service is one runit service's state.
type Service struct {
	Name       string
	Up         bool
	PID        int
	Since      time.Time
	NormallyUp bool
	// StopDelay and StartDelay are how long the service takes to stop or
	// start; longer than sv's wait (7 s by default) prints timeout:.
	StopDelay, StartDelay time.Duration
}

// Status is a keepalived cluster status word.
type Status string

// Node is one emulated node. Its exported fields are its state; change
// them under Lock.
type Node struct {
	mu *sync.Mutex // shared by the nodes of a cluster: back ends move as a pair

	Name      string
	Backend   bool
	Bootstrap bool
	Root      string // the node's file tree
	Family    string // "debian" (dpkg) or "rhel" (rpm)
	Release   Release
	Package   string // installed package version (what the manifest says)
	Services  map[string]*Service
	Clock     func() time.Time
	Peer      *Node // the other back end

	// Supervision.
	Runsvdirs   []string // Upstart jobs whose runsvdir is alive
	RunsvdirLog string   // error text in runsvdir's argv (svlogd complaints)
	Leftovers   []string // leftover omnibus-ctl / private-chef-ctl / sv command lines
	// Keepalived.
	KeepalivedUp   bool
	HasVIP         bool
	VIP            string        // backend_vip's address, shown by `ip addr` on the master
	TransitionTime time.Duration // how long cluster.sh takes
	transTo        Status
	transUntil     time.Time
	thenMaster     bool
	// Owners overrides the owner stat prints for a path ("user:group"):
	// tests run as one user, real nodes have opscode.
	Owners map[string]string
	// DiskFull makes df report the log filesystem full.
	DiskFull bool
	// Bugs are the known issues (e.g. "OC-11297") this node reproduces.
	Bugs map[string]bool
	// Harm records damage the real bug would have done (migrations re-run
	// from 0.0, a migration skipped, data un-migrated): tests assert that
	// chefha prevented all of it.
	Harm []string
	// Log is every state-changing command the node ran, in order.
	Log []string
	// Umask is the umask the last script set ("" for the login default,
	// 077 on the hardened hosts OC-11656 bit).
	Umask string
	// PartybusLocked makes the migration-level lock look held.
	PartybusLocked   bool
	redisLBRestarted bool
	svwait           string // SVWAIT of the running command, if set

	nextPID int
}

// New makes a node at version (a key of Releases) with its file tree
// under root. mu is shared by the nodes of one cluster (nil: its own).
func New(name string, backend, bootstrap bool, version, root string, clock func() time.Time, mu *sync.Mutex) (*Node, error) {
	rel, ok := Releases()[version]
	if !ok {
		return nil, fmt.Errorf("ecnode: no release %q", version)
	}
	if clock == nil {
		clock = time.Now
	}
	if mu == nil {
		mu = &sync.Mutex{}
	}
	n := &Node{mu: mu, Name: name, Backend: backend, Bootstrap: bootstrap, Root: root, Family: "debian", Release: rel, Package: version,
		Services: map[string]*Service{}, Clock: clock, Owners: map[string]string{}, Bugs: map[string]bool{},
		Runsvdirs: []string{rel.RunsvdirJob}, TransitionTime: 3 * time.Second, nextPID: 1000}
	n.Owners["/var/log/opscode"] = rel.ServiceOwner + ":" + rel.ServiceOwner
	n.Owners["/var/log/opscode/keepalived"] = rel.ServiceOwner + ":" + rel.ServiceOwner
	if err := n.layout(); err != nil {
		return nil, err
	}
	return n, nil
}

func (n *Node) pid() int { n.nextPID += 7; return n.nextPID }

// Lock runs fn with the node's (the cluster's) state locked.
func (n *Node) Lock(fn func(n *Node)) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.settle()
	fn(n)
}

// Settle lets emulated time pass: transitions whose time is up finish.
func (n *Node) Settle() { n.Lock(func(*Node) {}) }

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

// ReadFile reads a file of the node's tree.
func (n *Node) ReadFile(p string) (string, error) {
	b, err := os.ReadFile(n.Path(p))
	return string(b), err
}

const (
	levelPath   = "/var/opt/opscode/upgrades/migration-level"
	statusDir   = "/var/opt/opscode/keepalived/"
	clusterLog  = "/var/log/opscode/keepalived/cluster.log"
	manifest    = "/opt/opscode/version-manifest.txt"
	bootstrapFl = "/var/opt/opscode/bootstrapped"
)

func (n *Node) layout() error {
	if err := n.WriteFile(manifest, "private-chef "+n.Package+"\n", 0o644); err != nil {
		return err
	}
	if err := n.WriteFile("/etc/os-release", "NAME=\"Ubuntu\"\nID=ubuntu\nID_LIKE=debian\nVERSION_ID=\"12.04\"\n", 0o644); err != nil {
		return err
	}
	if err := n.writeLevel(n.Release.Level); err != nil {
		return err
	}
	for _, d := range []string{"/var/log/opscode", "/opt/opscode/service", "/opt/opscode/sv", "/etc/opscode", "/tmp"} {
		if err := os.MkdirAll(n.Path(d), 0o755); err != nil {
			return err
		}
		if err := os.Chmod(n.Path(d), 0o755); err != nil {
			return err
		}
	}
	if err := n.WriteFile("/etc/opscode/pivotal.pem", "-----BEGIN RSA PRIVATE KEY-----\n(emulated)\n", 0o600); err != nil {
		return err
	}
	if err := n.WriteFile("/etc/opscode/webui_priv.pem", "-----BEGIN RSA PRIVATE KEY-----\n(emulated webui)\n", 0o600); err != nil {
		return err
	}
	if err := n.installServices(n.Release, true); err != nil {
		return err
	}
	if n.Backend {
		st := Status("backup")
		if n.Bootstrap {
			st = "master"
			if err := n.WriteFile(bootstrapFl, "", 0o644); err != nil {
				return err
			}
		}
		n.KeepalivedUp = true
		if err := os.MkdirAll(n.Path("/var/log/opscode/keepalived"), 0o755); err != nil {
			return err
		}
		n.log("Transitioning to " + string(st))
		n.setStatus("requested_cluster_status", st)
		n.becomeStatus(st)
	}
	return nil
}

// installServices adds rel's services (up unless this is the standby) and
// their links and log dirs.
func (n *Node) installServices(rel Release, initial bool) error {
	for _, s := range rel.Services {
		if _, ok := n.Services[s]; ok {
			continue
		}
		up := !(n.Backend && !n.Bootstrap) && s != "opscode-chef-mover"
		svc := &Service{Name: s, Up: up, PID: n.pid(), Since: n.Clock().Add(-time.Hour), NormallyUp: up || s == "opscode-chef-mover"}
		if s == "redis_lb" && n.Bugs["OC-11662"] {
			svc.StartDelay = 12 * time.Second // redis_lb loads its data slowly
		}
		if s == "opscode-expander" && n.Bugs["OC-11657"] {
			svc.StopDelay = 10 * time.Second // drains its queue before exiting
		}
		n.Services[s] = svc
		if err := n.WriteFile("/var/log/opscode/"+s+"/current", "", 0o644); err != nil {
			return err
		}
		if err := os.MkdirAll(n.Path("/opt/opscode/sv/"+s), 0o755); err != nil {
			return err
		}
		if err := os.Symlink("/opt/opscode/sv/"+s, n.Path("/opt/opscode/service/"+s)); err != nil && !os.IsExist(err) {
			return err
		}
	}
	return nil
}

func (n *Node) writeLevel(l Level) error {
	return n.WriteFile(levelPath, fmt.Sprintf(`{"major":%d,"minor":%d}`+"\n", l.Major, l.Minor), 0o644)
}

// log appends a cluster.log line as cluster.sh does.
func (n *Node) log(msg string) {
	f, err := os.OpenFile(n.Path(clusterLog), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	fmt.Fprintf(f, "%s: %s\n", n.Clock().Format("Mon, 02 Jan 2006 15:04:05 -0700"), msg)
	f.Close()
}

func (n *Node) setStatus(file string, s Status) {
	n.WriteFile(statusDir+file, string(s)+"\n", 0o644)
}

// Current returns the node's current_cluster_status.
func (n *Node) Current() Status {
	b, _ := n.ReadFile(statusDir + "current_cluster_status")
	return Status(strings.TrimSpace(b))
}

func (n *Node) requested() Status {
	b, _ := n.ReadFile(statusDir + "requested_cluster_status")
	return Status(strings.TrimSpace(b))
}

// InTransition reports requested ≠ current.
func (n *Node) InTransition() bool { return n.transTo != "" }

// becomeStatus finishes a transition: the HA services follow the status.
func (n *Node) becomeStatus(s Status) {
	n.setStatus("current_cluster_status", s)
	os.Remove(n.Path(statusDir + "cluster-transition.lock"))
	n.HasVIP = s == "master"
	for _, svc := range n.Services {
		if RemovedInEC11(svc.Name) && strings.HasPrefix(n.Release.Version, "11.") {
			continue
		}
		if svc.Name == "opscode-chef-mover" {
			continue
		}
		want := s == "master"
		if svc.Up != want && !(s != "master" && n.Bugs["OC-11575"]) {
			svc.Up, svc.Since = want, n.Clock()
			if want {
				svc.PID = n.pid()
			}
		}
		svc.NormallyUp = want
	}
	n.log("Transitioned to " + string(s))
}

// startTransition begins a cluster.sh run towards s, taking TransitionTime.
func (n *Node) startTransition(s Status) {
	if n.transTo != "" {
		n.log("Requested transition to " + string(s) + ", but state transition already running.")
		n.setStatus("requested_cluster_status", s)
		return
	}
	n.setStatus("requested_cluster_status", s)
	n.WriteFile(statusDir+"cluster-transition.lock", "4711\n", 0o644)
	n.log("Transitioning to " + string(s))
	if s == "master" {
		n.log("Attempting DRBD primary takeover - attempts left 3")
		n.log("DRBD primary takeover successful")
		n.log("Mounting /dev/drbd0 at /var/opt/opscode/drbd/data")
	}
	n.transTo, n.transUntil = s, n.Clock().Add(n.TransitionTime)
}

// settle finishes transitions whose time has come, for this node and its peer.
func (n *Node) settle() {
	for _, m := range []*Node{n, n.Peer} {
		if m == nil || m.transTo == "" || m.Clock().Before(m.transUntil) {
			continue
		}
		to := m.transTo
		m.transTo = ""
		m.becomeStatus(to)
		if to == "backup" && m.thenMaster && m.KeepalivedUp && (m.Peer == nil || !m.Peer.KeepalivedUp || m.Peer.Current() != "master") {
			m.thenMaster = false
			m.startTransition("master")
		}
	}
}

// keepalivedStop is `private-chef-ctl stop keepalived`: a master gives up
// the VIP and its peer, if its keepalived runs, takes over.
func (n *Node) keepalivedStop() {
	if !n.KeepalivedUp {
		return
	}
	n.KeepalivedUp = false
	n.thenMaster = false
	if n.Current() == "master" || n.transTo == "master" {
		n.transTo = ""
		n.setStatus("requested_cluster_status", "backup")
		n.becomeStatus("backup")
		if p := n.Peer; p != nil && p.KeepalivedUp && p.Current() != "master" {
			p.startTransition("master")
		}
	}
}

// keepalivedStart is `private-chef-ctl start keepalived`: with nopreempt a
// node whose peer is master stays backup; otherwise it becomes master.
func (n *Node) keepalivedStart() {
	if n.KeepalivedUp {
		return
	}
	if strings.HasPrefix(n.Release.Version, "11.") && n.owner("/var/log/opscode/keepalived") == "root:root" {
		// OC-11490: owned by root, cluster.sh (run as opscode on EC 11)
		// cannot log and keepalived does not come up.
		return
	}
	n.KeepalivedUp = true
	if p := n.Peer; p != nil && p.KeepalivedUp && (p.Current() == "master" || p.transTo == "master") {
		return
	}
	if n.Current() != "master" {
		n.startTransition("master")
	}
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
	n.mu.Lock()
	n.Umask = "" // each session starts with the login umask
	n.mu.Unlock()
	argv, err := Split(e.Command)
	if err != nil {
		fmt.Fprintf(e.Stderr, "sh: %v\n", err)
		return 2
	}
	// The cluster package's wrapper: "echo $$; exec CMD".
	if len(argv) >= 3 && argv[0] == "echo" && argv[1] == "$$;" && argv[2] == "exec" {
		fmt.Fprintf(e.Stdout, "%d\n", 4242)
		argv = argv[3:]
	}
	if len(argv) >= 3 && argv[0] == "sudo" && argv[1] == "-n" && argv[2] == "--" {
		argv = argv[3:]
	}
	if len(argv) >= 7 && argv[0] == "sh" && argv[1] == "-c" && argv[3] == "chefha-detached" {
		return n.detached(ctx, argv[4], argv[5], argv[6:], e)
	}
	if len(argv) >= 3 && argv[0] == "sh" && argv[1] == "-c" {
		script := argv[2]
		if len(argv) > 4 { // sh -c SCRIPT $0 ARGS…: "$@" is ARGS
			q := make([]string, len(argv)-4)
			for i, a := range argv[4:] {
				q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
			}
			script = strings.ReplaceAll(script, `"$@"`, strings.Join(q, " "))
		}
		return n.script(ctx, script, e)
	}
	return n.command(ctx, argv, e)
}

func (n *Node) script(ctx context.Context, s string, e Exec) int {
	status := 0
	for _, line := range splitScript(s) {
		line = strings.TrimSpace(strings.ReplaceAll(line, "$?", fmt.Sprint(status)))
		if line == "" {
			continue
		}
		argv, err := Split(line)
		if err != nil {
			fmt.Fprintf(e.Stderr, "sh: %v\n", err)
			return 2
		}
		argv = n.glob(argv)
		if len(argv) > 1 && argv[0] == "exec" {
			argv = argv[1:]
		}
		ee := e
		if len(argv) > 0 && argv[len(argv)-1] == "2>&1" {
			argv, ee.Stderr = argv[:len(argv)-1], e.Stdout
		}
		status = n.command(ctx, argv, ee)
	}
	return status
}

// splitScript splits a script at newlines and semicolons outside quotes.
func splitScript(s string) []string {
	var out []string
	var quote byte
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == ';' || c == '\n':
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// glob expands absolute path words holding '*' against the node's tree,
// as sh does (a pattern that matches nothing stays as it is).
func (n *Node) glob(argv []string) []string {
	var out []string
	for _, a := range argv {
		if !strings.HasPrefix(a, "/") || !strings.Contains(a, "*") {
			out = append(out, a)
			continue
		}
		matches, _ := filepath.Glob(n.Path(a))
		if len(matches) == 0 {
			out = append(out, a)
			continue
		}
		sort.Strings(matches)
		for _, m := range matches {
			out = append(out, "/"+strings.TrimPrefix(strings.TrimPrefix(m, n.Root), "/"))
		}
	}
	return out
}

// command dispatches one argv.
func (n *Node) command(ctx context.Context, argv []string, e Exec) int {
	if len(argv) == 0 {
		return 0
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.settle()
	n.svwait = ""
	return n.dispatch(ctx, argv, e)
}

// dispatch runs one argv with the node locked.
func (n *Node) dispatch(ctx context.Context, argv []string, e Exec) int {
	switch filepath.Base(argv[0]) {
	case "env":
		// env VAR=value… CMD: only SVWAIT matters to the emulated programs.
		i := 1
		for ; i < len(argv) && strings.Contains(argv[i], "="); i++ {
			if v, ok := strings.CutPrefix(argv[i], "SVWAIT="); ok {
				n.svwait = v
			}
		}
		if i == len(argv) {
			return notEmulated(argv, e)
		}
		return n.dispatch(ctx, argv[i:], e)
	case "echo":
		fmt.Fprintln(e.Stdout, strings.Join(argv[1:], " "))
		return 0
	case "umask":
		if len(argv) != 2 {
			return notEmulated(argv, e)
		}
		n.Umask = argv[1] // for the rest of this session's script
		return 0
	case "printf":
		return n.printf(argv, e)
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
	case "dpkg", "rpm":
		return n.install(argv, e)
	case "tail":
		return n.tail(argv, e)
	case "ip":
		return n.ip(argv, e)
	case "chown", "chmod", "rm", "cp", "mkdir", "readlink", "ls", "sha256sum":
		return n.fileCommand(argv, e)
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

// detached is chefha's detached run (upgrade's detach script: the command
// in a session of its own, its output and status kept in DIR/ID.log and
// DIR/ID.rc): emulated by running the command to its end and keeping the
// same files.
func (n *Node) detached(ctx context.Context, dir, id string, argv []string, e Exec) int {
	var out bytes.Buffer
	rc := n.Run(ctx, Exec{Command: shellJoin(argv), Stdout: &out, Stderr: &out})
	n.WriteFile(dir+"/"+id+".log", out.String(), 0o600)
	n.WriteFile(dir+"/"+id+".rc", fmt.Sprintf("%d\n", rc), 0o600)
	e.Stdout.Write(out.Bytes())
	return rc
}

func shellJoin(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

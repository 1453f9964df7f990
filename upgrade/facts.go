package upgrade

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/internal/packaging"
	"github.com/chefha/chefha/keepalived"
	"github.com/chefha/chefha/migration"
	"github.com/chefha/chefha/runit"
)

// Section is one command's output in a node's facts.
type Section struct {
	Output string `json:"output"`
	RC     int    `json:"rc"`
}

// NodeFacts is everything read from one node, raw, so that checks are pure
// functions of it and a saved copy can be judged again offline.
type NodeFacts struct {
	Node      string             `json:"node"`
	Role      string             `json:"role"`
	Bootstrap bool               `json:"bootstrap"`
	Sections  map[string]Section `json:"sections,omitempty"`
	// Err is set when the node could not be read at all.
	Err string `json:"error,omitempty"`
}

// Facts is the cluster as read by Gather.
type Facts struct {
	Gathered time.Time        `json:"gathered"`
	Topology cluster.Topology `json:"topology"`
	Nodes    []NodeFacts      `json:"nodes"`
}

// EtcOpscode is the configuration directory the runbook copies from the
// bootstrap to every node.
const EtcOpscode = "/etc/opscode"

// factCommand is one section Gather reads and the command that prints it.
type factCommand struct{ name, cmd string }

// The sections Gather reads, in order, and the command of each. One shell
// script runs them all: one exec session per node.
var factCommands = append([]factCommand{
	{"manifest", "cat /opt/opscode/version-manifest.txt"},
	{"pcversion", "cat /opt/opscode/pc-version.txt"},
	{"topology", "cat " + cluster.TopologyPath},
	{"level", "cat " + migration.Path},
	{"current", "cat " + keepalived.CurrentStatusPath},
	{"requested", "cat " + keepalived.RequestedPath},
	{"lock", "cat " + keepalived.LockPath},
	// cluster.log is stat'ed just before and after its end is read, so a
	// watch knows the bytes read were the file's last (keepalived.Follower).
	{"clusterlog-stat", keepalived.ClusterLogStat},
	{"clusterlog", keepalived.ClusterLogTail},
	{"clusterlog-stat-after", keepalived.ClusterLogStat},
	{"ps", "ps -eo pid,ppid,user,stat,args"},
	{"status", "private-chef-ctl status"},
	{"stat", "stat -c '" + runit.StatFormat + "' /var/log/opscode /var/log/opscode/keepalived " + cluster.TopologyPath + " /var/log/opscode/*/current /var/log/opscode/*/*/current"},
	{"df", "df -P /var/log/opscode"},
	{"dfi", "df -Pi /var/log/opscode"},
	{"space", "df -Pk /tmp /opt/opscode"},
	{"links", "find /opt/opscode/service -mindepth 1 -maxdepth 1 -printf '" + strings.ReplaceAll(strings.ReplaceAll(runit.LinkFormat, "\t", `\t`), "\n", `\n`) + "'"},
	{"bootstrapped", "test -e /var/opt/opscode/bootstrapped"},
	{"addrs", "ip -o -4 addr show"},
	{"os", "cat /etc/os-release"},
	{"machine", "uname -m"},
	{"etcsums", "sha256sum " + EtcOpscode + "/* " + EtcOpscode + "/*/*"},
	// Owners and modes of /etc/opscode, for the post-flight's comparison
	// with the recipes' (etc-opscode-perms).
	{"etcstat", "stat -c '" + runit.StatFormat + "' " + EtcOpscode + " " + EtcOpscode + "/* " + EtcOpscode + "/*/*"},
	// And of the files the recipes lay down for the services, every
	// release's (service-file-perms, config-readable): most are not there
	// on a given node, and what is missing is nothing to judge.
	{"svcstat", "stat -c '" + runit.StatFormat + "' " + strings.Join(packaging.ServiceFilePaths(), " ") + " 2>/dev/null"},
	// DRBD, on the back ends: /proc/drbd where the kernel module is loaded,
	// drbdadm's answers where it is not readable, the mount table, and the
	// peer's replication address, as ha-status reads them (opscode-omnibus
	// 11.1.8 files/private-chef-ctl-commands/ha.rb).
	{"drbd", "cat /proc/drbd"},
	{"drbd-role", "drbdadm role " + DRBDResource},
	{"drbd-cstate", "drbdadm cstate " + DRBDResource},
	{"drbd-dstate", "drbdadm dstate " + DRBDResource},
	{"mounts", "cat /proc/mounts"},
	// Where the topology names no peer address (a host list), the peer's
	// is the one the node's own DRBD resource file gives for the other
	// host; the node's name is its on section's (see DRBDPeer).
	{"drbd-conf", "cat " + DRBDResFile},
	{"hostname", "uname -n"},
	{"drbd-peer", "ping -c 1 -W 2 " + peerPlaceholder},
	// A chefha run's lock, and the node's clock to judge its age by (see
	// LockOwner): the watch shows whether a run holds it.
	{"run-lock", "cat " + lockOwnerFile},
	{"run-lock-mtime", "stat -c %Y " + lockOwnerFile},
	{"clock", "date +%s"},
}, jobSections()...)

// jobSection names the section that holds `initctl status JOB`.
func jobSection(job string) string { return "job-" + job }

// jobSections read the state of every runsvdir job a release ever wrote
// (the packaging table's): a node may run one its installed release does
// not, 11.2.0's private_chef-runsvdir above all, which no release removes.
func jobSections() []factCommand {
	var out []factCommand
	for _, j := range packaging.RunsvdirJobs() {
		out = append(out, factCommand{jobSection(j), "initctl status " + j})
	}
	return out
}

// DRBD as Enterprise Chef sets it up (opscode-omnibus 11.1.8
// templates/default/drbd.conf.erb and cluster.sh.erb).
const (
	DRBDResource = "pc0"
	DRBDDataDir  = "/var/opt/opscode/drbd/data"
)

// peerPlaceholder in a fact command is the other back end's replication
// address; on a front end the section is left out.
const peerPlaceholder = "@PEER@"

// peerOf is a back end's peer's replication address (cluster_ipaddress,
// else ipaddress), "" for a front end.
func peerOf(t cluster.Topology, node string) string {
	boot, _ := t.Bootstrap()
	sec, _ := t.Secondary()
	var peer cluster.Server
	switch node {
	case boot.Name:
		peer = sec
	case sec.Name:
		peer = boot
	default:
		return ""
	}
	if peer.ClusterIPAddress != "" {
		return peer.ClusterIPAddress
	}
	ip, _, _ := strings.Cut(peer.IPAddress, "/")
	return ip
}

// Gather reads every node at once (one exec session each, and a second
// on a back end whose peer's replication address the topology does not
// name: see DRBDResFile) and returns the facts; a node that cannot be
// read has Err set, the others are kept.
func Gather(ctx context.Context, c *cluster.Cluster, opts ...Option) Facts {
	o := buildOptions(opts)
	return gather(ctx, c, o)
}

func gather(ctx context.Context, c *cluster.Cluster, o options, only ...string) Facts {
	f := Facts{Gathered: time.Now().UTC(), Topology: c.Topology}
	servers := c.Topology.Servers
	rs := cluster.Each(ctx, c.Nodes(servers), o.concurrency, func(ctx context.Context, n cluster.Node) (map[string]Section, error) {
		peer := peerOf(c.Topology, n.Name())
		secs, err := readNode(ctx, n, peer, o.readTimeout, only...)
		if err == nil && peer == "" && pairMember(c.Topology, n.Name()) && (len(only) == 0 || slices.Contains(only, "drbd-peer")) {
			pingLearntPeer(ctx, n, secs, o.readTimeout)
		}
		return secs, err
	})
	for i, r := range rs {
		s := servers[i]
		nf := NodeFacts{Node: s.Name, Role: s.Role, Bootstrap: s.Bootstrap, Sections: r.Value}
		if r.Err != nil {
			nf.Err = r.Err.Error()
		}
		f.Nodes = append(f.Nodes, nf)
	}
	return f
}

// Save writes the facts as JSON, with the values of private-chef.rb's
// secret settings and private keys redacted (cluster.RedactSecrets): saved
// facts are read again offline and shared, the node's secrets are not.
func (f Facts) Save(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(f.redacted())
}

// SaveFile writes the facts to a file of mode 0600 (see cluster.WritePrivate).
func (f Facts) SaveFile(path string) error {
	var b strings.Builder
	if err := f.Save(&b); err != nil {
		return err
	}
	return cluster.WritePrivate(path, "facts file", []byte(b.String()))
}

func (f Facts) redacted() Facts {
	out := f
	out.Nodes = make([]NodeFacts, len(f.Nodes))
	for i, n := range f.Nodes {
		out.Nodes[i] = n
		out.Nodes[i].Sections = make(map[string]Section, len(n.Sections))
		for k, s := range n.Sections {
			s.Output = string(cluster.RedactSecrets([]byte(s.Output)))
			out.Nodes[i].Sections[k] = s
		}
	}
	return out
}

// Node returns the facts of the node called name.
func (f Facts) Node(name string) (NodeFacts, bool) {
	for _, n := range f.Nodes {
		if n.Node == name {
			return n, true
		}
	}
	return NodeFacts{}, false
}

// ok reports whether a section exists and its command succeeded.
func (n NodeFacts) ok(name string) (string, bool) {
	s, found := n.Sections[name]
	return s.Output, found && s.RC == 0
}

// Version is the installed package version, from the version manifest
// ("private-chef 11.1.8"), or on Private Chef 1.2, which has none, from
// /opt/opscode/pc-version.txt ("Opscode Private Chef 1.2.8.3";
// opscode-omnibus 1.2.8.3).
func (n NodeFacts) Version() (string, error) {
	out, ok := n.ok("manifest")
	if pc, ok2 := n.ok("pcversion"); !ok && ok2 {
		if f := strings.Fields(pc); len(f) > 0 && strings.HasPrefix(pc, "Opscode Private Chef ") {
			return f[len(f)-1], nil
		}
	}
	if !ok {
		return "", fmt.Errorf("%s: cannot read /opt/opscode/version-manifest.txt: %s", n.Node, strings.TrimSpace(out))
	}
	first := strings.SplitN(out, "\n", 2)[0]
	f := strings.Fields(first)
	if len(f) < 2 {
		return "", fmt.Errorf("%s: version manifest first line %q has no version", n.Node, first)
	}
	return f[1], nil
}

// Family is the node's package family, "debian" (dpkg) or "rhel" (rpm),
// from /etc/os-release's ID and ID_LIKE.
func (n NodeFacts) Family() (string, error) {
	out, ok := n.ok("os")
	if !ok {
		return "", fmt.Errorf("%s: cannot read /etc/os-release", n.Node)
	}
	ids := ""
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(l, "="); ok && (k == "ID" || k == "ID_LIKE") {
			ids += " " + strings.Trim(v, `"`)
		}
	}
	for _, f := range strings.Fields(ids) {
		switch f {
		case "debian", "ubuntu":
			return "debian", nil
		case "rhel", "fedora", "centos":
			return "rhel", nil
		}
	}
	return "", fmt.Errorf("%s: unknown OS family in /etc/os-release (ID%s)", n.Node, ids)
}

// Processes parses the ps section.
func (n NodeFacts) Processes() ([]runit.Process, error) {
	out, ok := n.ok("ps")
	if !ok {
		return nil, fmt.Errorf("%s: ps failed: %s", n.Node, strings.TrimSpace(out))
	}
	return runit.ParsePS(strings.NewReader(out))
}

// RunsvdirJobs says which Upstart runsvdir jobs run on the node (of
// every job a release ever wrote, in the packaging table's order) and
// which could not be read: a section missing (facts recorded before
// chefha read that job) or not initctl's answer.
func (n NodeFacts) RunsvdirJobs() (running, unread []string) {
	for _, job := range packaging.RunsvdirJobs() {
		s, found := n.Sections[jobSection(job)]
		js, err := runit.ParseInitctlStatus(strings.NewReader(s.Output))
		switch {
		case !found || err != nil || len(js) != 1:
			unread = append(unread, job)
		case js[0].Running():
			running = append(running, job)
		}
	}
	return running, unread
}

// Links parses the links section: the entries of the service directory.
func (n NodeFacts) Links() ([]runit.Link, error) {
	out, ok := n.ok("links")
	if !ok {
		return nil, fmt.Errorf("cannot list %s: %s", runit.DefaultServiceDir, strings.TrimSpace(out))
	}
	return runit.ParseLinks(strings.NewReader(out))
}

// Services parses private-chef-ctl status (its exit code is 3 when a
// service is down, which is information, not failure).
func (n NodeFacts) Services() ([]runit.ServiceStatus, error) {
	s, found := n.Sections["status"]
	if !found {
		return nil, fmt.Errorf("%s: no private-chef-ctl status", n.Node)
	}
	return runit.ParseStatus(strings.NewReader(s.Output))
}

// Level parses the migration-level section.
func (n NodeFacts) Level() (migration.Level, error) {
	out, ok := n.ok("level")
	if !ok {
		return migration.Level{}, fmt.Errorf("cannot read %s: %s", migration.Path, strings.TrimSpace(out))
	}
	return migration.Parse([]byte(out))
}

// EtcSums are the SHA-256 sums of the files of /etc/opscode, by path.
func (n NodeFacts) EtcSums() map[string]string {
	out := map[string]string{}
	for _, l := range strings.Split(n.Sections["etcsums"].Output, "\n") {
		sum, p, ok := strings.Cut(l, "  ")
		if ok && len(sum) == 64 && strings.HasPrefix(p, EtcOpscode+"/") {
			out[p] = sum
		}
	}
	return out
}

// KeepalivedState builds the node's HA state from its facts.
func (n NodeFacts) KeepalivedState(vip string) keepalived.NodeState {
	st := keepalived.NodeState{Name: n.Node}
	if n.Err != "" {
		st.Err = fmt.Errorf("%s", n.Err)
		return st
	}
	cur, ok := n.ok("current")
	if !ok {
		st.Err = fmt.Errorf("%s: %s", keepalived.CurrentStatusPath, strings.TrimSpace(cur))
		return st
	}
	var err error
	if st.Current, err = keepalived.ParseStatus(keepalived.CurrentStatusPath, []byte(cur)); err != nil {
		st.Err = err
		return st
	}
	// ha-status File.reads requested_cluster_status as well: a missing one
	// stops it with no verdict (keepalived.ErrNoClusterStatus), so a node
	// without a readable one is no node whose state can be judged healthy.
	req, ok := n.ok("requested")
	if !ok {
		st.Err = fmt.Errorf("%s: %s (%w)", keepalived.RequestedPath, strings.TrimSpace(req), keepalived.ErrNoClusterStatus)
		return st
	}
	if st.Requested, err = keepalived.ParseStatus(keepalived.RequestedPath, []byte(req)); err != nil {
		st.Err = err
		return st
	}
	if lock, ok := n.ok("lock"); ok {
		if pid, err := keepalived.ParseLock(keepalived.LockPath, []byte(lock)); err == nil {
			st.LockPID = pid
			if ps, err := n.Processes(); err == nil {
				for _, p := range ps {
					if p.PID == pid {
						st.LockAlive = true
					}
				}
			}
		}
	}
	if addrs, ok := n.ok("addrs"); ok && vip != "" {
		st.HasVIP = strings.Contains(addrs, " "+vip+"/")
	}
	if log, ok := n.ok("clusterlog"); ok {
		st.Events, _ = keepalived.ParseClusterLog(strings.NewReader(keepalived.TrimClusterLogTail(log)))
	}
	return st
}

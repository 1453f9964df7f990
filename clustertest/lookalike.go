package clustertest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/internal/ecmodel"
	"github.com/chefha/chefha/migration"
)

// A cluster that looks like a given one: Options.PrivateChefRB names its
// servers, Options.EtcOpscode is its configuration tree, Options.Master
// the back end keepalived holds master on, and Options.Nodes gives each
// node its versions, migration level and runit state.

// NodeOptions shape one node of the cluster (Options.Nodes, by name).
type NodeOptions struct {
	// Installed is the package installed (the version manifest's);
	// default Options.Version.
	Installed string
	// Running is the release the node's last reconfigure laid down (its
	// services, runsvdir job and log owners); default Installed. A node
	// whose package was installed and not yet reconfigured has Running
	// below Installed.
	Running string
	// Level, when set, is the migration-level file's content ("" an empty
	// file, as partybus leaves one it created when its first migration
	// fails: bin/partybus:70 @11.0.2). LevelMissing removes the file, as
	// OC-11297 leaves a back end.
	Level        *string
	LevelMissing bool
	// EtcOpscode is this node's /etc/opscode, when it is not the
	// cluster's (Options.EtcOpscode).
	EtcOpscode fs.FS
	// OSRelease is /etc/os-release (default Ubuntu 12.04's; an ID of
	// rhel, centos or fedora makes the node take rpm, not dpkg).
	OSRelease string
	// Runit is the node's supervision as it is to be planted.
	Runit RunitState
}

// RunitState is what of a node's supervision can be planted: the
// runbook's runit symptoms and the services' states.
type RunitState struct {
	// Jobs are the Upstart runsvdir jobs to run; both
	// opscode-runsvdir and private-chef-runsvdir is the runbook's second
	// runsvdir. Default: the running release's one.
	Jobs []string
	// RunsvdirLog is text in runsvdir's argv log window (svlogd's
	// complaints) instead of only dots.
	RunsvdirLog string
	// Processes are leftover processes, their command lines as ps prints
	// them. A partybus among them holds the migration-level lock
	// (partybus' flock), so an upgrade's migrations cannot run.
	Processes []string
	// Files set the mode and owner of paths that exist (the log
	// directories); a zero Mode or an empty Owner leaves that alone.
	Files []FileState
	// Missing are files to remove (a log's current).
	Missing []string
	// Links are entries of /opt/opscode/service to make: a stale link to
	// nothing, or to a service EC 11 removed.
	Links []Link
	// Unlinked are services whose link to remove (their sv directory
	// stays: private-chef-ctl status says "disabled").
	Unlinked []string
	// Down are services to stop, Up services to start (the standby's HA
	// services, as OC-11575 leaves them).
	Down, Up []string
	// LogFSFull fills the file system of /var/log/opscode.
	LogFSFull bool
}

// Link is an entry of /opt/opscode/service.
type Link struct {
	Name, Target string
	// Dangling keeps a missing target missing. Otherwise a missing
	// target is made a directory: the service directory of a service the
	// simulated release does not have (a 1.x one on an EC 11 node).
	Dangling bool
}

// FileState is a path's mode and owner ("user:group").
type FileState struct {
	Path  string
	Mode  fs.FileMode
	Owner string
}

// topology reads the cluster's private-chef.rb and checks that the
// simulation can be it: an HA topology, nodes named in Options.Nodes.
func (o Options) topology() (string, cluster.Topology, error) {
	rb := string(o.PrivateChefRB)
	if rb == "" {
		rb = privateChefRB(o.Frontends)
	}
	t, err := cluster.ParseTopology(strings.NewReader(rb))
	if err != nil {
		return "", t, fmt.Errorf("clustertest: private-chef.rb: %w", err)
	}
	if t.Kind != cluster.TopologyHA {
		return "", t, fmt.Errorf("clustertest: private-chef.rb has topology %q: the simulation is an HA cluster", t.Kind)
	}
	if _, ok := t.Secondary(); !ok {
		return "", t, errors.New("clustertest: private-chef.rb names no second back end")
	}
	for name := range o.Nodes {
		if _, ok := t.Server(name); !ok {
			return "", t, fmt.Errorf("clustertest: Options.Nodes names %s, which private-chef.rb does not", name)
		}
	}
	if o.Master != "" {
		if s, ok := t.Server(o.Master); !ok || !s.IsBackend() {
			return "", t, fmt.Errorf("clustertest: Options.Master %s is not a back end of private-chef.rb", o.Master)
		}
	}
	return rb, t, nil
}

// releases are a node's installed and running releases, checked.
func (o Options) releases(name string) (installed, running string, err error) {
	no := o.Nodes[name]
	installed, running = no.Installed, no.Running
	if installed == "" {
		installed = o.Version
	}
	if running == "" {
		running = installed
	}
	for _, v := range []string{installed, running} {
		if _, ok := ecmodel.Releases()[v]; !ok {
			return "", "", fmt.Errorf("clustertest: %s: no release %q in the model", name, v)
		}
	}
	return installed, running, nil
}

// etcTree lays tree down as the node's /etc/opscode, each file and
// directory with the mode the tree reports, links as links.
func (n *Node) etcTree(tree fs.FS) error {
	return fs.WalkDir(tree, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dst := path.Join("/etc/opscode", p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			if err := n.MkdirAll(dst, 0o755); err != nil {
				return err
			}
			return n.Chmod(dst, info.Mode().Perm())
		case d.Type()&fs.ModeSymlink != 0:
			rl, ok := tree.(fs.ReadLinkFS)
			if !ok {
				return nil
			}
			target, err := rl.ReadLink(p)
			if err != nil {
				return err
			}
			n.Remove(dst)
			return n.Symlink(target, dst)
		case d.Type().IsRegular():
			b, err := fs.ReadFile(tree, p)
			if err != nil {
				return err
			}
			if err := n.WriteFile(dst, b, 0o600); err != nil {
				return err
			}
			return n.Chmod(dst, info.Mode().Perm())
		}
		return nil
	})
}

// plantNode gives a node its level and runit state, after the install.
func (c *Cluster) plantNode(n *Node, no NodeOptions) error {
	fail := func(err error) error { return fmt.Errorf("clustertest: %s: %w", n.Name, err) }
	switch {
	case no.LevelMissing:
		if err := n.Remove(migration.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fail(err)
		}
	case no.Level != nil:
		if err := n.WriteFile(migration.Path, []byte(*no.Level), 0o644); err != nil {
			return fail(err)
		}
	}
	r := no.Runit
	ctx := context.Background()
	for _, s := range r.Unlinked {
		if err := n.Remove(path.Join(ecmodel.ServiceDir, s)); err != nil {
			return fail(fmt.Errorf("unlink %s: %w", s, err))
		}
	}
	for _, l := range r.Links {
		link := path.Join(ecmodel.ServiceDir, l.Name)
		if l.Name == "" || strings.Contains(l.Name, "/") {
			return fail(fmt.Errorf("link name %q", l.Name))
		}
		target := l.Target
		if !path.IsAbs(target) {
			target = path.Join(ecmodel.ServiceDir, target)
		}
		if _, err := n.Stat(target); err != nil && !l.Dangling {
			if err := n.MkdirAll(target, 0o755); err != nil {
				return fail(err)
			}
		}
		n.Remove(link)
		if err := n.Symlink(l.Target, link); err != nil {
			return fail(fmt.Errorf("link %s: %w", link, err))
		}
	}
	if r.Jobs != nil {
		for _, j := range slices.Clone(n.jobs) {
			if !slices.Contains(r.Jobs, j) {
				n.StopJob(ctx, j)
			}
		}
		// The replica runs the jobs the node ran, its services supervised
		// by them, with no runsv left over from the ones stopped here.
		n.orphaned = false
		for _, j := range r.Jobs {
			if !slices.Contains(n.jobs, j) {
				if err := n.StartJob(ctx, j); err != nil {
					return fail(err)
				}
			}
		}
	}
	for _, s := range r.Down {
		if out, code := n.Sv(ctx, "stop", s, 7*time.Second, true); code != 0 {
			return fail(fmt.Errorf("stop %s: %s", s, strings.TrimSpace(out)))
		}
	}
	for _, s := range r.Up {
		if out, code := n.Sv(ctx, "start", s, 7*time.Second, true); code != 0 {
			return fail(fmt.Errorf("start %s: %s", s, strings.TrimSpace(out)))
		}
	}
	for _, f := range r.Files {
		if f.Mode != 0 {
			if err := n.Chmod(f.Path, f.Mode); err != nil {
				return fail(err)
			}
		}
		if f.Owner != "" {
			if err := n.Chown(f.Path, f.Owner); err != nil {
				return fail(err)
			}
		}
	}
	for _, p := range r.Missing {
		if err := n.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fail(err)
		}
	}
	if r.RunsvdirLog != "" {
		n.runsvLog = r.RunsvdirLog
	}
	for _, p := range r.Processes {
		n.procs = append(n.procs, p)
		// partybus holds an exclusive flock of the level file while it runs
		// (partybus/lib/partybus/migration_state.rb): another cannot take it.
		if isPartybus(p) {
			if err := ecmodel.Arm(n, ecmodel.PartybusLocked); err != nil {
				return fail(err)
			}
		}
	}
	n.diskFull = n.diskFull || r.LogFSFull
	return nil
}

// isPartybus reports a partybus command line: the program, or the script
// its ruby runs.
func isPartybus(args string) bool {
	f := strings.Fields(args)
	for i := 0; i < len(f) && i < 3; i++ {
		if path.Base(f[i]) == "partybus" {
			return true
		}
	}
	return false
}

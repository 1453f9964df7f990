package ecmodel

import (
	"io/fs"
	"path"
	"strings"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/internal/packaging"
)

// Owners and modes as the release's directory, file and template
// resources set them, read from the packaging table: the services' log
// directories and what the recipes declare under /etc/opscode.

// pkgRole is the node's role as the packaging table names it.
func (n *Node) pkgRole() packaging.Role {
	switch {
	case n.Topology.Kind == cluster.TopologyStandalone || n.Topology.Kind == cluster.TopologyManual:
		return packaging.Standalone
	case n.Bootstrap():
		return packaging.Bootstrap
	case n.Backend():
		return packaging.Backend
	}
	return packaging.Frontend
}

// logDirResource is the directory resource of a service's log directory
// (the table's Service.Log); false where the table has no such service.
func (r Release) logDirResource(service string) (packaging.Dir, bool) {
	p, ok := r.packaging()
	if !ok {
		return packaging.Dir{}, false
	}
	s, ok := p.Service(service)
	return s.Log, ok
}

// ownLogDir gives a service's log directory the owner, group and mode its
// directory resource sets (e.g. opscode 0700; 1.4.6's nagios root:
// opscode-nagios 0775; postgresql's opscode-pgsql, no mode). fresh says
// the reconfigure just made it. Where no resource declares it, it stays
// as whatever made it. bugOwner, when set, is OC-11426's: every
// directory left to /var/log/opscode's owner.
func (n *Node) ownLogDir(service, dir string, fresh bool, fallback, bugOwner string) {
	h := n.H
	d, ok := n.Installed.logDirResource(service)
	switch {
	case bugOwner != "":
		h.Chown(dir, bugOwner)
	case !ok:
		h.Chown(dir, fallback) // a service the table does not know
	case d.Managed.Value:
		setOwnerMode(h, dir, d.Owner.Value, d.Group.Value, d.Mode.Value, fresh)
	}
}

// layEtcOpscode is the /etc/opscode resources of the recipes that run on
// the node (recipes/default.rb's keys and chef-server-running.json,
// log_cleanup's logrotate.conf, the services' logrotate.d files): a
// missing file is written (the model's stand-in content, the same on
// every node), and every resource's owner, group and mode are set, as
// Chef's file resource does to an existing file on every run. Resources
// under a condition and the library-written secrets are left alone.
func (n *Node) layEtcOpscode() {
	if p, ok := n.Installed.packaging(); ok {
		n.layFiles(p.EtcOpscodeFor(n.pkgRole()), func(f packaging.File) bool { return f.Kind != "library" }, func(packaging.File) bool { return true })
	}
}

// layServiceFiles gives the files the recipes lay down for the node's
// services the owner, group and mode their resources set (from 11.1.7 six
// services' are opscode's: OC-11656). A missing configuration (a path
// under an etc directory) is written as a stand-in; any other file, a
// start script or cluster.sh, is the model's own business or absent, so
// only an existing one is touched. It runs after the model wrote its own
// files, whose content it keeps.
func (n *Node) layServiceFiles() {
	if p, ok := n.Installed.packaging(); ok {
		n.layFiles(p.ServiceFilesFor(n.pkgRole()), func(f packaging.File) bool { return p.IsServiceRecipe(f.Recipe) },
			func(f packaging.File) bool { return strings.Contains(f.Path, "/etc/") })
	}
}

// layFiles applies the resources keep accepts, each under no condition: a
// missing path that create accepts is made (a directory, or a stand-in
// file), and each gets its resource's owner, group and mode.
func (n *Node) layFiles(files []packaging.File, keep, create func(packaging.File) bool) {
	h := n.H
	for _, f := range files {
		if f.Conditional || !keep(f) {
			continue
		}
		_, err := h.Lstat(f.Path)
		fresh := err != nil
		switch {
		case fresh && !create(f):
			continue
		case fresh && f.Kind == "directory":
			h.MkdirAll(f.Path, 0o755)
		case fresh:
			h.MkdirAll(path.Dir(f.Path), 0o755)
			h.WriteFile(f.Path, []byte("(the model's "+f.Path+")\n"), 0o644)
		}
		setOwnerMode(h, f.Path, f.Owner.Value, f.Group.Value, f.Mode.Value, fresh)
	}
}

// serviceFileMode is the mode the release's recipes give a file they lay
// down for a service (the table's ServiceFiles; the last declaration
// wins), 0644 where the table has none.
func (r Release) serviceFileMode(p string) fs.FileMode {
	mode := fs.FileMode(0o644)
	if rel, ok := r.packaging(); ok {
		for _, f := range rel.ServiceFiles {
			if m, err := packaging.ParseMode(f.Mode.Value); f.Path == p && err == nil {
				mode = m
			}
		}
	}
	return mode
}

// setOwnerMode applies a resource's owner, group and mode to p. An empty
// one leaves an existing path's as it is; a path the resource just made
// (fresh) is root's, with the mode the umask gave it (Chef's file and
// directory providers).
func setOwnerMode(h Files, p, owner, group, mode string, fresh bool) {
	if owner != "" || group != "" || fresh {
		u, g := "root", "root"
		if !fresh {
			if cur, err := h.Owner(p); err == nil {
				u, g, _ = strings.Cut(cur, ":")
			}
		}
		if owner != "" {
			u = owner
		}
		if group != "" {
			g = group
		}
		h.Chown(p, u+":"+g)
	}
	if mode != "" {
		if m, err := packaging.ParseMode(mode); err == nil {
			h.Chmod(p, m)
		}
	}
}

package ecmodel

import (
	"bytes"
	"fmt"
	"github.com/chefha/chefha/issue"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/chefha/chefha/cluster"
)

// Node is one Enterprise Chef node as the model sees it on its host: its
// place in private-chef.rb, the installed package (what private-chef-ctl
// behaves like) and the configured release (what the last reconfigure
// laid down: services, runsvdir job).
type Node struct {
	H          Host
	Topology   cluster.Topology
	Me         cluster.Server
	Installed  Release
	Configured Release
	// upgrading is set while `private-chef-ctl upgrade` runs its
	// reconfigure and partybus.
	upgrading bool
}

// Load reads the node's identity and releases from its host.
func Load(h Host) (*Node, error) {
	rb, err := h.ReadFile(TopologyPath)
	if err != nil {
		return nil, fmt.Errorf("ecmodel: %s: %w", TopologyPath, err)
	}
	top, err := cluster.ParseTopology(bytes.NewReader(rb))
	if err != nil {
		return nil, fmt.Errorf("ecmodel: %s: %w", TopologyPath, err)
	}
	me, ok := top.Server(h.Hostname())
	if !ok {
		return nil, fmt.Errorf("ecmodel: %s has no server %q", TopologyPath, h.Hostname())
	}
	inst, err := InstalledVersion(h)
	if err != nil {
		return nil, err
	}
	n := &Node{H: h, Topology: top, Me: me}
	if n.Installed, ok = Releases()[inst]; !ok {
		return nil, fmt.Errorf("ecmodel: no release %q (from its version file)", inst)
	}
	n.Configured = n.Installed
	if b, err := h.ReadFile(ModelDir + "/release"); err == nil {
		if r, ok := Releases()[strings.TrimSpace(string(b))]; ok {
			n.Configured = r
		}
	}
	return n, nil
}

// VersionFile is the file in which a release's package names its version,
// and what it holds: from 1.4 on the version manifest ("private-chef
// 1.4.6"; config/projects/private-chef.rb:59 @1.4.6, deps "version-manifest");
// Private Chef 1.2 has none but /opt/opscode/pc-version.txt, whose first
// line is "Opscode Private Chef" and the build version, then a blank line
// and the software versions (config/software/pc-version.rb @1.2.8.3). The
// model's 1.2.8 is the 1.2.8.3 build.
func VersionFile(version string) (path string, content []byte) {
	if strings.HasPrefix(version, "1.2.") {
		if strings.Count(version, ".") == 2 {
			version += ".3"
		}
		return PCVersionPath, []byte("Opscode Private Chef " + version + "\n\n")
	}
	return ManifestPath, []byte("private-chef " + version + "\n")
}

// InstalledVersion reads the package version as the model's releases name
// it, from the version manifest or, on Private Chef 1.2, pc-version.txt.
func InstalledVersion(h Files) (string, error) {
	b, err := h.ReadFile(ManifestPath)
	if err != nil {
		pc, err2 := h.ReadFile(PCVersionPath)
		if err2 != nil {
			return "", fmt.Errorf("ecmodel: %s: %w (nor %s)", ManifestPath, err, PCVersionPath)
		}
		f := strings.Fields(strings.SplitN(string(pc), "\n", 2)[0])
		if len(f) != 4 || strings.Join(f[:3], " ") != "Opscode Private Chef" {
			return "", fmt.Errorf("ecmodel: %s: first line is not \"Opscode Private Chef VERSION\"", PCVersionPath)
		}
		parts := strings.Split(f[3], ".")
		return strings.Join(parts[:min(3, len(parts))], "."), nil
	}
	f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0])
	if len(f) < 2 || f[0] != "private-chef" {
		return "", fmt.Errorf("ecmodel: %s: first line is not \"private-chef VERSION\"", ManifestPath)
	}
	return f[1], nil
}

// WriteVersionFile writes version's VersionFile on h and removes the other
// kind, as a package install replaces the old package's files.
func WriteVersionFile(h Files, version string) error {
	p, content := VersionFile(version)
	for _, other := range []string{ManifestPath, PCVersionPath} {
		if other != p {
			h.Remove(other)
		}
	}
	return h.WriteFile(p, content, 0o644)
}

// Backend, Bootstrap and HA describe the node's role.
func (n *Node) Backend() bool   { return n.Me.IsBackend() }
func (n *Node) Bootstrap() bool { return n.Me.Bootstrap }

// HATopology reports topology "ha" (keepalived and DRBD on back ends).
func (n *Node) HATopology() bool { return n.Topology.Kind == cluster.TopologyHA }

// Status reads a cluster status file, "" when missing.
func (n *Node) Status(file string) string {
	b, err := n.H.ReadFile(file)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// Bug reports whether a known issue (or an emulation switch) is armed on
// this node.
func (n *Node) Bug(id issue.ID) bool { return slices.Contains(Bugs(n.H), id) }

// Bugs lists the known issues armed on a host.
func Bugs(h Files) []issue.ID {
	b, _ := h.ReadFile(ModelDir + "/bugs")
	var out []issue.ID
	for _, f := range strings.Fields(string(b)) {
		out = append(out, issue.ID(f))
	}
	return out
}

// Arm turns a known issue on for a host.
func Arm(h Files, id issue.ID) error {
	if slices.Contains(Bugs(h), id) {
		return nil
	}
	return h.AppendFile(ModelDir+"/bugs", []byte(string(id)+"\n"), 0o644)
}

// Disarm turns a known issue off (OC-11382 fires once).
func Disarm(h Files, id issue.ID) error {
	var keep strings.Builder
	for _, b := range Bugs(h) {
		if b != id {
			keep.WriteString(string(b) + "\n")
		}
	}
	return h.WriteFile(ModelDir+"/bugs", []byte(keep.String()), 0o644)
}

// Harm records damage the real software would have done.
func (n *Node) Harm(format string, a ...any) {
	n.H.AppendFile(ModelDir+"/harm", []byte(n.Me.Name+": "+fmt.Sprintf(format, a...)+"\n"), 0o644)
}

// HarmDone lists the damage recorded on a host.
func HarmDone(h Files) []string {
	b, _ := h.ReadFile(ModelDir + "/harm")
	return lines(string(b))
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// log appends a cluster.log line as cluster.sh's log_me does:
// "$(date -R): MSG".
func (n *Node) log(msg string) {
	n.H.AppendFile(ClusterLogPath, []byte(n.H.Now().Format("Mon, 02 Jan 2006 15:04:05 -0700")+": "+msg+"\n"), 0o644)
}

// linked reports whether the service is enabled (omnibus-ctl's
// service_enabled?: File.symlink?(service_path/NAME)).
func (n *Node) linked(name string) bool {
	st, err := n.H.Lstat(path.Join(ServiceDir, name))
	return err == nil && st.Mode()&fs.ModeSymlink != 0
}

// svNames lists sv/* (omnibus-ctl's get_all_services, sorted).
func (n *Node) svNames() []string {
	ents, _ := n.H.ReadDir(SvDir)
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	slices.Sort(out)
	return out
}

// haServices globs sv/*/keepalive_me as 11.x's cluster.sh and ha.rb do.
func (n *Node) haServices() []string {
	var out []string
	for _, s := range n.svNames() {
		if _, err := n.H.Lstat(path.Join(SvDir, s, "keepalive_me")); err == nil {
			out = append(out, s)
		}
	}
	return out
}

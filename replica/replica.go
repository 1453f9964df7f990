package replica

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/upgrade"
)

// Source is production as read for a replica.
type Source struct {
	// Facts are production's facts as upgrade.Gather returned them, in
	// memory: the saved form (Facts.Save) has private-chef.rb's secrets
	// redacted, and a replica built from it would not be production's.
	Facts upgrade.Facts
	// Bootstrap is production's bootstrap, from which /etc/opscode is
	// copied (read only). Nil: the replica gets private-chef.rb from the
	// facts and simulated keys and secrets.
	Bootstrap cluster.Node
}

// Options shape a replica.
type Options struct {
	// Target runs the replica (default Simulation{}).
	Target Target
	// Dir is where the replica's private directory is made (default: a
	// memory file system where there is one, else os.TempDir()).
	Dir string
	// Volume is the bootstrap's LVM volume under DRBD as production has
	// it (ReadVolume), for a rehearsal that backs up with an LVM snapshot.
	Volume *Volume
}

// Replica is a running replica of a production cluster.
type Replica struct {
	// Spec is what was reproduced.
	Spec Spec
	// Report lists what the replica reproduces and what it cannot.
	Report Report
	dir    string
	inst   Instance
	// source is the production cluster copied (upgrade.ClusterDigest).
	source string
}

// New builds a replica of the cluster src describes and starts it on
// o.Target. Close it when done: that stops it and removes its private
// directory, the copy of /etc/opscode with it. The directories of
// replicas whose process died without Close are removed first.
func New(ctx context.Context, src Source, o Options) (*Replica, error) {
	if o.Target == nil {
		o.Target = Simulation{}
	}
	base := o.Dir
	if base == "" {
		base = memoryDir()
	}
	removeLeftovers(base)
	dir, err := os.MkdirTemp(base, "chefha-replica-")
	if err != nil {
		return nil, fmt.Errorf("replica: %w", err)
	}
	r := &Replica{dir: dir, source: upgrade.ClusterDigest(src.Facts)}
	if err := claim(dir); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("replica: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			r.Close()
		}
	}()
	var etc *Tree
	if src.Bootstrap != nil {
		if etc, err = CopyTree(ctx, src.Bootstrap, upgrade.EtcOpscode, filepath.Join(dir, "etc-opscode")); err != nil {
			return nil, fmt.Errorf("replica: %w", err)
		}
	}
	if r.Spec, err = FromFacts(src.Facts, etc, o.Target.Releases()); err != nil {
		return nil, err
	}
	r.Spec.Volume = o.Volume
	if o.Volume != nil {
		r.Spec.Carried = append(r.Spec.Carried, "LVM: "+o.Volume.String())
	}
	if etc != nil {
		if err := r.nodeTrees(src.Facts, etc); err != nil {
			return nil, err
		}
	}
	if r.inst, err = o.Target.Start(ctx, r.Spec, filepath.Join(dir, "cluster")); err != nil {
		return nil, err
	}
	r.Report = Report{Target: o.Target.Name(), Nodes: len(r.Spec.Topology.Servers), Reproduced: r.Spec.Carried,
		NotReproduced: append(append([]string{}, r.Spec.Notes...), r.inst.Limits()...)}
	ok = true
	return r, nil
}

// differs is what a replica puts in place of a file whose content on a
// node differs from the bootstrap's: the facts hold only its SHA-256.
const differs = "# chefha replica: on production this file differs from the bootstrap's; only its SHA-256 was read, not its content\n"

// nodeTrees gives each node whose /etc/opscode differs from the
// bootstrap's (by the facts' sums) a tree of its own: the bootstrap's
// with those files replaced (private-chef.rb by the node's own, read with
// the facts), removed or added.
func (r *Replica) nodeTrees(f upgrade.Facts, etc *Tree) error {
	boot, _ := f.Topology.Bootstrap()
	bf, _ := f.Node(boot.Name)
	for i, n := range f.Nodes {
		if n.Node == boot.Name {
			continue
		}
		differ, missing, extra := etcDiff(bf, n)
		if len(differ)+len(missing)+len(extra) == 0 {
			continue
		}
		change := map[string][]byte{}
		var unknown []string
		for _, p := range append(differ, extra...) {
			rel := strings.TrimPrefix(p, upgrade.EtcOpscode+"/")
			if p == cluster.TopologyPath {
				if rb, ok := n.Sections["topology"]; ok && rb.RC == 0 {
					change[rel] = []byte(rb.Output)
					continue
				}
			}
			change[rel] = []byte(differs)
			unknown = append(unknown, p)
		}
		for _, p := range missing {
			change[strings.TrimPrefix(p, upgrade.EtcOpscode+"/")] = nil
		}
		t, err := etc.derive(filepath.Join(r.dir, fmt.Sprintf("etc-opscode-%d", i)), change, 0o600)
		if err != nil {
			return fmt.Errorf("replica: %s's /etc/opscode: %w", n.Node, err)
		}
		ns := r.Spec.Nodes[n.Node]
		ns.EtcOpscode = t.FS()
		r.Spec.Nodes[n.Node] = ns
		r.Spec.Carried = append(r.Spec.Carried, fmt.Sprintf("%s: /etc/opscode differs from the bootstrap's: %s", n.Node, describeDiff(differ, missing, extra)))
		if len(unknown) > 0 {
			r.Spec.Notes = append(r.Spec.Notes, fmt.Sprintf("%s: the content of %s (it differs from the bootstrap's; the replica has a placeholder)", n.Node, strings.Join(unknown, ", ")))
		}
	}
	return nil
}

func describeDiff(differ, missing, extra []string) string {
	var parts []string
	for _, p := range []struct {
		what  string
		paths []string
	}{{"differ", differ}, {"missing", missing}, {"only there", extra}} {
		if len(p.paths) > 0 {
			names := make([]string, len(p.paths))
			for i, x := range p.paths {
				names[i] = path.Base(x)
			}
			parts = append(parts, p.what+": "+strings.Join(names, ", "))
		}
	}
	return strings.Join(parts, "; ")
}

// Dir is the replica's private directory (0700): the copy of
// /etc/opscode, the nodes' trees, the SSH config and key.
func (r *Replica) Dir() string { return r.dir }

// SSHConfig is the replica's OpenSSH client config: production's names,
// the replica's nodes.
func (r *Replica) SSHConfig() string { return r.inst.SSHConfig() }

// Instance is the running cluster on the target.
func (r *Replica) Instance() Instance { return r.inst }

// Rehearse runs production's plan on the replica to the end
// (upgrade.Rehearse: refused with *upgrade.ReplicaMismatchError if the
// replica's plan is not the same) and records with it what the replica
// could not reproduce. opts are the upgrade's inputs, as for production.
func (r *Replica) Rehearse(ctx context.Context, plan upgrade.Plan, opts ...upgrade.Option) (upgrade.Rehearsal, error) {
	cl, err := r.Dial(ctx)
	if err != nil {
		if cl != nil {
			cl.Close()
		}
		return upgrade.Rehearsal{}, fmt.Errorf("replica: %w", err)
	}
	defer cl.Close()
	rh, err := upgrade.Rehearse(ctx, cl, plan, opts...)
	if err != nil {
		return rh, err
	}
	rh.NotReproduced = append([]string{}, r.Report.NotReproduced...)
	rh.Cluster = r.source
	return rh, nil
}

// Dial reaches every node of the replica under production's names.
func (r *Replica) Dial(ctx context.Context) (*cluster.Cluster, error) {
	return cluster.Dial(ctx, r.Spec.Topology, cluster.ServerConfigs(r.inst.SSHConfig(), false))
}

// Close stops the replica and removes its private directory.
func (r *Replica) Close() error {
	var err error
	if r.inst != nil {
		err = r.inst.Close()
	}
	if rerr := os.RemoveAll(r.dir); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
		err = errors.Join(err, rerr)
	}
	return err
}

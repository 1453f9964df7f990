package clustertest

import (
	"context"
	"slices"

	"github.com/chefha/chefha/internal/ecmodel"
)

// drbd is the pair's resource pc0: the model's DRBDPair (the one the lab
// uses too), on the cluster's clock, and whether the secondary's
// replication address answers.
type drbd struct {
	c           *Cluster
	pair        *ecmodel.DRBDPair
	unreachable bool
}

func newDRBD(c *Cluster) *drbd {
	return &drbd{c: c, pair: ecmodel.NewDRBDPair(c.boot.Name, c.sec.Name)}
}

// fault puts the pair in a failure state the secondary suffers.
func (d *drbd) fault(f ecmodel.DRBDFault) error {
	if err := d.pair.Fault(f, d.c.sec.Name, d.c.now()); err != nil {
		return err
	}
	switch f.Kind {
	case "disconnect", "peer-unreachable", "reconnect":
		d.unreachable = f.Kind == "peer-unreachable"
	}
	return nil
}

// proc is /proc/drbd on n.
func (d *drbd) proc(n *Node) string { return d.pair.Proc(n.Name, d.c.now()) }

// DRBDAdm is drbdadm 8.4 for resource pc0.
func (n *Node) DRBDAdm(ctx context.Context, args ...string) (string, int) {
	if !n.backend() {
		return "drbdadm: command not found\n", 127
	}
	out, code, harm := n.c.drbd.pair.Adm(n.Name, slices.Contains(n.mounts, ecmodel.DRBDDataDir), n.c.now(), args...)
	if harm != "" {
		n.AppendFile(ecmodel.ModelDir+"/harm", []byte(n.Name+": "+harm+"\n"), 0o644)
	}
	return out, code
}

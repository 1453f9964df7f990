package replica

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/chefha/chefha/clustertest"
	"github.com/chefha/chefha/internal/ecmodel"
)

// Target is where a replica runs: the in-process simulation
// (Simulation), or a lab of real sshd, runit and keepalived.
type Target interface {
	// Name says what the target is, for the report ("simulation").
	Name() string
	// Releases are the releases the target can run.
	Releases() []Release
	// Start builds the cluster spec describes, its files in dir (a new
	// directory inside the replica's private one, removed with it), and
	// returns it running.
	Start(ctx context.Context, spec Spec, dir string) (Instance, error)
}

// Instance is a replica's running cluster.
type Instance interface {
	// SSHConfig is the path of an OpenSSH client config that names every
	// node by its production name, with the key and known_hosts it uses.
	SSHConfig() string
	// Limits are what of production the target cannot reproduce.
	Limits() []string
	Close() error
}

// Simulation runs the replica in this process: clustertest's emulated
// nodes behind real SSH servers on 127.0.0.1.
type Simulation struct {
	// Clock, Sleep and TransitionTime are clustertest.Options': a test
	// passes a fake clock so that the rehearsal's waits take no time.
	Clock          func() time.Time
	Sleep          func(time.Duration)
	TransitionTime time.Duration
	// Churn is how many bytes of the LVM volume each write of a node
	// under /var/opt/opscode rewrites (clustertest.LVM.Churn).
	Churn int64
}

func (Simulation) Name() string { return "simulation" }

// Releases are the releases clustertest's model knows.
func (Simulation) Releases() []Release {
	var out []Release
	for v, r := range ecmodel.Releases() {
		out = append(out, Release{Version: v, Backend: r.Services(true, false), Boot: r.BootstrapOnly(), Frontend: r.Services(false, false)})
	}
	sort.Slice(out, func(i, j int) bool { return versionLess(out[i].Version, out[j].Version) })
	return out
}

// Start starts the simulated cluster.
func (s Simulation) Start(ctx context.Context, spec Spec, dir string) (Instance, error) {
	var known []string
	for _, r := range s.Releases() {
		known = append(known, r.Version)
	}
	o := clustertest.Options{Version: spec.Version, PrivateChefRB: spec.PrivateChefRB, EtcOpscode: spec.EtcOpscode, Master: spec.Master,
		Nodes: map[string]clustertest.NodeOptions{}, Clock: s.Clock, Sleep: s.Sleep, TransitionTime: s.TransitionTime}
	for name, n := range spec.Nodes {
		for _, v := range []string{n.Installed, n.Running} {
			if !slices.Contains(known, v) {
				return nil, fmt.Errorf("replica: %s runs private-chef %s, which the simulation does not model (it has %s)", name, v, strings.Join(known, ", "))
			}
		}
		o.Nodes[name] = clustertest.NodeOptions{Installed: n.Installed, Running: n.Running, Level: n.Level, LevelMissing: n.LevelMissing,
			EtcOpscode: n.EtcOpscode, OSRelease: n.OSRelease, Runit: n.Runit}
	}
	if f := spec.DRBD; f != nil {
		switch f.Kind {
		case "split-brain":
			o.Knobs = append(o.Knobs, clustertest.SplitBrain())
		case "resync":
			o.Knobs = append(o.Knobs, clustertest.DRBDResync(f.Done, f.Speed))
		case "standalone":
			o.Knobs = append(o.Knobs, clustertest.DRBDStandAlone())
		case "disconnect":
			o.Knobs = append(o.Knobs, clustertest.DRBDDisconnected())
		case "inconsistent":
			o.Knobs = append(o.Knobs, clustertest.DRBDInconsistent())
		case "peer-unreachable":
			o.Knobs = append(o.Knobs, clustertest.DRBDPeerUnreachable())
		default:
			return nil, fmt.Errorf("replica: DRBD state %q", f.Kind)
		}
	}
	if v := spec.Volume; v != nil {
		o.LVM = &clustertest.LVM{VG: v.VG, LV: v.LV, Size: v.Size, ExtentSize: v.ExtentSize, Free: v.Free, Used: v.Used, Version: v.Version, Churn: s.Churn}
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, err
	}
	o.Dir = dir
	sim, err := clustertest.New(o)
	if err != nil {
		return nil, fmt.Errorf("replica: %w", err)
	}
	ssh := filepath.Join(dir, "ssh")
	if err := os.Mkdir(ssh, 0o700); err != nil {
		sim.Close()
		return nil, err
	}
	conf, err := sim.WriteSSHConfig(ssh)
	if err != nil {
		sim.Close()
		return nil, err
	}
	return &simInstance{sim: sim, conf: conf, spec: spec, churn: s.Churn}, nil
}

type simInstance struct {
	sim   *clustertest.Cluster
	conf  string
	spec  Spec
	churn int64
}

func (i *simInstance) SSHConfig() string { return i.conf }
func (i *simInstance) Close() error      { return i.sim.Close() }

// Cluster is the simulated cluster, for a test to look into.
func (i *simInstance) Cluster() *clustertest.Cluster { return i.sim }

func (i *simInstance) Limits() []string {
	out := []string{
		"DRBD: the pair's replication is emulated, its state planted from production's; the replicated data, its size and the resync's real speed are not production's",
		"the packages' contents: the replica's nodes install the same package files (name, version, SHA-256) but run chefha's model of Enterprise Chef — its private-chef-ctl, reconfigure, partybus and cluster.sh — not the packaged services, chef-solo recipes and migrations",
		"the data: no PostgreSQL, CouchDB, Solr or RabbitMQ data; a migration that fails on production's data (OC-11658's authz migration, a schema change) does not fail here",
		"time: services start and stop, keepalived transitions and the upgrade's sleep on the simulation's clock; step durations and gate waits are the model's, not production's",
		"processes: only the supervision tree (runsvdir, runsv, svlogd, the services), cluster.sh and the leftover control and partybus processes production had; no other process, no resource use",
		"users and groups: owners by name (root, opscode); the numeric ids production's stat printed are not kept",
		"network: the nodes listen on 127.0.0.1 (one SSH port each), reached under production's names through the replica's SSH config; addresses and the VIP are production's only as the nodes report them",
		"hardware, kernel and operating system: /etc/os-release is production's; the packaging's dpkg or rpm is emulated",
	}
	if v := i.spec.Volume; v != nil {
		churn := i.churn
		if churn == 0 {
			churn = 1 << 20
		}
		out = append(out, fmt.Sprintf("LVM: %s/%s is emulated with production's sizes; a snapshot fills by a model (each write of the bootstrap under /var/opt/opscode rewrites %s), not by production's write rate", v.VG, v.LV, bytesIEC(churn)))
	} else {
		out = append(out, "LVM: production's volume was not read; the replica's back ends have the default opscode/drbd")
	}
	return out
}

package upgrade

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/chefha/chefha/drbd"
	"github.com/chefha/chefha/internal/packaging"
	"github.com/chefha/chefha/keepalived"
	"github.com/chefha/chefha/migration"
	"github.com/chefha/chefha/runit"
)

// nodeView is a node's facts with each section parsed at most once: the
// checks of one judgement share it, so a 200-node pre-flight does not parse
// every ps listing once per check that reads it.
type nodeView struct {
	NodeFacts

	version  *memo[string]
	ps       *memo[[]runit.Process]
	services *memo[[]runit.ServiceStatus]
	stats    []runit.FileStat
	statsOK  bool
	level    *memo[migration.Level]
	ka       *keepalived.NodeState // for kaVIP
	kaVIP    string
}

type memo[T any] struct {
	v   T
	err error
}

func remember[T any](m **memo[T], fn func() (T, error)) (T, error) {
	if *m == nil {
		v, err := fn()
		*m = &memo[T]{v, err}
	}
	return (*m).v, (*m).err
}

func (n *nodeView) Version() (string, error) {
	return remember(&n.version, n.NodeFacts.Version)
}

func (n *nodeView) Processes() ([]runit.Process, error) {
	return remember(&n.ps, n.NodeFacts.Processes)
}

func (n *nodeView) Services() ([]runit.ServiceStatus, error) {
	return remember(&n.services, n.NodeFacts.Services)
}

func (n *nodeView) Level() (migration.Level, error) {
	return remember(&n.level, n.NodeFacts.Level)
}

// KeepalivedState is NodeFacts.KeepalivedState worked out once: three
// checks read the pair, and cluster.log is the longest section to parse.
func (n *nodeView) KeepalivedState(vip string) keepalived.NodeState {
	if n.ka == nil || n.kaVIP != vip {
		st := n.NodeFacts.KeepalivedState(vip)
		n.ka, n.kaVIP = &st, vip
	}
	return *n.ka
}

// isEC11 reports whether the node's installed package is Enterprise Chef 11.
// packaging is the packaging's facts for the node's installed release
// (the nearest below it in the table when it is not there), false when
// its version is unknown.
func (n *nodeView) packaging() (packaging.Release, bool) {
	v, err := n.Version()
	if err != nil {
		return packaging.Release{}, false
	}
	rel, _, ok := packaging.Nearest(v)
	return rel, ok
}

func (n *nodeView) isEC11() bool {
	v, err := n.Version()
	return err == nil && strings.HasPrefix(v, "11.")
}

// Stats parses the stat section (stat's complaints about missing files
// went to the same output; they are what "missing" means, so they are
// skipped).
func (n *nodeView) Stats() []runit.FileStat {
	if !n.statsOK {
		var keep []string
		for _, l := range strings.Split(n.Sections["stat"].Output, "\n") {
			if l != "" && !strings.HasPrefix(l, "stat: ") {
				keep = append(keep, l)
			}
		}
		n.stats, _ = runit.ParseStat(strings.NewReader(strings.Join(keep, "\n")))
		n.statsOK = true
	}
	return n.stats
}

// Stat returns one path's stat.
func (n *nodeView) Stat(path string) (runit.FileStat, bool) {
	for _, s := range n.Stats() {
		if s.Path == path {
			return s, true
		}
	}
	return runit.FileStat{}, false
}

// keepalivedRunning reports whether a keepalived process runs.
func (n *nodeView) keepalivedRunning() bool {
	ps, err := n.Processes()
	if err != nil {
		return false
	}
	for _, p := range ps {
		if strings.HasSuffix(p.Name(), "keepalived") {
			return true
		}
	}
	return false
}

// upServices lists the node's running services (keepalived aside).
func (n *nodeView) upServices() []string {
	svcs, err := n.Services()
	if err != nil {
		return nil
	}
	var up []string
	for _, s := range svcs {
		if s.State == runit.StateRun && s.Service != "keepalived" {
			up = append(up, s.Service)
		}
	}
	return up
}

// notHA are the services that run on a back end whatever its keepalived
// role, whatever the release (packaging.NeverHA: keepalived itself, 1.x's
// nrpe, EC 11's opscode-chef-mover). Every other service is an HA
// service: cluster.sh starts it on the master and stops it on the backup
// (1.x gen_keepalived; 11.x the services with an sv/NAME/keepalive_me
// file). One list for every release: mid-upgrade a node runs services of
// two.
var notHA = packaging.NeverHA()

// haUp lists the node's running HA services.
func (n *nodeView) haUp() []string {
	var out []string
	for _, s := range n.upServices() {
		if !slices.Contains(notHA, s) {
			out = append(out, s)
		}
	}
	return out
}

// DRBD is the node's DRBD resource (minor 0, pc0): from /proc/drbd, or
// from drbdadm's role, cstate and dstate where /proc/drbd cannot be read.
func (n *nodeView) DRBD() (drbd.Resource, error) {
	if out, ok := n.ok("drbd"); ok {
		st, err := drbd.ParseProc(strings.NewReader(out))
		if err != nil {
			return drbd.Resource{}, fmt.Errorf("/proc/drbd: %w", err)
		}
		if r, ok := st.Minor(0); ok {
			return r, nil
		}
		return drbd.Resource{}, fmt.Errorf("/proc/drbd has no minor 0 (%s): the DRBD resource %s is not set up", DRBDResourceDevice, DRBDResource)
	}
	r := drbd.Resource{Minor: 0}
	var errs []error
	var err error
	if r.Role, r.PeerRole, err = drbd.ParseRole([]byte(n.Sections["drbd-role"].Output)); err != nil {
		errs = append(errs, err)
	}
	if r.CState, err = drbd.ParseCState([]byte(n.Sections["drbd-cstate"].Output)); err != nil {
		errs = append(errs, err)
	}
	if r.Disk, r.PeerDisk, err = drbd.ParseDState([]byte(n.Sections["drbd-dstate"].Output)); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		proc, _ := n.ok("drbd")
		return drbd.Resource{}, fmt.Errorf("cannot read DRBD: /proc/drbd: %s; %w", strings.TrimSpace(proc), errors.Join(errs...))
	}
	return r, nil
}

// DRBDResourceDevice is the device of Enterprise Chef's DRBD resource.
const DRBDResourceDevice = "/dev/drbd0"

// drbdMounted reports whether the DRBD data directory is mounted.
func (n *nodeView) drbdMounted() bool {
	out, _ := n.ok("mounts")
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[1] == DRBDDataDir {
			return true
		}
	}
	return false
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	return s[strings.LastIndexByte(s, '\n')+1:]
}

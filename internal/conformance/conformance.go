// Package conformance is the table of what the real Enterprise Chef
// software shows after a sequence of commands run over SSH — exit codes,
// the output lines chefha reads, files — written once and run against
// both hosts of the node model: the simulation (clustertest) and the lab
// (real runit, keepalived and sshd). Each case names the packaging fact it
// checks (the items of issue 12 by number; the facts are in
// internal/ecmodel's sources, each with its repository, tag and path).
package conformance

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chefha/chefha/internal/ecmodel"
)

// Role is the node a step runs on, by its place in the cluster.
type Role string

const (
	Bootstrap Role = "bootstrap"
	Secondary Role = "secondary"
	Frontend  Role = "frontend" // the first front end
)

// Case is a cluster of one version with knobs planted, and the steps run
// on it in order.
type Case struct {
	Name, Version string
	Knobs         []ecmodel.Knob
	Steps         []Step
	// ReadOnly: the steps change nothing on the nodes, so a host may run
	// the case on a cluster that other cases of the same version and
	// knobs ran on.
	ReadOnly bool
}

// Step is one command and what it must show.
type Step struct {
	Node   Role
	Argv   []string
	Code   int
	Has    []string // lines (or parts of lines) the output must contain
	HasNot []string
	// Within is how long after the step before it the expectation holds
	// at the latest. A host with its own clock moves it on by Within and
	// checks once; a host on real time runs the step again until it holds
	// or Slack(Within) has passed, so a step with Within only reads.
	Within time.Duration
	// Background starts the command detached and goes on at once, as
	// keepalived starts its notify script; the exit status is the start's.
	Background bool
}

// Slack is how long a host on real time retries a step that must hold
// within d: real programs (sv's polling, keepalived's adverts, the
// transitions' dozens of sv calls) take longer than the model's clock.
func Slack(d time.Duration) time.Duration { return 4*d + 15*time.Second }

// Host is a started cluster that runs a case's steps.
type Host interface {
	// Run runs argv on the node playing role over SSH and returns its
	// stdout, stderr and exit status.
	Run(t *testing.T, role Role, background bool, argv ...string) (stdout, stderr string, code int)
	// Advance lets d pass and reports true on a host with its own clock;
	// a host on real time reports false.
	Advance(d time.Duration) bool
}

func run1(node Role, code int, has []string, argv ...string) Step {
	return Step{Node: node, Argv: argv, Code: code, Has: has}
}

// hold plants ecmodel.HoldPath on the node sel picks; release is the
// step that removes it.
func hold(sel ecmodel.Selector) ecmodel.Knob {
	return ecmodel.KnobFile(string(sel), ecmodel.HoldPath, "", 0o644)
}

func release(node Role) Step { return run1(node, 0, nil, "rm", ecmodel.HoldPath) }

const (
	clusterSh = ecmodel.ClusterSh
	current   = ecmodel.CurrentPath
)

// Table is the conformance table.
func Table() []Case {
	slow := ecmodel.KnobOC11657
	return []Case{
		{Name: "1 stop-all stops keepalived before omnibus-ctl 0.1.1 (11.1.8: 0.0.7)", Version: "11.1.8", Steps: []Step{
			run1(Bootstrap, 0, []string{"ok: down: keepalived: "}, "private-chef-ctl", "stop"),
			{Node: Secondary, Argv: []string{"cat", current}, Within: 10 * time.Second, Has: []string{"master"}},
		}},
		{Name: "1 start-all starts the standby's HA services too", Version: "11.1.8", Steps: []Step{
			run1(Secondary, 0, []string{"ok: run: couchdb: "}, "private-chef-ctl", "start"),
		}},
		{Name: "2 no down files before 11.2.0: the standby's services are down, normally up", Version: "11.1.8", ReadOnly: true, Steps: []Step{
			run1(Secondary, 3, []string{"down: couchdb: ", ", normally up"}, "private-chef-ctl", "status"),
		}},
		{Name: "2 11.2.0 has down files: the standby is normally down, the master's run normally down", Version: "11.2.0", ReadOnly: true, Steps: []Step{
			{Node: Secondary, Argv: []string{"private-chef-ctl", "status", "couchdb"}, Code: 3, HasNot: []string{"normally up"}},
			run1(Bootstrap, 0, []string{"run: couchdb: ", ", normally down"}, "private-chef-ctl", "status", "couchdb"),
		}},
		{Name: "3 the 11.1.7+ wrapper's SVWAIT=30 beats the caller's", Version: "11.1.8", Knobs: []ecmodel.Knob{slow()}, Steps: []Step{
			run1(Bootstrap, 0, []string{"ok: down: opscode-expander"}, "env", "SVWAIT=5", "private-chef-ctl", "stop", "opscode-expander"),
		}},
		{Name: "3 before 11.1.7 the caller's SVWAIT counts", Version: "11.0.2", Knobs: []ecmodel.Knob{slow()}, Steps: []Step{
			run1(Bootstrap, 1, []string{"timeout: run: opscode-expander"}, "private-chef-ctl", "stop", "opscode-expander"),
			run1(Bootstrap, 0, []string{"ok: down: opscode-expander"}, "env", "SVWAIT=30", "private-chef-ctl", "stop", "opscode-expander"),
		}},
		// omnibus-ctl 0.0.6–0.1.1 graceful_kill ignores the stop's status
		// once it has the pid and its group, and SIGKILLs what is left:
		// cluster.sh's backup transition goes on to demote DRBD.
		{Name: "3 graceful-kill: a stop that times out is followed by SIGKILL, exit 0", Version: "11.0.2", Knobs: []ecmodel.Knob{slow()}, Steps: []Step{
			run1(Bootstrap, 0, []string{"timeout: run: opscode-expander", "found stuck pids still running in process group: ", ", sending SIGKILL"},
				"private-chef-ctl", "graceful-kill", "opscode-expander"),
			{Node: Bootstrap, Argv: []string{"private-chef-ctl", "status", "opscode-expander"}, Code: 3, Has: []string{"down: opscode-expander: "}},
		}},
		{Name: "4 status prints NAME disabled for an unlinked service", Version: "11.1.8",
			Knobs: []ecmodel.Knob{ecmodel.KnobServiceDisabled(string(ecmodel.Frontends), "nginx")}, ReadOnly: true, Steps: []Step{
				run1(Frontend, 0, []string{"nginx disabled"}, "private-chef-ctl", "status"),
			}},
		{Name: "5 ha-status early exit on a front end: exit 1, no verdict", Version: "11.1.8", ReadOnly: true, Steps: []Step{
			{Node: Frontend, Argv: []string{"private-chef-ctl", "ha-status"}, Code: 1, Has: []string{"[ERROR] keepalived HA services not enabled"}, HasNot: []string{"ERRORS WERE DETECTED"}},
		}},
		{Name: "5 ha-status: 7 (services) wins over 4 (DRBD)", Version: "11.1.8", ReadOnly: true,
			Knobs: []ecmodel.Knob{ecmodel.KnobDRBD(ecmodel.DRBDFault{Kind: "disconnect"}), ecmodel.KnobServiceDown(string(ecmodel.Bootstrap), "opscode-chef-mover")}, Steps: []Step{
				run1(Bootstrap, 7, []string{"[ERROR] my DRBD status is: ", "[ERROR] opscode-chef-mover is not running.", "[ERROR] ERRORS WERE DETECTED."}, "private-chef-ctl", "ha-status"),
			}},
		{Name: "6 omnibus-ctl returns the first non-zero sv exit; sv 1 for a missing directory", Version: "11.1.8", ReadOnly: true,
			Knobs: []ecmodel.Knob{slow(), ecmodel.KnobSlowStart("redis_lb", 12*time.Second)}, Steps: []Step{
				run1(Bootstrap, 1, []string{"fail: nosuch: unable to change to service directory: file does not exist"}, "sv", "status", "nosuch"),
				run1(Bootstrap, 0, nil, "private-chef-ctl", "stop", "nosuch"),
			}},
		{Name: "7 no upgrade sleep before 11.1.7; partybus lock: exit 0 and Upgraded!", Version: "11.0.2", Knobs: []ecmodel.Knob{ecmodel.KnobPartybusLocked()}, Steps: []Step{
			{Node: Frontend, Argv: []string{"private-chef-ctl", "upgrade"}, Has: []string{"ERROR: Unable to obtain file lock on /var/opt/opscode/upgrades/migration-level", "Chef Server Upgraded!"}, HasNot: []string{"Sleeping for 2 minutes"}},
		}},
		{Name: "7 must_be_data_master's banner on a bootstrap that is not master", Version: "11.0.2",
			Knobs: []ecmodel.Knob{ecmodel.KnobMigrationLevel(string(ecmodel.Bootstrap), `{"major":1,"minor":8}`)}, Steps: []Step{
				run1(Bootstrap, 0, []string{"ok: down: keepalived"}, "private-chef-ctl", "stop", "keepalived"),
				{Node: Bootstrap, Argv: []string{"cat", current}, Within: 10 * time.Second, Has: []string{"backup"}},
				{Node: Bootstrap, Argv: []string{"private-chef-ctl", "upgrade"}, Code: 1, Has: []string{"[private-chef-upgrade] - ****", "ERROR: ", "The bootstrap server must be the HA-master at the time of upgrade."}},
			}},
		{Name: "8 redis_lb first ships in 11.1.x; 1.x has opscode-authz; 1.2.8 has no bookshelf", Version: "1.2.8", ReadOnly: true, Steps: []Step{
			{Node: Bootstrap, Argv: []string{"private-chef-ctl", "status"}, Has: []string{"opscode-authz"}, HasNot: []string{"bookshelf", "redis_lb"}},
		}},
		// The transition is held (ecmodel.HoldPath) until the request has
		// been made: on real time it would otherwise race the request.
		{Name: "9 cluster.sh: a request during a transition logs and exits 1, the loop picks it up", Version: "11.1.8", Knobs: []ecmodel.Knob{hold(ecmodel.Bootstrap)}, Steps: []Step{
			{Node: Bootstrap, Argv: []string{clusterSh, "backup"}, Background: true},
			{Node: Bootstrap, Argv: []string{"cat", ecmodel.LockPath}, Within: time.Second},
			run1(Bootstrap, 1, []string{"Requested transition to master, but state transition already running."}, clusterSh, "master"),
			release(Bootstrap),
			{Node: Bootstrap, Argv: []string{"cat", ecmodel.ClusterLogPath}, Within: 20 * time.Second, Has: []string{"Requested transition to master\n",
				"Stopping service redis_lb", "Attempting to become DRBD secondary - attempts left 300", "Transitioned to backup",
				"Attempting DRBD primary takeover - attempts left 300", "Starting service bookshelf", "Transitioned to master"}},
			{Node: Bootstrap, Argv: []string{"cat", current}, Within: 20 * time.Second, Has: []string{"master"}},
		}},
		{Name: "DRBD: drbdadm and the mount on the master only", Version: "11.1.8", ReadOnly: true, Steps: []Step{
			run1(Bootstrap, 0, []string{"Primary/Secondary"}, "drbdadm", "role", "pc0"),
			run1(Secondary, 0, []string{"Secondary/Primary"}, "drbdadm", "role", "pc0"),
			run1(Bootstrap, 0, []string{"Connected"}, "drbdadm", "cstate", "pc0"),
			run1(Secondary, 0, []string{"UpToDate/UpToDate"}, "drbdadm", "dstate", "pc0"),
			run1(Bootstrap, 0, []string{" " + ecmodel.DRBDDataDir + " "}, "cat", "/proc/mounts"),
			{Node: Secondary, Argv: []string{"cat", "/proc/mounts"}, HasNot: []string{" " + ecmodel.DRBDDataDir + " "}},
			{Node: Frontend, Argv: []string{"drbdadm", "role", "pc0"}, Code: 127},
		}},
		// Held (ecmodel.HoldPath) from its start until the steps have seen
		// it in flight: on real time a loaded host would otherwise start
		// the cluster after the resync's seven seconds.
		{Name: "DRBD: a resync runs on the clock", Version: "11.1.8",
			Knobs: []ecmodel.Knob{hold(ecmodel.Secondary), ecmodel.KnobDRBD(ecmodel.DRBDFault{Kind: "resync", Done: 50, Speed: 100 * 1024})}, Steps: []Step{
				run1(Secondary, 0, []string{"SyncTarget"}, "drbdadm", "cstate", "pc0"),
				run1(Secondary, 0, []string{"Inconsistent/UpToDate"}, "drbdadm", "dstate", "pc0"),
				release(Secondary),
				{Node: Secondary, Argv: []string{"drbdadm", "dstate", "pc0"}, Within: 10 * time.Second, Has: []string{"UpToDate/UpToDate"}},
			}},
		{Name: "DRBD: failing over onto a disconnected secondary is harm", Version: "11.1.8",
			Knobs: []ecmodel.Knob{ecmodel.KnobDRBD(ecmodel.DRBDFault{Kind: "disconnect"})}, Steps: []Step{
				run1(Bootstrap, 0, nil, "private-chef-ctl", "stop", "keepalived"),
				{Node: Secondary, Argv: []string{"drbdadm", "cstate", "pc0"}, Has: []string{"WFConnection"}},
				{Node: Secondary, Argv: []string{"cat", ecmodel.ModelDir + "/harm"}, Within: 10 * time.Second, Has: []string{"failover onto out-of-date DRBD data"}},
			}},
	}
}

// RunCase runs c's steps on h, which runs c.Version with c.Knobs planted.
func RunCase(t *testing.T, h Host, c Case) {
	t.Helper()
	for i, st := range c.Steps {
		deadline := time.Now()
		if st.Within > 0 && !h.Advance(st.Within) {
			deadline = deadline.Add(Slack(st.Within))
		}
		for {
			out, stderr, code := h.Run(t, st.Node, st.Background, st.Argv...)
			bad := check(st, out, code)
			if len(bad) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("step %d on the %s, %v: %s\nstdout:\n%s\nstderr:\n%s", i, st.Node, st.Argv, strings.Join(bad, "; "), out, stderr)
				return
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
}

// check lists how a step's result differs from what it must show.
func check(st Step, out string, code int) []string {
	var bad []string
	if code != st.Code {
		bad = append(bad, fmt.Sprintf("exit status %d, want %d", code, st.Code))
	}
	for _, h := range st.Has {
		if !strings.Contains(out, h) {
			bad = append(bad, fmt.Sprintf("no %q", h))
		}
	}
	for _, h := range st.HasNot {
		if strings.Contains(out, h) {
			bad = append(bad, fmt.Sprintf("has %q", h))
		}
	}
	return bad
}

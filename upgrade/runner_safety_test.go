package upgrade_test

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/clustertest"
	"github.com/chefha/chefha/internal/pkgfile"
	"github.com/chefha/chefha/runit"
	"github.com/chefha/chefha/upgrade"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Two runners given the same journal at once: the second is refused while
// the first lives, naming it; every node is installed and upgraded once.
func TestTwoRunnersOneJournal(t *testing.T) {
	t.Parallel()
	e := newUpgradeEnv(t, "1.4.6", 1)
	release, done := e.holdRun(t, "hop1/backup")
	err := e.runner("11.1.8", nil).Run(context.Background())
	var le *upgrade.LockedError
	require.ErrorAs(t, err, &le)
	assert.Equal(t, os.Getpid(), le.Owner.PID, "the lock names the live owner")
	assert.Contains(t, err.Error(), "another chefha run holds")
	release()
	require.NoError(t, <-done)
	assertEachEffectOnce(t, e)
	e.assertUpgraded(t, "11.1.8", "1.13")
}

// holdRun starts a run that holds its locks once step is done, until
// release; done says how it ended.
func (e *upgradeEnv) holdRun(t *testing.T, step string) (release func(), done <-chan error) {
	t.Helper()
	holding, released := make(chan struct{}), make(chan struct{})
	first := e.runner("11.1.8", nil, upgrade.WithEvents(func(ev upgrade.Event) {
		if ev.Kind == upgrade.EventStepDone && ev.Step == step {
			close(holding)
			<-released
		}
	}))
	ended := make(chan error, 1)
	go func() { ended <- first.Run(context.Background()) }()
	<-holding
	return func() { close(released) }, ended
}

// Every input is checked before the first action, by the dry run too: a
// dry run that passes means the apply cannot fail on its inputs.
func TestBadPackagesRefusedByTheDryRun(t *testing.T) {
	t.Parallel()
	e := newUpgradeEnv(t, "1.4.6", 1)
	dir := t.TempDir()
	write := func(name string, fn func(*os.File) error) string {
		p := filepath.Join(dir, name)
		f, err := os.Create(p)
		require.NoError(t, err)
		require.NoError(t, fn(f))
		require.NoError(t, f.Close())
		return p
	}
	deb := func(name, version string) func(*os.File) error {
		return func(f *os.File) error {
			return pkgfile.WriteDeb(f, pkgfile.Meta{Name: name, Version: version, Release: "1", Arch: "amd64"})
		}
	}
	tests := []struct {
		name string
		pkg  string
		want any
		msg  string
	}{
		{"missing", filepath.Join(dir, "private-chef_11.1.8-2_amd64.deb"), new(*upgrade.PackageError), "no such file"},
		{"unreadable", dir, new(*upgrade.PackageError), dir},
		{"not a package", write("private-chef_11.1.8-1_amd64.deb.txt", func(f *os.File) error { _, err := f.WriteString("private-chef 11.1.8\n"); return err }), new(*upgrade.PackageError), "not a .deb or .rpm"},
		{"wrong version", write("private-chef_11.1.8-1_amd64.deb", deb("private-chef", "11.0.2")), new(*upgrade.MissingPackageError), "no debian package for private-chef 11.1.8"},
		{"wrong format", write("private-chef-11.1.8-1.el6.x86_64.rpm", func(f *os.File) error {
			return pkgfile.WriteRPM(f, pkgfile.Meta{Name: "private-chef", Version: "11.1.8", Release: "1.el6"})
		}), new(*upgrade.MissingPackageError), "no debian package"},
		{"another package", write("chef-server_11.1.8-1_amd64.deb", deb("chef-server", "11.1.8")), new(*upgrade.PackageError), `holds the package "chef-server"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Only this package: the env's good ones are not given.
			r := upgrade.NewRunner(e.cl, append(e.baseOptions("11.1.8"), upgrade.WithDryRun(), upgrade.WithPackage(tt.pkg))...)
			err := r.Run(context.Background())
			require.ErrorAs(t, err, tt.want)
			assert.Contains(t, err.Error(), tt.msg)
			assert.Empty(t, r.Actions(), "refused before any action")
		})
	}
	for name, log := range e.logs() {
		assert.Empty(t, log, "%s untouched", name)
	}
}

// A service that does not come back on a front end fails the run at the
// start, naming the node and the service, instead of calling it done.
func TestFrontendServiceDownAfterStartAll(t *testing.T) {
	t.Parallel()
	e := newUpgradeEnv(t, "1.4.6", 1)
	r := e.runner("11.1.8", nil, upgrade.WithEvents(func(ev upgrade.Event) {
		if ev.Kind == upgrade.EventStepStart && ev.Step == "hop1/start-all" {
			require.NoError(t, e.sim.Plant(clustertest.ServiceDown("fe1.chefha.test", "opscode-erchef")))
			e.sim.Node("fe1.chefha.test").Lock(func(n *clustertest.Node) {
				require.NoError(t, n.SetServiceDelay("opscode-erchef", 0, 100*time.Hour)) // it never comes up
			})
		}
	}))
	err := r.Run(context.Background())
	var se *upgrade.StepError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "hop1/start-all", se.Step)
	assert.Equal(t, "fe1.chefha.test", se.Node)
	assert.Contains(t, err.Error(), "opscode-erchef")
}

// Cleanup is a phase of its own, run later on an upgraded cluster: it
// pauses for the operator's confirmation, then removes the old services.
func TestCleanupLaterAsItsOwnPhase(t *testing.T) {
	t.Parallel()
	e := newUpgradeEnv(t, "1.4.6", 1)
	require.NoError(t, e.runner("11.1.8", nil).Run(context.Background()))
	cleanup := upgrade.FileJournal{Path: filepath.Join(e.dir, "cleanup.json")}
	var events []upgrade.Event
	r := upgrade.NewRunner(e.cl, e.options("11.1.8", upgrade.WithPhase(upgrade.PhaseCleanup), upgrade.WithJournal(cleanup),
		upgrade.WithEvents(func(ev upgrade.Event) { events = append(events, ev) }))...)
	require.ErrorIs(t, r.Run(context.Background()), upgrade.ErrNeedsConfirmation)
	assert.Equal(t, upgrade.OutcomePaused, events[len(events)-1].Outcome)
	for name, log := range e.logs() {
		assert.NotContains(t, log, "cleanup", "%s: nothing removed before the confirmation", name)
	}
	r = upgrade.NewRunner(e.cl, e.options("11.1.8", upgrade.WithPhase(upgrade.PhaseCleanup), upgrade.WithJournal(cleanup), upgrade.WithConfirmation())...)
	require.NoError(t, r.Run(context.Background()))
	for _, s := range e.sim.Topology.Servers {
		e.sim.Node(s.Name).Lock(func(n *clustertest.Node) {
			for _, svc := range n.Services() {
				assert.NotContains(t, runit.RemovedInEC11(), svc.Name, "%s still has it", s.Name)
			}
		})
	}
	_, err := upgrade.BuildPlan(upgrade.Gather(context.Background(), newUpgradeEnv(t, "1.4.6", 1).cl),
		e.options("11.1.8", upgrade.WithPhase(upgrade.PhaseCleanup))...)
	assert.ErrorContains(t, err, "finish the upgrade first")
}

// The first interrupt lets the running command finish, then stops; the
// journal does not hold the unfinished step, and a resumed run finishes
// it without repeating the command.
func TestStopLetsTheRunningCommandFinish(t *testing.T) {
	t.Parallel()
	e := newUpgradeEnv(t, "1.4.6", 1)
	var r *upgrade.Runner
	r = e.runner("11.1.8", nil, upgrade.WithEvents(func(ev upgrade.Event) {
		if ev.Kind == upgrade.EventAction && ev.Action != nil && ev.Action.Critical && ev.Node == "be1.chefha.test" &&
			strings.Contains(strings.Join(ev.Action.Argv, " "), "upgrade") {
			r.Stop() // Ctrl-C while partybus migrates
		}
	}))
	require.ErrorIs(t, r.Run(context.Background()), upgrade.ErrStopped)
	lvl, err := e.sim.Bootstrap().ReadFile("/var/opt/opscode/upgrades/migration-level")
	require.NoError(t, err)
	assert.Equal(t, "{\"major\":1,\"minor\":13}\n", string(lvl), "the migration ran to its end")
	rec, err := e.journal.Load(context.Background())
	require.NoError(t, err)
	assert.NotContains(t, rec.Steps, "hop1/upgrade-bootstrap")
	_, err = e.sim.Bootstrap().Stat(upgrade.LockPath)
	assert.ErrorIs(t, err, fs.ErrNotExist, "locks released")
	require.NoError(t, e.runner("11.1.8", nil).Run(context.Background()))
	assertEachEffectOnce(t, e)
	e.assertUpgraded(t, "11.1.8", "1.13")
}

// The runbook's Example: both runsvdir trees alive on one service dir and
// links to removed services left: the recovery removes the links and
// restarts one tree, then the upgrade runs.
func TestRecoverRunitExample(t *testing.T) {
	t.Parallel()
	e := newUpgradeEnv(t, "1.4.6", 1, clustertest.TwoRunsvdirs(), clustertest.StaleLinks())
	_, err := upgrade.BuildPlan(upgrade.Gather(context.Background(), e.cl), e.options("11.1.8")...)
	var be *upgrade.BlockedError
	require.ErrorAs(t, err, &be, "refused without the recovery")
	var events []upgrade.Event
	require.NoError(t, e.runner("11.1.8", &events, upgrade.WithRecoverRunit()).Run(context.Background()))
	e.assertUpgraded(t, "11.1.8", "1.13")
	log := e.logs()["be1.chefha.test"]
	assert.Contains(t, log, "rm -f /opt/opscode/service/nagios-old", "the stale link is removed as the runbook's step 2 does")
	assert.Contains(t, log, "private-chef-ctl stop\n", "the bootstrap's tree is stopped")
	// The standby's keepalived stops before the bootstrap's tree does: no
	// failover.
	assertNoBareCommandFailsOver(t, events, "be1.chefha.test", "be2.chefha.test")
	assert.True(t, slices.ContainsFunc(events, func(ev upgrade.Event) bool {
		return ev.Kind == upgrade.EventAction && ev.Node == "be1.chefha.test" && ev.Action != nil &&
			slices.Equal(ev.Action.Argv, []string{"initctl", "stop", "private_chef-runsvdir"})
	}), "the recovery stops 11.2.0's stray job too, which no release removes")
}

// A check the operator ignores does not block the plan; a mandatory one
// cannot be ignored, and an unknown name is refused.
func TestIgnoredChecksDoNotBlock(t *testing.T) {
	t.Parallel()
	e := newUpgradeEnv(t, "1.4.6", 1, clustertest.LogDirMode())
	facts := upgrade.Gather(context.Background(), e.cl)
	_, err := upgrade.BuildPlan(facts, e.options("11.1.8")...)
	var be *upgrade.BlockedError
	require.ErrorAs(t, err, &be)
	_, err = upgrade.BuildPlan(facts, e.options("11.1.8", upgrade.WithIgnore("log-dir"))...)
	assert.NoError(t, err)
	_, err = upgrade.BuildPlan(facts, e.options("11.1.8", upgrade.WithIgnore("drbd-roles"))...)
	var ie *upgrade.IgnoreError
	assert.ErrorAs(t, err, &ie)
	_, err = upgrade.BuildPlan(facts, e.options("11.1.8", upgrade.WithIgnore("log-dirs"))...)
	var ue *upgrade.UnknownCheckError
	assert.ErrorAs(t, err, &ue)
}

// A package replaced after the plan (a same-version rebuild) is never
// installed: the upload hashes what it sends and compares it with the
// digest the plan recorded.
func TestPackageSwappedAfterPlanningIsRefused(t *testing.T) {
	t.Parallel()
	e := newUpgradeEnv(t, "11.1.6", 1)
	deb := filepath.Join(e.dir, "private-chef_11.1.8-1_amd64.deb")
	swapped := false
	r := e.runner("11.1.8", nil, upgrade.WithEvents(func(ev upgrade.Event) {
		if ev.Kind == upgrade.EventStepStart && strings.HasSuffix(ev.Step, "/install-package") && !swapped {
			swapped = true
			f, err := os.Create(deb)
			require.NoError(t, err)
			require.NoError(t, pkgfile.WriteDeb(f, pkgfile.Meta{Name: "private-chef", Version: "11.1.8", Release: "2", Arch: "amd64"}))
			require.NoError(t, f.Close())
		}
	}))
	err := r.Run(context.Background())
	require.True(t, swapped)
	var de *upgrade.DigestError
	require.ErrorAs(t, err, &de)
	assert.Equal(t, deb, de.Path)
	assert.Empty(t, de.Node, "the local file")
	assert.Contains(t, err.Error(), "changed since the plan")
	for name, log := range e.logs() {
		assert.NotContains(t, log, "dpkg -i", "%s installed nothing", name)
	}
}

// The node's copy is checked right before the install: one replaced in
// between (the upload's directory is shared) is refused, naming the node.
func TestPackageReplacedOnTheNodeIsRefused(t *testing.T) {
	t.Parallel()
	e := newUpgradeEnv(t, "11.1.6", 1)
	var tampered string
	r := e.runner("11.1.8", nil, upgrade.WithEvents(func(ev upgrade.Event) {
		if ev.Kind == upgrade.EventAction && ev.Action != nil && ev.Action.Kind == upgrade.ActVerifyFile && tampered == "" {
			tampered = ev.Node
			require.NoError(t, e.sim.Node(ev.Node).WriteFile(ev.Action.Path, []byte("not the package\n"), 0o644))
		}
	}))
	err := r.Run(context.Background())
	require.NotEmpty(t, tampered)
	var de *upgrade.DigestError
	require.ErrorAs(t, err, &de)
	assert.Equal(t, tampered, de.Node)
	assert.Contains(t, err.Error(), "is not the file uploaded")
	for name, log := range e.logs() {
		assert.NotContains(t, log, "dpkg -i", "%s installed nothing", name)
	}
}

// panickyJournal panics on its second save, as a caller's journal might.
type panickyJournal struct {
	upgrade.Journal
	saves int
}

func (j *panickyJournal) Save(ctx context.Context, r upgrade.Record) error {
	if j.saves++; j.saves == 2 {
		panic("journal disk on fire")
	}
	return j.Journal.Save(ctx, r)
}

// A panic inside Run is a failed run returned as an error, its outcome
// event "failed", never "done"; the locks are given back.
func TestAPanicIsAFailedRun(t *testing.T) {
	t.Parallel()
	e := newUpgradeEnv(t, "11.1.6", 1)
	var events []upgrade.Event
	err := e.runner("11.1.8", &events, upgrade.WithJournal(&panickyJournal{Journal: e.journal})).Run(context.Background())
	var pe *upgrade.PanicError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "journal disk on fire", pe.Value)
	assert.NotEmpty(t, pe.Stack)
	last := events[len(events)-1]
	assert.Equal(t, upgrade.EventOutcome, last.Kind)
	assert.Equal(t, upgrade.OutcomeFailed, last.Outcome)
	assert.Equal(t, "panic", last.Error.Type)
	require.NoError(t, e.runner("11.1.8", nil).Run(context.Background()), "the locks were given back: the run resumes")
	e.assertUpgraded(t, "11.1.8", "1.13")
}

// A package built for other hardware than a node's is refused in the
// plan, before anything runs: dpkg would refuse it after the front ends
// stopped.
func TestPackageOfAnotherArchitectureIsRefused(t *testing.T) {
	t.Parallel()
	e := newUpgradeEnv(t, "11.1.6", 1, clustertest.Machine("fe1.chefha.test", "aarch64"))
	var events []upgrade.Event
	err := e.runner("11.1.8", &events, upgrade.WithDryRun()).Run(context.Background())
	var ae *upgrade.ArchError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, "fe1.chefha.test", ae.Node)
	assert.Equal(t, "aarch64", ae.Machine)
	assert.Equal(t, "amd64", ae.Arch)
	assert.Contains(t, err.Error(), "give the package built for aarch64")
	for _, ev := range events {
		assert.NotEqual(t, upgrade.EventAction, ev.Kind, "nothing planned to run")
	}
}

// plantLock writes owner as the holder of the run lock on every node.
func plantLock(t *testing.T, e *upgradeEnv, owner upgrade.LockOwner) {
	t.Helper()
	b, err := json.Marshal(owner)
	require.NoError(t, err)
	for _, n := range e.cl.All() {
		_, err := n.Run(context.Background(), cluster.Cmd{Argv: []string{"mkdir", "-p", upgrade.LockPath}, Sudo: true})
		require.NoError(t, err)
		require.NoError(t, n.WriteFile(context.Background(), upgrade.LockPath+"/owner", b, 0o600))
	}
}

// A live runner elsewhere under this host name — another machine, or
// another PID namespace of this one — is judged by when it last renewed
// its lock on the node's clock, never by this machine's processes or
// clock: its pid here means nothing, and its heartbeat stamp may be an
// hour off.
func TestALockOfAnotherMachineUnderThisHostName(t *testing.T) {
	t.Parallel()
	e := newUpgradeEnv(t, "11.1.6", 1)
	host, _ := os.Hostname()
	other := upgrade.LockOwner{Host: host, PID: 1, PIDStart: "12345", Machine: "another-machine/boot/pid:[1]", Nonce: "0123456789abcdef",
		Since: epoch, Heartbeat: time.Now().Add(-time.Hour), Plan: "p"}
	plantLock(t, e, other)
	err := e.runner("11.1.8", nil).Run(context.Background())
	var le *upgrade.LockedError
	require.ErrorAs(t, err, &le, "not taken over")
	assert.Equal(t, other.Nonce, le.Owner.Nonce)

	// Not renewed for longer than LockStale on the node's clock: its run
	// is gone, and the lock is taken over.
	e.clock.Advance(upgrade.LockStale + time.Second)
	var events []upgrade.Event
	require.NoError(t, e.runner("11.1.8", &events).Run(context.Background()))
	var took bool
	for _, ev := range events {
		took = took || ev.Kind == upgrade.EventFinding && strings.Contains(ev.Message, "took over the lock of a run that is gone")
	}
	assert.True(t, took)
}

// A run whose lock another run took stops before its next change to
// that node, naming who holds it; it never acts beside that run.
func TestARunWhoseLockWasTakenStops(t *testing.T) {
	t.Parallel()
	e := newUpgradeEnv(t, "11.1.6", 1)
	thief := upgrade.LockOwner{Host: "laptop-b", PID: 4242, Nonce: "feedfacefeedface", Since: epoch, Heartbeat: epoch}
	var after []string
	stolen := false
	r := e.runner("11.1.8", nil, upgrade.WithEvents(func(ev upgrade.Event) {
		if ev.Kind == upgrade.EventStepDone && ev.Step == "hop1/reconfigure-all" && !stolen {
			stolen = true
			b, _ := json.Marshal(thief)
			n, _ := e.cl.Node("be1.chefha.test")
			require.NoError(t, n.WriteFile(context.Background(), upgrade.LockPath+"/owner", b, 0o600))
		}
		if stolen && ev.Kind == upgrade.EventAction && ev.Node == "be1.chefha.test" && ev.Action.Changes() {
			after = append(after, ev.Message)
		}
	}))
	err := r.Run(context.Background())
	require.True(t, stolen)
	var lost *upgrade.LockLostError
	require.ErrorAs(t, err, &lost)
	assert.Equal(t, "be1.chefha.test", lost.Node)
	assert.Equal(t, thief.Nonce, lost.Owner.Nonce)
	assert.Empty(t, after, "nothing more was done to be1")
	n, _ := e.cl.Node("be1.chefha.test")
	b, err := n.ReadFile(context.Background(), upgrade.LockPath+"/owner")
	require.NoError(t, err)
	assert.Contains(t, string(b), thief.Nonce, "the other run's lock is left as it is")
}

// A check the operator ignored for the plan is ignored by the run's
// post-flight too: a full log file system that the plan went past with
// -ignore log-dir does not stop the run at its last step.
func TestIgnoredCheckIsIgnoredByThePostflight(t *testing.T) {
	t.Parallel()
	e := newUpgradeEnv(t, "11.1.6", 1, clustertest.LogFSFull())
	_, err := upgrade.BuildPlan(upgrade.Gather(context.Background(), e.cl), e.options("11.1.8")...)
	var be *upgrade.BlockedError
	require.ErrorAs(t, err, &be, "log-fs-full blocks the plan")
	require.NoError(t, e.runner("11.1.8", nil, upgrade.WithIgnore("log-dir")).Run(context.Background()))
}

// A command that runs on says so while it runs (issue 23: no silence over
// 5 s): a progress event per heartbeat, naming the command and how long.
func TestLongCommandHasAHeartbeat(t *testing.T) {
	t.Parallel()
	e := newUpgradeEnv(t, "11.1.6", 1, clustertest.SlowNode("fe1.chefha.test", 150*time.Millisecond))
	var events []upgrade.Event
	require.NoError(t, e.runner("11.1.8", &events, upgrade.WithHeartbeat(20*time.Millisecond)).Run(context.Background()))
	var beats []upgrade.Event
	for _, ev := range events {
		if ev.Kind == upgrade.EventProgress && strings.HasPrefix(ev.Message, "still running") {
			beats = append(beats, ev)
		}
	}
	// Under load any command may outlast 20 ms; fe1's, slowed to 150 ms
	// each, always do.
	i := slices.IndexFunc(beats, func(ev upgrade.Event) bool { return ev.Node == "fe1.chefha.test" })
	require.GreaterOrEqual(t, i, 0, "a 150 ms command with a 20 ms heartbeat: %v", beats)
	assert.Regexp(t, `^still running after \d+s: fe1\.chefha\.test: `, beats[i].Message)
	assert.True(t, slices.ContainsFunc(events, func(ev upgrade.Event) bool {
		return ev.Kind == upgrade.EventProgress && ev.Message == "taking the run's lock on be1.chefha.test (1 of 3)"
	}), "taking the locks is said as it goes")
}

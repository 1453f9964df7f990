package upgrade

import (
	"fmt"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/chefha/chefha/keepalived"
	"github.com/chefha/chefha/migration"
)

// Option tunes Preflight, BuildPlan and the Runner alike: one set of
// options describes one upgrade, and each function reads the ones it
// needs, so the same slice can be handed to all three.
type Option func(*options)

type options struct {
	// What is upgraded.
	target         *semver.Version
	targetErr      error           // WithTarget's version did not parse
	from           *semver.Version // set by the runner from its journal when resuming
	phase          Phase
	allowSkippable bool
	packages       []string
	backup         Backup
	recoverRunit   bool

	// Pre-flight.
	ignore []string
	facts  *Facts
	mode   Mode

	// Runner.
	journal     Journal
	dryRun      bool
	confirm     bool
	fromStep    string
	stepTimeout time.Duration
	clock       keepalived.Clock
	hold        time.Duration
	gateTimeout time.Duration
	poll        time.Duration
	onEvent     func(Event)
	concurrency int
	readTimeout time.Duration
	heartbeat   time.Duration // tests shorten heartbeatEvery
	keepOutput  bool
	rehearsals  string
	unrehearsed bool
}

func buildOptions(opts []Option) options {
	o := options{concurrency: DefaultConcurrency}
	for _, opt := range opts {
		opt(&o)
	}
	if o.stepTimeout == 0 {
		o.stepTimeout = DefaultStepTimeout
	}
	if o.readTimeout == 0 {
		o.readTimeout = DefaultReadTimeout
	}
	return o
}

// DefaultConcurrency bounds how many nodes are read at once. Reading waits
// on the network, not on this machine: the bound is far above any real
// cluster and only guards against a runaway topology.
const DefaultConcurrency = 1024

// DefaultStepTimeout bounds each step of the runbook: an upgrade with its
// two-minute sleep and migrations fits many times over.
const DefaultStepTimeout = 30 * time.Minute

// WithTarget is the version to upgrade to ("11.1.8"). A version that does
// not parse is an error of the first call that needs the target.
func WithTarget(version string) Option {
	return func(o *options) {
		v, err := migration.ParseVersion(version)
		if err != nil {
			o.target, o.targetErr = nil, fmt.Errorf("target version %q: %w (give a release as its packages name it, such as 11.1.8)", version, err)
			return
		}
		o.target, o.targetErr = v, nil
	}
}

// withTargetVersion is WithTarget for a version already parsed.
func withTargetVersion(v *semver.Version) Option {
	return func(o *options) { o.target, o.targetErr = v, nil }
}

// WithPhase chooses what the plan does: the upgrade (default) or the
// cleanup of an upgraded cluster.
func WithPhase(p Phase) Option { return func(o *options) { o.phase = p } }

// WithSkippable lets a plan take a path the pre-flight calls skippable
// (a target below the runbook's 11.1.3); without it such a plan is refused.
func WithSkippable() Option { return func(o *options) { o.allowSkippable = true } }

// WithPackage adds a package file (.deb or .rpm). Its format says which
// nodes it is for, and the name and version inside it which hop: it is
// read and checked before any node is touched.
func WithPackage(path string) Option {
	return func(o *options) { o.packages = append(o.packages, path) }
}

// WithBackup declares how the bootstrap is backed up before each hop.
func WithBackup(b Backup) Option { return func(o *options) { o.backup = b } }

// WithRecoverRunit adds the runbook's runsvdir recovery on nodes whose
// runit tree is unhealthy, instead of refusing to plan.
func WithRecoverRunit() Option { return func(o *options) { o.recoverRunit = true } }

// WithIgnore skips pre-flight checks by name (case-insensitive; "all"
// skips every check that is not mandatory).
func WithIgnore(names ...string) Option {
	return func(o *options) { o.ignore = append(o.ignore, names...) }
}

// WithFacts judges saved facts instead of reading the cluster.
func WithFacts(f Facts) Option { return func(o *options) { o.facts = &f } }

// WithMode chooses what the checks expect: a cluster about to be upgraded
// or one just upgraded. The default (ModeAuto) decides from the facts.
func WithMode(m Mode) Option { return func(o *options) { o.mode = m } }

// WithJournal is where the runner records finished steps. A real run
// needs one; it is read to resume and never trusted without re-checking.
func WithJournal(j Journal) Option { return func(o *options) { o.journal = j } }

// WithDryRun lists every action without changing any node.
func WithDryRun() Option { return func(o *options) { o.dryRun = true } }

// WithConfirmation is the operator's word that the upgraded cluster was
// verified: the cleanup waits for it.
func WithConfirmation() Option { return func(o *options) { o.confirm = true } }

// WithFromStep starts at the step with this ID; the steps before it must
// be done, by the journal's record and the cluster's facts.
func WithFromStep(id string) Option { return func(o *options) { o.fromStep = id } }

// DefaultReadTimeout bounds one read of a node's facts: the script runs
// ps, private-chef-ctl status and a few cats, seconds even on a loaded
// node; a read that hangs must not hold a gate past its own timeout, and
// is said to have timed out (UnreadableError) rather than look like
// something else.
const DefaultReadTimeout = 60 * time.Second

// WithReadTimeout bounds each read of a node's facts (default
// DefaultReadTimeout).
func WithReadTimeout(d time.Duration) Option { return func(o *options) { o.readTimeout = d } }

// WithStepTimeout bounds each step (default DefaultStepTimeout).
func WithStepTimeout(d time.Duration) Option { return func(o *options) { o.stepTimeout = d } }

// WithClock is the time the gates wait on (tests pass a fake one). A
// clock that can be advanced (clustertest.FakeClock has Advance) is
// advanced by the gates' own waits, so a test's fake clock needs nobody
// to move it: without that, a gate would wait on it for ever.
func WithClock(c keepalived.Clock) Option { return func(o *options) { o.clock = c } }

// stepping is a clock whose waits advance it: what WithClock makes of a
// clock that can be advanced.
type stepping struct {
	keepalived.Clock
	advance func(time.Duration)
}

func (s stepping) After(d time.Duration) <-chan time.Time {
	s.advance(d)
	ch := make(chan time.Time, 1)
	ch <- s.Now()
	return ch
}

// WithGateTimings sets how long keepalived must be stable at a gate, how
// long a gate waits at most, and how often it looks (zero: the defaults
// of the keepalived package).
func WithGateTimings(hold, timeout, poll time.Duration) Option {
	return func(o *options) { o.hold, o.gateTimeout, o.poll = hold, timeout, poll }
}

// WithEvents receives every runner event, in order, one at a time.
func WithEvents(fn func(Event)) Option { return func(o *options) { o.onEvent = fn } }

// WithConcurrency bounds how many nodes are read at once (default
// DefaultConcurrency).
func WithConcurrency(n int) Option { return func(o *options) { o.concurrency = n } }

// WithBackupOutput keeps the backup command's output in the journal; by
// default only its exit status and size are kept, since it may name
// volumes, hosts or credentials.
func WithBackupOutput() Option { return func(o *options) { o.keepOutput = true } }

// WithRehearsals is the directory where rehearsals are recorded: a real
// run of a plan without a passed rehearsal there is refused
// (*NotRehearsedError) unless WithoutRehearsal is given.
func WithRehearsals(dir string) Option { return func(o *options) { o.rehearsals = dir } }

// WithoutRehearsal is the operator's explicit word to run a plan that no
// rehearsal passed.
func WithoutRehearsal() Option { return func(o *options) { o.unrehearsed = true } }

// Phase is what a plan does.
type Phase string

const (
	PhaseUpgrade Phase = "upgrade" // the runbook from pre-flight to verify
	PhaseCleanup Phase = "cleanup" // private-chef-ctl cleanup on a verified, upgraded cluster
)

// Mode is what the checks expect of the cluster.
type Mode string

const (
	ModeAuto       Mode = ""             // post-upgrade when every node already runs the target
	ModePreUpgrade Mode = "pre-upgrade"  // about to be upgraded: the runbook's pre-flight
	ModePostFlight Mode = "post-upgrade" // just upgraded: every service of the new version up
)

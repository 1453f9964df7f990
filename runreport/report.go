package runreport

import (
	"time"

	"github.com/chefha/chefha/issue"
	"github.com/chefha/chefha/upgrade"
)

// Report is an upgrade run as a change board reads it: what was upgraded,
// how it ended, each step and gate with its times, what the operator was
// told, the backup, the known issues the plan worked around and how long
// each service was down. Build makes one; WriteMarkdown and WriteSVG show
// it; its JSON form has every duration in seconds.
type Report struct {
	Title    string        `json:"title"`
	Phase    upgrade.Phase `json:"phase"`
	From     string        `json:"from"`
	To       string        `json:"to"`
	Hops     int           `json:"hops"`
	PlanHash string        `json:"plan_hash"`
	Topology string        `json:"topology_hash"`
	DryRun   bool          `json:"dry_run,omitempty"`
	// Simulation marks a run on a simulated cluster (MarkSimulation): its
	// times are no real cluster's.
	Simulation bool `json:"simulation,omitempty"`
	// Source says what the numbers come from: the events, the journal, or both.
	Source   string          `json:"source"`
	Started  time.Time       `json:"started,omitzero"`
	Ended    time.Time       `json:"ended,omitzero"`
	Duration Duration        `json:"duration_s"`
	Outcome  upgrade.Outcome `json:"outcome"`
	// Error is why the last run ended short.
	Error *upgrade.EventError `json:"error,omitempty"`
	// Runs are the runs the events hold: a resumed upgrade has several.
	Runs        []Run        `json:"runs,omitempty"`
	Nodes       []Node       `json:"nodes"`
	Steps       []Step       `json:"steps"`
	Gates       []Gate       `json:"gates,omitempty"`
	Transitions []Transition `json:"keepalived_transitions,omitempty"`
	Findings    []Finding    `json:"findings,omitempty"`
	Backups     []Backup     `json:"backups,omitempty"`
	Issues      []Issue      `json:"known_issues,omitempty"`
	Downtime    []Downtime   `json:"downtime,omitempty"`
	// Rehearsal is the plan's rehearsal on a replica, when one was
	// recorded (SetRehearsal).
	Rehearsal *Rehearsal `json:"rehearsal,omitempty"`
	// Notes are what the report could not reconcile (events of another plan).
	Notes []string `json:"notes,omitempty"`
}

// OutcomeIncomplete is the outcome of a record no event says the end of:
// the journal alone of a run that did not finish every step.
const OutcomeIncomplete upgrade.Outcome = "incomplete"

// Run is one run of the runner: an upgrade resumed after a failure has
// two or more.
type Run struct {
	Started  time.Time           `json:"started"`
	Ended    time.Time           `json:"ended,omitzero"`
	Duration Duration            `json:"duration_s"`
	Outcome  upgrade.Outcome     `json:"outcome"`
	Error    *upgrade.EventError `json:"error,omitempty"`
}

// Role is what a node is in the HA cluster, as the plan's steps show it.
type Role string

const (
	RoleBootstrap Role = "bootstrap" // the back end the upgrade starts on, keepalived master
	RoleSecondary Role = "secondary" // the other back end, the standby
	RoleFrontend  Role = "frontend"
	RoleUnknown   Role = "" // the plan does not say (the cleanup phase)
)

func (r Role) String() string {
	switch r {
	case RoleBootstrap:
		return "back end, bootstrap"
	case RoleSecondary:
		return "back end, secondary"
	case RoleFrontend:
		return "front end"
	}
	return "node"
}

// Node is a server of the cluster.
type Node struct {
	Name string `json:"name"`
	Role Role   `json:"role,omitempty"`
}

// Status is how far a step got.
type Status string

const (
	StatusDone        Status = "done"
	StatusListed      Status = "listed (dry run)"
	StatusDoneEarlier Status = "done in an earlier run"
	StatusAlreadyDone Status = "skipped: already done"
	StatusFailed      Status = "failed"
	StatusUnfinished  Status = "started, not finished"
	StatusNotRun      Status = "not run"
)

// Step is a step of the plan and what became of it.
type Step struct {
	ID       string     `json:"id"`
	Hop      int        `json:"hop"`
	Kind     string     `json:"kind"`
	Category Category   `json:"category"`
	Title    string     `json:"title"`
	Nodes    []string   `json:"nodes,omitempty"`
	Issues   []issue.ID `json:"issues,omitempty"`
	Status   Status     `json:"status"`
	Start    time.Time  `json:"start,omitzero"`
	End      time.Time  `json:"end,omitzero"`
	Duration Duration   `json:"duration_s"`
	// Attempts counts the runs that started the step.
	Attempts int `json:"attempts,omitempty"`
	Actions  int `json:"actions,omitempty"`
	// Work is when the step acted on each node ("" for cluster-wide work).
	Work []Span `json:"work,omitempty"`
	// Node and Error say where and why the step failed.
	Node  string `json:"failed_node,omitempty"`
	Error string `json:"error,omitempty"`

	acts []act // the last attempt's actions, for the downtime
}

// Span is a stretch of a step's work on one node.
type Span struct {
	Node    string    `json:"node,omitempty"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Actions int       `json:"actions"`
}

// act is one action as the events show it.
type act struct {
	kind       upgrade.ActionKind
	node       string
	argv       []string
	start, end time.Time
}

// Category groups step kinds for the picture's colours.
type Category string

const (
	CatBackup    Category = "backup"
	CatStop      Category = "stop"
	CatConfigure Category = "configure"
	CatInstall   Category = "install"
	CatUpgrade   Category = "upgrade"
	CatStart     Category = "start"
	CatCheck     Category = "check"
	CatGate      Category = "gate"
)

// categoryOf says what a step kind does, as the picture colours it.
func categoryOf(kind upgrade.StepKind) Category {
	switch kind {
	case upgrade.StepBackup:
		return CatBackup
	case upgrade.StepStopFrontends, upgrade.StepStopKeepalived:
		return CatStop
	case upgrade.StepRecoverRunit, upgrade.StepReconfigureAll, upgrade.StepRepairLevels,
		upgrade.StepReconfigureBoot, upgrade.StepCopyConfig, upgrade.StepCleanup:
		return CatConfigure
	case upgrade.StepInstall:
		return CatInstall
	case upgrade.StepUpgradeBootstrap, upgrade.StepUpgradeSecondary, upgrade.StepUpgradeFrontend:
		return CatUpgrade
	case upgrade.StepStartAll:
		return CatStart
	}
	return CatCheck
}

// GateResult is how a gate's wait ended.
type GateResult string

const (
	GatePassed     GateResult = "passed"
	GateSkipped    GateResult = "skipped"
	GateFailed     GateResult = "failed"
	GateUnfinished GateResult = "unfinished"
)

// Gate is one wait of the runner on the cluster's facts.
type Gate struct {
	Step   string `json:"step"`
	Master string `json:"master,omitempty"`
	// Spec is what the gate waited for, in words.
	Spec   string     `json:"spec,omitempty"`
	Start  time.Time  `json:"start"`
	End    time.Time  `json:"end,omitzero"`
	Waited Duration   `json:"waited_s"`
	Result GateResult `json:"result"`
	// Polls counts the progress events; WaitingFor lists, in order, what
	// kept the gate closed.
	Polls      int      `json:"polls"`
	WaitingFor []string `json:"waiting_for,omitempty"`
	// Retry marks the gate before a command run again (OC-11382).
	Retry bool   `json:"retry,omitempty"`
	Note  string `json:"note,omitempty"`
}

// Transition is a keepalived state change a gate saw on a back end: a
// requested state other than the current one, or a current state other
// than at the poll before.
type Transition struct {
	Time         time.Time `json:"time"`
	Step         string    `json:"step"`
	Node         string    `json:"node"`
	Previous     string    `json:"previous,omitempty"`
	Current      string    `json:"current"`
	Requested    string    `json:"requested,omitempty"`
	InTransition bool      `json:"in_transition,omitempty"`
	HasVIP       bool      `json:"has_vip,omitempty"`
}

// Describe is the transition in words.
func (t Transition) Describe() string {
	s := t.Current
	if t.Previous != "" && t.Previous != t.Current {
		s = t.Previous + " → " + t.Current
	}
	if t.Requested != "" && t.Requested != t.Current {
		s += ", requested " + t.Requested
	}
	if t.InTransition {
		s += " (in transition)"
	}
	if t.HasVIP {
		s += ", holds the VIP"
	}
	return s
}

// Finding is something the runner told the operator during the run.
type Finding struct {
	Time    time.Time `json:"time"`
	Step    string    `json:"step,omitempty"`
	Node    string    `json:"node,omitempty"`
	Message string    `json:"message"`
	// Handled says what came of it: how its step ended.
	Handled string `json:"handled"`
}

// Backup is a backup the runner made, as the journal keeps it: the output
// only when the operator asked for it to be kept.
type Backup struct {
	Hop         int       `json:"hop"`
	Node        string    `json:"node"`
	At          time.Time `json:"at"`
	Kind        string    `json:"kind"`
	ExitCode    int       `json:"exit_code"`
	OutputBytes int       `json:"output_bytes"`
	Output      string    `json:"output,omitempty"`
	// Checked: the backup step finished, so the backup check found it.
	Checked bool `json:"checked"`
	// Snapshot and Size are an LVM snapshot's VG/NAME and the size it was
	// made with, in bytes; Fills how full it was at each look the
	// runner reported (made, checked before a step once half-way to the
	// threshold, stopped for).
	Snapshot string `json:"snapshot,omitempty"`
	Size     int64  `json:"size_bytes,omitempty"`
	Fills    []Fill `json:"fills,omitempty"`
}

// Issue is a known issue that steps of the plan mitigate.
type Issue struct {
	ID         issue.ID `json:"id"`
	Title      string   `json:"title"`
	Mitigation string   `json:"mitigation,omitempty"`
	Action     string   `json:"action,omitempty"`
	Steps      []string `json:"steps"`
}

// Downtime is a stretch in which a service role did not serve.
type Downtime struct {
	Service string `json:"service"`
	Hop     int    `json:"hop"`
	// Step is the step that took the service down.
	Step   string    `json:"step,omitempty"`
	Nodes  []string  `json:"nodes"`
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	Length Duration  `json:"duration_s"`
	// Open: the service was still down when the record ends.
	Open bool `json:"open,omitempty"`
	// How says which times the stretch is measured between.
	How string `json:"how"`
}

// MarkSimulation marks the report as one of a simulated cluster, in its
// title (so the Markdown, the SVG and the JSON all say it) and its
// Simulation field, for programs.
func (r *Report) MarkSimulation() {
	if !r.Simulation {
		r.Simulation = true
		r.Title = "SIMULATION: " + r.Title
	}
}

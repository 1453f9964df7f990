package upgrade

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/issue"
	"github.com/chefha/chefha/migration"
)

// StepKind names what a step is for.
type StepKind string

// The runbook's steps, in its order (runbook.go holds each one's
// definition), and the cleanup phase's.
const (
	StepBackup           StepKind = "backup"
	StepRecoverRunit     StepKind = "recover-runit"
	StepReconfigureAll   StepKind = "reconfigure-all"
	StepStopFrontends    StepKind = "stop-frontends"
	StepStopKeepalived   StepKind = "stop-standby-keepalived"
	StepRepairLevels     StepKind = "repair-migration-levels"
	StepCheckRunit       StepKind = "check-runit"
	StepBootstrapHealthy StepKind = "bootstrap-healthy"
	StepInstall          StepKind = "install-package"
	StepReconfigureBoot  StepKind = "reconfigure-bootstrap"
	StepUpgradeBootstrap StepKind = "upgrade-bootstrap"
	StepCopyConfig       StepKind = "copy-etc-opscode"
	StepUpgradeSecondary StepKind = "upgrade-secondary"
	StepUpgradeFrontend  StepKind = "upgrade-frontend"
	StepStartAll         StepKind = "start-all"
	StepVerify           StepKind = "verify"
	StepConfirm          StepKind = "confirm-verified"
	StepCleanup          StepKind = "cleanup"
)

// Step is one step of the plan. It holds no actions: those are worked out
// from the cluster's facts when the step's turn comes, so a step that was
// half done is finished, not repeated.
type Step struct {
	// ID is stable and carries no ordinal: "hop1/install-package",
	// "hop1/upgrade-frontend/fe1.example.com", "cleanup/cleanup".
	ID     string     `json:"id"`
	Hop    int        `json:"hop"` // 1-based; 0 in the cleanup phase
	Kind   StepKind   `json:"kind"`
	Title  string     `json:"title"`
	Issues []issue.ID `json:"issues,omitempty"` // known issues the step mitigates on this hop
	Nodes  []string   `json:"nodes,omitempty"`
	// Waits says what the step waits for, for the plan's reader.
	Waits       []string      `json:"waits,omitempty"`
	From        string        `json:"from"`
	Target      string        `json:"target"`
	LevelBefore string        `json:"level_before"`
	Level       string        `json:"level"` // the hop's level after
	Timeout     time.Duration `json:"timeout_ns"`
}

// Plan is the whole run: the steps and the inputs they came from.
type Plan struct {
	Phase    Phase      `json:"phase"`
	From     string     `json:"from"`
	To       string     `json:"to"`
	Topology string     `json:"topology"` // hash of the servers and their roles
	Inputs   PlanInputs `json:"inputs"`
	Steps    []Step     `json:"steps"`
}

// PlanInputs are the operator's inputs, as far as they shape the run.
type PlanInputs struct {
	Packages     []PackageRef `json:"packages,omitempty"`
	Backup       string       `json:"backup,omitempty"` // a fingerprint, never the commands
	RecoverRunit bool         `json:"recover_runit,omitempty"`
	Skippable    bool         `json:"skippable,omitempty"`
}

// Hash identifies the plan: a journal is resumed only by the same plan.
func (p Plan) Hash() string {
	b, _ := json.Marshal(p)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// Step returns the step with the given ID.
func (p Plan) Step(id string) (Step, bool) {
	for _, s := range p.Steps {
		if s.ID == id {
			return s, true
		}
	}
	return Step{}, false
}

// UnknownStepError names a step id that is not in the plan.
type UnknownStepError struct {
	ID      string
	Similar []string
}

func (e *UnknownStepError) Error() string {
	s := fmt.Sprintf("no step %q in the plan", e.ID)
	if len(e.Similar) > 0 {
		s += "; did you mean " + strings.Join(e.Similar, " or ") + "?"
	}
	return s
}

// BlockedError lists the failures a plan has no step for: the runner
// stops before harm, not in the middle.
type BlockedError struct {
	Findings []Finding
	// Recoverable are the findings the runit recovery step would remedy,
	// were it asked for (WithRecoverRunit); Ignorable the checks of the
	// findings that are not mandatory (WithIgnore gets past them, at the
	// operator's risk). What gets past each refusal, for a caller to say.
	Recoverable []Finding
	Ignorable   []string
}

func (e *BlockedError) Error() string {
	var parts []string
	for _, f := range e.Findings {
		node := f.Node
		if node == "" {
			node = "cluster"
		}
		id := ""
		if f.Issue != "" {
			id = " [" + string(f.Issue) + "]"
		}
		parts = append(parts, fmt.Sprintf("%s: %s%s: %s; fix: %s", node, f.Check, id, strings.Join(f.Evidence, "; "), f.Fix))
	}
	return "cannot plan the upgrade until these are fixed:\n  " + strings.Join(parts, "\n  ")
}

// BuildPlan turns the facts of a cluster and the options (target,
// packages, backup, …) into the runbook's steps, hop by hop. It checks
// every input first — each package file is read and must be the right
// format, name and version for its hop; every node must have room for it —
// and refuses to plan while a pre-flight failure remains that no step of
// the plan remedies (*BlockedError).
func BuildPlan(f Facts, opts ...Option) (Plan, error) {
	p, _, err := buildPlanCtx(f, buildOptions(opts), false)
	return p, err
}

// buildPlanCtx is BuildPlan, returning also what each hop's steps are
// built from; resuming skips the pre-flight's blocking, which judges a
// cluster before an upgrade, not one half-way through it.
func buildPlanCtx(f Facts, o options, resuming bool) (Plan, map[int]*hopCtx, error) {
	hops := map[int]*hopCtx{}
	p, err := buildPlan(f, o, resuming, hops)
	return p, hops, err
}

func buildPlan(f Facts, o options, resuming bool, ctxs map[int]*hopCtx) (Plan, error) {
	if o.targetErr != nil {
		return Plan{}, o.targetErr
	}
	if o.target == nil {
		return Plan{}, ErrNoTarget
	}
	if err := f.Validate(); err != nil {
		return Plan{}, err
	}
	in := newInput(f, o.target, o.backup, ModePreUpgrade)
	in.Apply = !o.dryRun
	from := o.from
	if from == nil {
		v, vf := installedVersion(in)
		for _, fd := range vf {
			if fd.Severity == Fail {
				return Plan{}, &BlockedError{Findings: vf}
			}
		}
		from = v
	}
	if from == nil {
		return Plan{}, errors.New("plan: no node's version could be read")
	}
	t := f.Topology
	p := Plan{Phase: PhaseUpgrade, From: from.String(), To: o.target.String(), Topology: topologyHash(t),
		Inputs: PlanInputs{Backup: o.backup.fingerprint(), RecoverRunit: o.recoverRunit, Skippable: o.allowSkippable}}
	if o.phase == PhaseCleanup {
		return cleanupPlan(p, in, o, from, ctxs)
	}
	if from.Equal(o.target) {
		return Plan{}, atTarget(f, from)
	}
	// A dry run may show the plan of an undeclared backup (the pre-flight
	// warns); an apply may not start without one.
	if err := o.backup.validate(); err != nil && !(o.dryRun && errors.Is(err, ErrNoBackup)) {
		return Plan{}, err
	}
	hops, err := PlanHops(from, o.target)
	var pe *PlanError
	if err != nil && !(errors.As(err, &pe) && pe.OnlySkippable() && o.allowSkippable) {
		return Plan{}, err
	}
	families, err := nodeFamilies(f)
	if err != nil {
		return Plan{}, err
	}
	pkgs, refs, err := choosePackages(o.packages, hops, families)
	if err != nil {
		return Plan{}, err
	}
	p.Inputs.Packages = refs
	if err := checkArch(in, hops, pkgs, families); err != nil {
		return Plan{}, err
	}
	if !resuming {
		if err := checkSpace(in, hops, pkgs, families); err != nil {
			return Plan{}, err
		}
	}
	for i, h := range hops {
		hc := newHopCtx(t, i+1, h, o, families, pkgs)
		hc.last = i == len(hops)-1
		ctxs[i+1] = hc
		p.Steps = append(p.Steps, hc.steps(runbook())...)
	}
	if !resuming {
		ignored, err := resolveIgnore(o.ignore)
		if err != nil {
			return Plan{}, err
		}
		if err := blocked(in, p, o, ignored); err != nil {
			return Plan{}, err
		}
	}
	return p, p.checkFromStep(o.fromStep)
}

// ErrNoTarget is a plan asked for without a target version (WithTarget).
var ErrNoTarget = errors.New("plan: no target version")

// AtTargetError is an upgrade to the version the cluster already runs:
// there is nothing to plan. Behind names the nodes whose migration level is
// not the target's (an upgrade that installed the packages and stopped
// before partybus ran): those are not done, whatever their package says.
type AtTargetError struct {
	Version string
	Level   string   // the target's migration level
	Behind  []string // "NODE at LEVEL" for each node whose level is not Level
}

func (e *AtTargetError) Error() string {
	if len(e.Behind) == 0 {
		return fmt.Sprintf("the cluster already runs %s at migration level %s: there is nothing to upgrade", e.Version, e.Level)
	}
	return fmt.Sprintf("every node has the %s package, but the migration level is not %s on %s: the upgrade did not finish; resume its run from its journal, or run private-chef-ctl upgrade on those nodes as the runbook's upgrade steps do",
		e.Version, e.Level, strings.Join(e.Behind, ", "))
}

// atTarget describes a cluster whose nodes all run version.
func atTarget(f Facts, version *semver.Version) *AtTargetError {
	e := &AtTargetError{Version: version.String()}
	want, err := migration.Expected(version)
	if err != nil {
		return e
	}
	e.Level = want.String()
	for _, n := range f.Nodes {
		if lvl, err := n.Level(); err != nil {
			e.Behind = append(e.Behind, n.Node+" (unreadable: "+err.Error()+")")
		} else if lvl != want {
			e.Behind = append(e.Behind, n.Node+" at "+lvl.String())
		}
	}
	return e
}

// cleanupPlan is the cleanup phase: on a cluster already at the target,
// after the operator's confirmation, private-chef-ctl cleanup everywhere.
func cleanupPlan(p Plan, in Input, o options, from *semver.Version, ctxs map[int]*hopCtx) (Plan, error) {
	if !from.Equal(o.target) {
		return Plan{}, fmt.Errorf("cleanup: the cluster runs %s, not %s: finish the upgrade first", from, o.target)
	}
	lvl, err := migration.Expected(from)
	if err != nil {
		return Plan{}, err
	}
	p.Phase = PhaseCleanup
	h := Hop{From: from, To: from, LevelBefore: lvl, LevelAfter: lvl}
	hc := newHopCtx(in.Facts.Topology, 0, h, o, nil, nil)
	ctxs[0] = hc
	p.Steps = hc.steps(cleanupRunbook())
	return p, p.checkFromStep(o.fromStep)
}

func (p Plan) checkFromStep(id string) error {
	if id == "" {
		return nil
	}
	if _, ok := p.Step(id); ok {
		return nil
	}
	e := &UnknownStepError{ID: id}
	for _, s := range p.Steps {
		if editDistance(s.ID, id) <= 3 {
			e.Similar = append(e.Similar, s.ID)
		}
	}
	return e
}

// editDistance is the Levenshtein distance, to suggest the step id meant.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// blocked runs the pre-flight and refuses the failures no step of the plan
// remedies: a new failing check blocks by default. Checks the operator
// ignored (WithIgnore; never a mandatory one) do not block.
func blocked(in Input, p Plan, o options, ignored map[string]bool) error {
	defs := map[StepKind]stepDef{}
	for _, d := range append(runbook(), cleanupRunbook()...) {
		defs[d.kind] = d
	}
	var fs []Finding
	for _, c := range Checks() {
		if !c.Applies(ModePreUpgrade) || ignored[strings.ToLower(c.Name())] {
			continue
		}
		for _, f := range runCheck(c, in) {
			if f.Severity != Fail {
				continue
			}
			remedied := false
			for _, s := range p.Steps {
				if defs[s.Kind].remedies(f, o) {
					remedied = true
					break
				}
			}
			if !remedied {
				fs = append(fs, f)
			}
		}
	}
	if len(fs) == 0 {
		return nil
	}
	be := &BlockedError{Findings: fs}
	mandatory := map[string]bool{}
	for _, c := range Checks() {
		mandatory[c.Name()] = c.Mandatory()
	}
	for _, f := range fs {
		if !o.recoverRunit && defs[StepRecoverRunit].remedies(f, o) {
			be.Recoverable = append(be.Recoverable, f)
		}
		if !mandatory[f.Check] && !slices.Contains(be.Ignorable, f.Check) {
			be.Ignorable = append(be.Ignorable, f.Check)
		}
	}
	return be
}

func nodeFamilies(f Facts) (map[string]string, error) {
	out := map[string]string{}
	for _, n := range f.Nodes {
		if n.Err != "" {
			return nil, fmt.Errorf("%s: %s", n.Node, n.Err)
		}
		fam, err := n.Family()
		if err != nil {
			return nil, err
		}
		out[n.Node] = fam
	}
	return out, nil
}

func topologyHash(t cluster.Topology) string {
	var b strings.Builder
	for _, s := range t.Servers {
		fmt.Fprintf(&b, "%s %s %v\n", s.Name, s.Role, s.Bootstrap)
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:8])
}

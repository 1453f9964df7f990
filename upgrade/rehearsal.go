package upgrade

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/chefha/chefha/cluster"
)

// The runbook's first rule: "All upgrades should be performed first with a
// copy of production data, but in an environment that is non-essential."
// A rehearsal is a plan's run to the end on a replica of production (same
// node names and roles, versions, levels, keepalived roles, runit state and
// configuration), which gives the same plan, by hash. A passed rehearsal is
// recorded beside the journal; a real run of a plan that has none asks for
// the operator's explicit word.

// Rehearsal is the record of a plan's run on a replica.
type Rehearsal struct {
	PlanHash string    `json:"plan_hash"`
	From     string    `json:"from"`
	To       string    `json:"to"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Passed   bool      `json:"passed"`
	// Cluster is the production cluster the replica copied
	// (ClusterDigest of its facts): a passed rehearsal counts for that
	// cluster only, not for another with the same host names.
	Cluster string `json:"cluster,omitempty"`
	// StoppedAt and Error say where and why a rehearsal that did not pass
	// stopped.
	StoppedAt string `json:"stopped_at,omitempty"`
	Error     string `json:"error,omitempty"`
	// Steps are how long each step took; Waits how long each gate waited.
	Steps []Timing `json:"steps"`
	Waits []Timing `json:"waits,omitempty"`
	// Outages are the plan's stops of service as the rehearsal measured
	// them, from the start of the step that begins each to the end of the
	// step that ends it.
	Outages []OutageTiming `json:"outages,omitempty"`
	// Findings are the post-flight's failures and warnings on the replica.
	Findings []Finding `json:"findings,omitempty"`
	// NotReproduced lists what of production the replica could not have
	// (DRBD's kernel side, the packages' contents, the data's volume).
	NotReproduced []string `json:"not_reproduced,omitempty"`
}

// Timing is one step's or gate's duration.
type Timing struct {
	Step    string        `json:"step"`
	Node    string        `json:"node,omitempty"`
	Started time.Time     `json:"started,omitzero"`
	Took    time.Duration `json:"took_ns"`
}

// OutageTiming is how long one of the plan's stops of service lasted.
type OutageTiming struct {
	Hop  int           `json:"hop"`
	Kind OutageKind    `json:"kind"`
	Took time.Duration `json:"took_ns"`
}

// measureOutages times the plan's stops of service from the steps' timings.
func measureOutages(p Plan, t cluster.Topology, steps []Timing) []OutageTiming {
	at := map[string]Timing{}
	for _, s := range steps {
		at[s.Step] = s
	}
	var out []OutageTiming
	for _, o := range planOutages(p, t) {
		from, ok1 := at[o.FromStep]
		until, ok2 := at[o.UntilStep]
		if !ok1 || !ok2 || from.Started.IsZero() || until.Started.IsZero() {
			continue // the rehearsal stopped before the stop of service ended
		}
		out = append(out, OutageTiming{Hop: o.Hop, Kind: o.Kind, Took: until.Started.Add(until.Took).Sub(from.Started)})
	}
	return out
}

// rehearsalFile is where a plan's rehearsal is kept in a directory.
func rehearsalFile(dir, hash string) string {
	return filepath.Join(dir, "chefha-rehearsal-"+hash+".json")
}

// SaveRehearsal records a rehearsal in dir (0600, see cluster.WritePrivate).
func SaveRehearsal(dir string, r Rehearsal) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return cluster.WritePrivate(rehearsalFile(dir, r.PlanHash), "rehearsal record", append(b, '\n'))
}

// LoadRehearsal reads the rehearsal of the plan with hash from dir;
// fs.ErrNotExist when there is none.
func LoadRehearsal(dir, hash string) (Rehearsal, error) {
	p := rehearsalFile(dir, hash)
	if err := cluster.CheckPrivate(p, "rehearsal record"); err != nil {
		return Rehearsal{}, err
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return Rehearsal{}, err
	}
	var r Rehearsal
	if err := json.Unmarshal(b, &r); err != nil {
		return Rehearsal{}, fmt.Errorf("%s: %w", p, err)
	}
	if r.PlanHash != hash {
		return Rehearsal{}, fmt.Errorf("%s records plan %s, not %s", p, r.PlanHash, hash)
	}
	return r, nil
}

// NotRehearsedError refuses a real run of a plan no rehearsal passed,
// unless the operator says to go on without one.
type NotRehearsedError struct {
	PlanHash string
	Dir      string
	// Why says why a passed rehearsal of the plan does not count: another
	// cluster's, or too old.
	Why string
	// Last is the last rehearsal of this plan, if one ran and failed.
	Last *Rehearsal
}

func (e *NotRehearsedError) Error() string {
	if e.Why != "" {
		return fmt.Sprintf("plan %s: its passed rehearsal does not count: %s; rehearse it again, or go on without a rehearsal only by saying so explicitly", e.PlanHash, e.Why)
	}
	if e.Last != nil {
		return fmt.Sprintf("plan %s: its rehearsal on a replica did not pass (stopped at %s: %s); rehearse again once fixed, or go on without a passed rehearsal only by saying so explicitly", e.PlanHash, e.Last.StoppedAt, e.Last.Error)
	}
	return fmt.Sprintf("plan %s was not rehearsed on a replica of this cluster (no record in %s): the runbook wants every upgrade run on a copy first; rehearse it, or go on without a rehearsal only by saying so explicitly", e.PlanHash, e.Dir)
}

// RehearsalMaxAge is how long a passed rehearsal counts: a cluster's
// state drifts, and an old rehearsal proves little about it now.
const RehearsalMaxAge = 7 * 24 * time.Hour

// ClusterDigest identifies a cluster by its facts: every node's name and
// the SHA-256 of each file of its /etc/opscode, which holds the cluster's
// own keys and secrets, so two clusters with the same host names differ
// (the files each reconfigure rewrites left out).
func ClusterDigest(f Facts) string {
	h := sha256.New()
	nodes := slices.Clone(f.Nodes)
	slices.SortFunc(nodes, func(a, b NodeFacts) int { return strings.Compare(a.Node, b.Node) })
	for _, n := range nodes {
		sums := n.EtcSums()
		for _, p := range slices.Sorted(maps.Keys(sums)) {
			if !slices.Contains(regenerated, p) {
				fmt.Fprintf(h, "%s %s %s\n", n.Node, p, sums[p])
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// checkRehearsed refuses a real run without a passed rehearsal of its
// plan, on this cluster, recent enough.
func (o options) checkRehearsed(p Plan, f Facts, now time.Time) error {
	if o.rehearsals == "" || o.unrehearsed || o.dryRun {
		return nil
	}
	r, err := LoadRehearsal(o.rehearsals, p.Hash())
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &NotRehearsedError{PlanHash: p.Hash(), Dir: o.rehearsals}
	case err != nil:
		return err
	case !r.Passed:
		return &NotRehearsedError{PlanHash: p.Hash(), Dir: o.rehearsals, Last: &r}
	case r.Cluster != ClusterDigest(f):
		return &NotRehearsedError{PlanHash: p.Hash(), Dir: o.rehearsals, Why: "it was rehearsed on a replica of another cluster, or this cluster's /etc/opscode changed since"}
	case now.Sub(r.Finished) > RehearsalMaxAge:
		return &NotRehearsedError{PlanHash: p.Hash(), Dir: o.rehearsals, Why: fmt.Sprintf("it passed %s ago, more than the %s a rehearsal counts", now.Sub(r.Finished).Round(time.Hour), RehearsalMaxAge)}
	}
	return nil
}

// ReplicaMismatchError is a replica whose plan is not production's: it
// does not look enough like production for its rehearsal to count.
type ReplicaMismatchError struct {
	Want, Got string
	Changed   []string
}

func (e *ReplicaMismatchError) Error() string {
	return fmt.Sprintf("the replica's plan %s is not production's %s: %v", e.Got, e.Want, e.Changed)
}

// Rehearse runs the upgrade the options describe on a replica, to the end
// (in a journal of its own, held in memory), and says how it went. want is
// production's plan: the replica must give the very same plan, or the
// rehearsal would prove nothing (*ReplicaMismatchError). The caller sets
// the result's Cluster to the production cluster the replica copied
// (ClusterDigest of its facts), as package replica does: a record without
// it counts for no cluster.
func Rehearse(ctx context.Context, replica *cluster.Cluster, want Plan, opts ...Option) (Rehearsal, error) {
	var events []Event
	caller := buildOptions(opts).onEvent
	opts = append(append([]Option{}, opts...), WithJournal(&MemJournal{}), WithEvents(func(ev Event) {
		events = append(events, ev)
		if caller != nil {
			caller(ev)
		}
	}))
	r := NewRunner(replica, opts...)
	r.o.rehearsals, r.o.dryRun = "", false
	got, err := r.Plan(ctx)
	if err != nil {
		return Rehearsal{}, fmt.Errorf("the replica cannot be planned: %w", err)
	}
	if got.Hash() != want.Hash() {
		return Rehearsal{}, &ReplicaMismatchError{Want: want.Hash(), Got: got.Hash(), Changed: planDiff(want, got)}
	}
	rh := Rehearsal{PlanHash: got.Hash(), From: got.From, To: got.To, Started: time.Now().UTC()}
	err = r.Run(ctx)
	rh.Finished = time.Now().UTC()
	waited := map[string]int{} // step → index in rh.Waits: a gate reports many looks
	started := map[string]time.Time{}
	for _, ev := range events {
		switch {
		case ev.Kind == EventStepStart:
			started[ev.Step] = ev.Time
		case ev.Kind == EventStepDone:
			rh.Steps = append(rh.Steps, Timing{Step: ev.Step, Started: started[ev.Step], Took: ev.Elapsed})
		case ev.Kind == EventGateWait && ev.Gate != nil:
			i, ok := waited[ev.Step]
			if !ok {
				i = len(rh.Waits)
				waited[ev.Step] = i
				rh.Waits = append(rh.Waits, Timing{Step: ev.Step, Node: ev.Node})
			}
			rh.Waits[i].Took = max(rh.Waits[i].Took, ev.Gate.Waited)
		}
	}
	rh.Outages = measureOutages(got, replica.Topology, rh.Steps)
	if err != nil {
		rh.Error = err.Error()
		var se *StepError
		if errors.As(err, &se) {
			rh.StoppedAt = se.Step
		}
		return rh, nil
	}
	rh.Passed = true
	if rep, err := Postflight(ctx, replica, withTargetVersion(r.o.target)); err == nil {
		for _, f := range rep.Findings {
			if f.Severity != OK {
				rh.Findings = append(rh.Findings, f)
			}
		}
	}
	return rh, nil
}

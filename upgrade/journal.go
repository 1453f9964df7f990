package upgrade

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/chefha/chefha/cluster"
)

// Journal records what a run did: the plan it ran (by hash), the steps that
// finished and the backups it made. It is never a source of actions: every
// run rebuilds its plan from the operator's inputs and the cluster's facts,
// refuses a journal of another plan, and re-checks each recorded step
// against the cluster before trusting it. Implementations: FileJournal,
// NodeJournal (a copy on the bootstrap, so another operator machine can
// resume), MirrorJournal (both), MemJournal (tests).
type Journal interface {
	// Load returns the record; ErrNoJournal when none was written yet.
	Load(ctx context.Context) (Record, error)
	// Save replaces the record atomically.
	Save(ctx context.Context, r Record) error
	// String says where the journal is, for messages.
	String() string
}

// ErrNoJournal is Load's answer when nothing was recorded yet.
var ErrNoJournal = errors.New("no journal yet")

// JournalFormat is the version of Record's JSON.
const JournalFormat = 1

// Record is a journal's content.
type Record struct {
	Format   int                   `json:"format"`
	PlanHash string                `json:"plan_hash"`
	Plan     Plan                  `json:"plan"`
	Started  time.Time             `json:"started"`
	Updated  time.Time             `json:"updated"`
	Steps    map[string]StepRecord `json:"steps"`
	Backups  []BackupRecord        `json:"backups,omitempty"`
	// Kept are the copies of trees the run replaced that it kept (the old
	// /etc/opscode of each node it copied the bootstrap's to): this run's
	// to remove once the upgraded cluster is verified.
	Kept []KeptCopy `json:"kept,omitempty"`
}

// KeptCopy is an old tree a run kept beside the one it replaced.
type KeptCopy struct {
	Node string    `json:"node"`
	Path string    `json:"path"`
	At   time.Time `json:"at"`
}

// StepRecord is a finished step.
type StepRecord struct {
	Finished time.Time     `json:"finished"`
	Took     time.Duration `json:"took_ns"`
	// Found is set when the step's effect was found already in place, so
	// nothing was run.
	Found bool `json:"found,omitempty"`
}

// BackupRecord is a backup the runner made (or checked).
type BackupRecord struct {
	Hop      int       `json:"hop"`
	Node     string    `json:"node"`
	At       time.Time `json:"at"`
	Kind     string    `json:"kind"` // "command" or "lvm"
	ExitCode int       `json:"exit_code"`
	Bytes    int       `json:"output_bytes"`
	// Snapshot and Size are an LVM snapshot's VG/NAME and size in bytes.
	Snapshot string `json:"snapshot,omitempty"`
	Size     int64  `json:"size,omitempty"`
	// Output is kept only when the operator asked (WithBackupOutput).
	Output string `json:"output,omitempty"`
	// Pending is set on the record saved just before the backup is made,
	// once no backup was found: a backup found after a crash in between
	// is this run's, one found with no record is not.
	Pending bool `json:"pending,omitempty"`
	// Lost says the backup went away during the run, and how (an LVM
	// snapshot the kernel dropped as it overflowed).
	Lost string `json:"lost,omitempty"`
	// Waived is the reason given when a resumed run went on without the
	// lost backup (Kind "waived").
	Waived string `json:"waived,omitempty"`
}

// Finished reports whether every step of the plan is recorded.
func (r Record) Finished() bool {
	if len(r.Plan.Steps) == 0 {
		return false
	}
	for _, s := range r.Plan.Steps {
		if _, ok := r.Steps[s.ID]; !ok {
			return false
		}
	}
	return true
}

var stepIDPattern = regexp.MustCompile(`^[a-z0-9]+(/[a-z0-9][a-z0-9.-]*){1,2}$`)

// DecodeRecord parses and validates a journal's bytes. A record that does
// not hold together (unknown format, a step recorded that its plan does
// not have, an id of the wrong shape) is an error: a journal only ever
// narrows what the runner does, and then only after re-checking.
func DecodeRecord(b []byte) (Record, error) {
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return Record{}, fmt.Errorf("journal: %w", err)
	}
	if r.Format != JournalFormat {
		return Record{}, fmt.Errorf("journal: format %d, this chefha reads %d", r.Format, JournalFormat)
	}
	if r.PlanHash != r.Plan.Hash() {
		return Record{}, fmt.Errorf("journal: plan hash %q does not match the plan recorded with it (%s): the file was edited", r.PlanHash, r.Plan.Hash())
	}
	ids := map[string]bool{}
	for _, s := range r.Plan.Steps {
		if !stepIDPattern.MatchString(s.ID) {
			return Record{}, fmt.Errorf("journal: step id %q is not a chefha step id", s.ID)
		}
		ids[s.ID] = true
	}
	for id := range r.Steps {
		if !ids[id] {
			return Record{}, fmt.Errorf("journal: step %q recorded done is not in its plan", id)
		}
	}
	if r.Steps == nil {
		r.Steps = map[string]StepRecord{}
	}
	return r, nil
}

func encodeRecord(r Record) ([]byte, error) {
	r.Format = JournalFormat
	b, err := json.MarshalIndent(r, "", "  ")
	return append(b, '\n'), err
}

// FileJournal keeps the journal in a local file, written mode 0600 in a
// directory of mode 0700 at most (it names the cluster's nodes and
// backups). An existing file or directory others can read is refused.
type FileJournal struct{ Path string }

func (j FileJournal) String() string { return j.Path }

// Load reads the file.
func (j FileJournal) Load(context.Context) (Record, error) {
	if err := cluster.CheckPrivate(j.Path, "journal"); err != nil {
		return Record{}, err
	}
	b, err := os.ReadFile(j.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return Record{}, ErrNoJournal
	}
	if err != nil {
		return Record{}, err
	}
	r, err := DecodeRecord(b)
	if err != nil {
		return Record{}, fmt.Errorf("%s: %w", j.Path, err)
	}
	return r, nil
}

// Save replaces the file atomically.
func (j FileJournal) Save(_ context.Context, r Record) error {
	b, err := encodeRecord(r)
	if err != nil {
		return err
	}
	return cluster.WritePrivate(j.Path, "journal", b)
}

// MemJournal keeps the record in memory (tests, dry runs).
type MemJournal struct {
	mu  sync.Mutex
	rec *Record
}

func (j *MemJournal) String() string { return "memory" }

// Load returns the record saved last.
func (j *MemJournal) Load(context.Context) (Record, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.rec == nil {
		return Record{}, ErrNoJournal
	}
	b, err := encodeRecord(*j.rec) // a copy, decoded as a file would be
	if err != nil {
		return Record{}, err
	}
	return DecodeRecord(b)
}

// Save keeps r.
func (j *MemJournal) Save(_ context.Context, r Record) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	r.Format = JournalFormat
	j.rec = &r
	return nil
}

// NodeJournalPath is where NodeJournal keeps its copy on a node.
const NodeJournalPath = "/var/opt/opscode/upgrades/chefha-journal.json"

// NodeJournal keeps the journal on a node (the bootstrap), mode 0600, so an
// operator on another machine can resume the run.
type NodeJournal struct {
	Node cluster.Node
	Path string // default NodeJournalPath
}

func (j NodeJournal) path() string {
	if j.Path == "" {
		return NodeJournalPath
	}
	return j.Path
}

func (j NodeJournal) String() string { return j.Node.Name() + ":" + j.path() }

// Load reads the node's copy.
func (j NodeJournal) Load(ctx context.Context) (Record, error) {
	b, err := j.Node.ReadFile(ctx, j.path())
	if errors.Is(err, fs.ErrNotExist) {
		return Record{}, ErrNoJournal
	}
	if err != nil {
		return Record{}, fmt.Errorf("journal %s: %w", j, err)
	}
	r, err := DecodeRecord(b)
	if err != nil {
		return Record{}, fmt.Errorf("%s: %w", j, err)
	}
	return r, nil
}

// Save writes the node's copy atomically.
func (j NodeJournal) Save(ctx context.Context, r Record) error {
	b, err := encodeRecord(r)
	if err != nil {
		return err
	}
	if err := j.Node.WriteFile(ctx, j.path(), b, 0o600); err != nil {
		return fmt.Errorf("journal %s: %w", j, err)
	}
	return nil
}

// MirrorJournal writes every record to all its journals and loads what
// they recorded together, so a run can resume from whichever survived:
// the operator's file, or the copy on the bootstrap when the run moves to
// another machine. Two copies of different plans are refused.
type MirrorJournal []Journal

func (m MirrorJournal) String() string {
	s := ""
	for i, j := range m {
		if i > 0 {
			s += " + "
		}
		s += j.String()
	}
	return s
}

// Load merges the mirrors' records by progress: a step or a backup that
// one copy recorded happened, whichever copy was written last (a run
// refused elsewhere may have rewritten one with less). A copy that cannot
// be read (corrupt, or its node unreachable) is passed over while another
// can be; when none can, the error names each and the remedy.
func (m MirrorJournal) Load(ctx context.Context) (Record, error) {
	var best *Record
	var bestFrom Journal
	var bad []error
	for _, j := range m {
		r, err := j.Load(ctx)
		if errors.Is(err, ErrNoJournal) {
			continue
		}
		if err != nil {
			bad = append(bad, fmt.Errorf("%s: %w", j, err))
			continue
		}
		if best == nil {
			best, bestFrom = &r, j
			continue
		}
		if best.PlanHash != r.PlanHash {
			return Record{}, fmt.Errorf("journals %s and %s record different plans (%s, %s): keep the right one and move the other away", bestFrom, j, best.PlanHash, r.PlanHash)
		}
		merged := mergeRecords(*best, r)
		best = &merged
	}
	if best == nil {
		if len(bad) > 0 {
			return Record{}, fmt.Errorf("no copy of the journal can be read (%w): move a corrupt copy away to resume from another, or restore one", errors.Join(bad...))
		}
		return Record{}, ErrNoJournal
	}
	return *best, nil
}

// mergeRecords joins two records of one plan: every step either finished,
// every backup either made (a made one over its pending record), the
// earliest start and the latest update.
func mergeRecords(a, b Record) Record {
	out := a
	out.Steps = maps.Clone(a.Steps)
	if out.Steps == nil {
		out.Steps = map[string]StepRecord{}
	}
	for id, s := range b.Steps {
		if _, ok := out.Steps[id]; !ok {
			out.Steps[id] = s
		}
	}
	out.Backups = slices.Clone(a.Backups)
	for _, bb := range b.Backups {
		i := slices.IndexFunc(out.Backups, func(x BackupRecord) bool { return x.Hop == bb.Hop && x.Node == bb.Node })
		switch {
		case i < 0:
			out.Backups = append(out.Backups, bb)
		case out.Backups[i].Pending && !bb.Pending:
			out.Backups[i] = bb
		}
	}
	if b.Started.Before(out.Started) {
		out.Started = b.Started
	}
	if b.Updated.After(out.Updated) {
		out.Updated = b.Updated
	}
	return out
}

// Save writes every mirror; the first failure is returned.
func (m MirrorJournal) Save(ctx context.Context, r Record) error {
	for _, j := range m {
		if err := j.Save(ctx, r); err != nil {
			return err
		}
	}
	return nil
}

// JournalMismatchError is a journal that does not fit this run: another
// plan, or steps it records whose effect is not on the cluster.
type JournalMismatchError struct {
	Journal string
	// Changed lists how the plan rebuilt now differs from the journal's.
	Changed []string
	// Undone lists recorded steps whose effect the cluster does not show.
	Undone []string
}

func (e *JournalMismatchError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "journal %s does not fit this cluster and these inputs: ", e.Journal)
	if len(e.Changed) > 0 {
		fmt.Fprintf(&b, "the plan changed since it was written (%s)", strings.Join(e.Changed, "; "))
	}
	if len(e.Undone) > 0 {
		if len(e.Changed) > 0 {
			b.WriteString("; and ")
		}
		fmt.Fprintf(&b, "it records steps whose effect the cluster does not show (%s)", strings.Join(e.Undone, "; "))
	}
	b.WriteString(". Nothing was run. Give the same inputs as the run that wrote it, or, to start a new run, move the journal away")
	return b.String()
}

// LoadJournal reads a journal file, for tools that report on a run.
func LoadJournal(path string) (Record, error) {
	return FileJournal{Path: path}.Load(context.Background())
}

// planDiff says how two plans differ, in the operator's terms.
func planDiff(old, now Plan) []string {
	if old.Hash() == now.Hash() {
		return nil
	}
	var out []string
	add := func(what, a, b string) {
		if a != b {
			out = append(out, fmt.Sprintf("%s %q, now %q", what, a, b))
		}
	}
	add("phase", string(old.Phase), string(now.Phase))
	add("from", old.From, now.From)
	add("target", old.To, now.To)
	add("topology", old.Topology, now.Topology)
	add("packages", fmt.Sprint(old.Inputs.Packages), fmt.Sprint(now.Inputs.Packages))
	add("backup", old.Inputs.Backup, now.Inputs.Backup)
	add("runit recovery", fmt.Sprint(old.Inputs.RecoverRunit), fmt.Sprint(now.Inputs.RecoverRunit))
	var a, b []string
	for _, s := range old.Steps {
		a = append(a, s.ID)
	}
	for _, s := range now.Steps {
		b = append(b, s.ID)
	}
	add("steps", strings.Join(a, ","), strings.Join(b, ","))
	if len(out) == 0 {
		out = append(out, "the step details differ (titles, timeouts or known issues)")
	}
	return out
}

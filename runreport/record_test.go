package runreport_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/clustertest"
	"github.com/chefha/chefha/internal/pkgfile"
	"github.com/chefha/chefha/runreport"
	"github.com/chefha/chefha/upgrade"
	"github.com/stretchr/testify/require"
)

var record = flag.Bool("record", false, "run the simulated upgrades again and rewrite testdata/*.events.jsonl and *.journal.json")

// epoch is where the recorded runs' time starts (testdata/README.md).
var epoch = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// scenario is a run to record: a simulated cluster, and what is done to it.
type scenario struct {
	name      string
	version   string
	target    string // default 11.1.8
	frontends int
	knobs     []clustertest.Knob
	// plant is planted after the cluster is dialled (a dropped connection).
	plant []clustertest.Knob
	// runs is how many times the runner is run (a resume is a second run).
	runs int
	// lvm is the back ends' volume group; backup replaces the inputs'
	// backup pair.
	lvm    *clustertest.LVM
	backup *upgrade.Backup
	// onEvent sees each event as the runner emits it; between runs after
	// each run but the last, with its error.
	onEvent func(t testing.TB, sim *clustertest.Cluster, cl *cluster.Cluster, ev upgrade.Event)
	between func(t testing.TB, cl *cluster.Cluster, err error)
}

var scenarios = []scenario{
	{name: "upgrade-1.4.6-11.1.8", version: "1.4.6", frontends: 3, knobs: []clustertest.Knob{clustertest.OC11382()}, runs: 1},
	// Before 11.1.7 no sleep outlasts keepalived's restart: OC-11382 bites.
	{name: retryRun, version: "1.4.6", target: "11.1.6", frontends: 1, knobs: []clustertest.Knob{clustertest.OC11382()}, runs: 1},
	{name: "failed-partybus-locked", version: "11.0.2", frontends: 2, knobs: []clustertest.Knob{clustertest.PartybusLocked()}, runs: 1},
	{name: "resumed-dropped-connection", version: "1.4.6", frontends: 2, plant: []clustertest.Knob{clustertest.DropMidCommand("fe2.chefha.test", 5)}, runs: 2},
	{name: lvmRun, version: "1.4.6", frontends: 1, runs: 2,
		lvm:    &clustertest.LVM{Size: 1 << 30, Used: 64 << 20, Free: 1 << 30, Churn: 1 << 20},
		backup: &upgrade.Backup{LVM: &upgrade.LVMSnapshot{}}, onEvent: fillSnapshot, between: extendSnapshot},
}

// recordedOnce keeps -record to one simulated run per scenario and process.
var recordedOnce sync.Map // name → *sync.Once

// recorded is a fixture: the events of a scenario's runs and the journal
// they left, read from testdata (and first written there under -record).
func recorded(t testing.TB, name string) ([]upgrade.Event, upgrade.Record) {
	t.Helper()
	base := filepath.Join("testdata", name)
	if *record {
		i := slices.IndexFunc(scenarios, func(sc scenario) bool { return sc.name == name })
		require.GreaterOrEqual(t, i, 0, "no scenario %s", name)
		once, _ := recordedOnce.LoadOrStore(name, new(sync.Once))
		once.(*sync.Once).Do(func() { recordScenario(t, scenarios[i], base) })
	}
	f, err := os.Open(base + ".events.jsonl")
	require.NoError(t, err)
	defer f.Close()
	events, err := runreport.ReadEvents(f)
	require.NoError(t, err)
	b, err := os.ReadFile(base + ".journal.json")
	require.NoError(t, err)
	rec, err := upgrade.DecodeRecord(b)
	require.NoError(t, err)
	return events, rec
}

// sample is the wall clock and the simulated clock read at one moment.
type sample struct{ wall, sim time.Time }

// timeline maps the run's wall-clock times onto the time a real cluster
// would have taken: the simulation's keepalived waits and sleeps advance
// its FakeClock and take no wall time, so each time becomes the wall time
// since the run began plus how far the simulated clock had moved by then.
type timeline struct {
	mu      sync.Mutex
	start   sample
	clock   *clustertest.FakeClock
	samples []sample
}

func (tl *timeline) now() sample { return sample{time.Now(), tl.clock.Now()} }

// mapped is a wall time t at which the simulated clock read sim.
func (tl *timeline) mapped(t, sim time.Time) time.Time {
	return epoch.Add(t.Sub(tl.start.wall) + sim.Sub(tl.start.sim)).UTC()
}

func (tl *timeline) mark() {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	tl.samples = append(tl.samples, tl.now())
}

// at maps a time the runner stamped just before an event or a save of
// the journal: the simulated clock is read at the first of those at or
// after t.
func (tl *timeline) at(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	tl.mu.Lock()
	defer tl.mu.Unlock()
	i := sort.Search(len(tl.samples), func(i int) bool { return !tl.samples[i].wall.Before(t) })
	if i == len(tl.samples) {
		i--
	}
	return tl.mapped(t, tl.samples[i].sim)
}

// sampledJournal samples the clocks at every save, right after the runner
// stamped what it records (the events sample them too).
type sampledJournal struct {
	upgrade.MemJournal
	tl *timeline
}

func (j *sampledJournal) Save(ctx context.Context, r upgrade.Record) error {
	j.tl.mark()
	return j.MemJournal.Save(ctx, r)
}

func recordScenario(t testing.TB, sc scenario, base string) {
	t.Helper()
	clock := clustertest.NewFakeClock(epoch)
	sim, err := clustertest.New(clustertest.Options{Version: sc.version, Frontends: sc.frontends, Clock: clock.Now, Sleep: clock.Advance, Knobs: sc.knobs, LVM: sc.lvm})
	require.NoError(t, err)
	defer sim.Close()
	cl, err := sim.Dial(context.Background())
	require.NoError(t, err)
	defer cl.Close()
	for _, k := range sc.plant {
		require.NoError(t, sim.Plant(k))
	}
	tl := &timeline{clock: clock}
	journal := &sampledJournal{tl: tl}
	var events []upgrade.Event
	var sims []time.Time // the simulated clock at each event
	opts := append(inputs(t, clock, sc.target), upgrade.WithJournal(journal),
		upgrade.WithEvents(func(ev upgrade.Event) {
			tl.mark()
			events = append(events, ev)
			sims = append(sims, clock.Now())
			if sc.onEvent != nil {
				sc.onEvent(t, sim, cl, ev)
			}
		}))
	if sc.backup != nil {
		opts = append(opts, upgrade.WithBackup(*sc.backup))
	}
	tl.start = tl.now()
	for i := 0; i < sc.runs; i++ {
		err := upgrade.NewRunner(cl, opts...).Run(context.Background())
		t.Logf("%s: run %d: %v", sc.name, i+1, err)
		if sc.between != nil && i < sc.runs-1 {
			sc.between(t, cl, err)
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for i, ev := range events {
		if g := ev.Gate; g != nil && !g.TimeoutAt.IsZero() {
			// The gate's deadline is on the simulated clock.
			gc := *g
			gc.TimeoutAt = tl.mapped(ev.Time, gc.TimeoutAt)
			ev.Gate = &gc
		}
		ev.Time = tl.mapped(ev.Time, sims[i])
		require.NoError(t, enc.Encode(ev))
	}
	require.NoError(t, os.WriteFile(base+".events.jsonl", buf.Bytes(), 0o644))
	rec, err := journal.Load(context.Background())
	require.NoError(t, err)
	rec.Started, rec.Updated = tl.at(rec.Started), tl.at(rec.Updated)
	for id, s := range rec.Steps {
		end := tl.at(s.Finished)
		s.Took = end.Sub(tl.at(s.Finished.Add(-s.Took)))
		s.Finished = end
		rec.Steps[id] = s
	}
	for i := range rec.Backups {
		rec.Backups[i].At = tl.at(rec.Backups[i].At)
	}
	b, err := json.MarshalIndent(rec, "", "  ")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(base+".journal.json", append(b, '\n'), 0o644))
}

// inputs are an upgrade to 11.1.8's, as upgrade's tests give them.
func inputs(t testing.TB, clock *clustertest.FakeClock, target string) []upgrade.Option {
	if target == "" {
		target = "11.1.8"
	}
	opts := []upgrade.Option{upgrade.WithTarget(target),
		upgrade.WithBackup(upgrade.Backup{Command: "mkdir /tmp/chefha-backup", Check: "test -e /tmp/chefha-backup"}),
		upgrade.WithClock(clock)}
	for _, p := range writePackages(t, t.TempDir()) {
		opts = append(opts, upgrade.WithPackage(p))
	}
	return opts
}

// writePackages writes a .deb of every release the scenarios go through
// (the simulated nodes are Debian's).
func writePackages(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	for _, v := range []string{"1.4.6", "11.0.2", "11.1.6", "11.1.8"} {
		p := filepath.Join(dir, "private-chef_"+v+"-1_amd64.deb")
		f, err := os.Create(p)
		require.NoError(t, err)
		require.NoError(t, pkgfile.WriteDeb(f, pkgfile.Meta{Name: "private-chef", Version: v, Release: "1", Arch: "amd64"}))
		require.NoError(t, f.Close())
		out = append(out, p)
	}
	return out
}

package upgrade_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/upgrade"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// logRecord is a record's first line, parsed.
type logRecord struct {
	start                  time.Time
	node, op, status, rest string
	tail                   []string
}

var recordLine = regexp.MustCompile(`^(\S+) (\S+) (run|read|write|stat|readdir|mkdir|rename|remove|chown|symlink|sha256) (\S+) (exit=\d+|ok|missing|error) (.*)$`)

// readCommandLog reads a command log: its records, and the notes and
// headers between them, each line checked against the format.
func readCommandLog(t *testing.T, path string) (recs []logRecord, notes []string) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	require.True(t, strings.HasPrefix(lines[0], "# chefha command log: "), lines[0])
	for _, line := range lines[1:] {
		switch {
		case strings.HasPrefix(line, "=== "), strings.HasPrefix(line, "--- "):
			notes = append(notes, line)
		case strings.HasPrefix(line, "  "):
			require.NotEmpty(t, recs, "a tail line under no record: %q", line)
			recs[len(recs)-1].tail = append(recs[len(recs)-1].tail, line)
		default:
			m := recordLine.FindStringSubmatch(line)
			require.NotNil(t, m, "not a record: %q", line)
			start, err := time.Parse(time.RFC3339, m[1])
			require.NoError(t, err)
			assert.True(t, strings.HasSuffix(m[1], "Z"), "UTC: %s", m[1])
			_, err = time.ParseDuration(m[4])
			require.NoError(t, err, line)
			recs = append(recs, logRecord{start: start, node: m[2], op: m[3], status: m[5], rest: m[6]})
		}
	}
	return recs, notes
}

// find returns the records of node and op whose status and command or
// path match.
func find(recs []logRecord, node, op, status, rest string) []logRecord {
	var out []logRecord
	re := regexp.MustCompile(rest)
	for _, r := range recs {
		if r.node == node && r.op == op && r.status == status && re.MatchString(r.rest) {
			out = append(out, r)
		}
	}
	return out
}

// A real run logs every call it makes to a node, reads and actions alike,
// in a 0600 file beside the journal, each step's records under its note.
func TestCommandLogOfARun(t *testing.T) {
	t.Parallel()
	e := newUpgradeEnv(t, "1.4.6", 1)
	r := e.runner("11.1.8", nil)
	path := r.CommandLog()
	require.Equal(t, filepath.Join(e.dir, "journal", "upgrade.commands.log"), path)
	began := time.Now()
	require.NoError(t, r.Run(context.Background()))
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())

	recs, notes := readCommandLog(t, path)
	for _, tt := range []struct {
		node, op, status, rest string
	}{
		// The facts, read from every node.
		{"be1.chefha.test", "run", "exit=0", `^# sh -c <chefha's facts script: every section>$`},
		{"be2.chefha.test", "run", "exit=0", `^# sh -c <chefha's facts script: every section>$`},
		{"fe1.chefha.test", "run", "exit=0", `^# sh -c <chefha's facts script: every section>$`},
		// The locks.
		{"fe1.chefha.test", "write", "ok", `^/var/opt/opscode/upgrades/chefha\.lock/owner \(\d+ bytes, mode 0600\)$`},
		// The backup, made once its check found none.
		{"be1.chefha.test", "run", "exit=1", `^# sh -c <the backup check>$`},
		{"be1.chefha.test", "run", "exit=0", `^# sh -c <the backup command>$`},
		// The actions (a critical one detached: the wrapper, then the command).
		{"be1.chefha.test", "run", "exit=0", `^# sh -c 'set -u\\n.* chefha-detached \S+ \S+ env SVWAIT=30 private-chef-ctl upgrade$`},
		{"fe1.chefha.test", "run", "exit=0", `^# sh -c 'set -u\\n.* chefha-detached \S+ \S+ env SVWAIT=30 private-chef-ctl upgrade$`},
		{"be2.chefha.test", "run", "exit=0", `^# sh -c 'set -u\\n.* dpkg -i /tmp/private-chef_11\.1\.8-1_amd64\.deb$`},
		{"fe1.chefha.test", "run", "exit=0", `^# env SVWAIT=30 private-chef-ctl reconfigure$`},
		{"fe1.chefha.test", "mkdir", "ok", `^/etc/opscode\.chefha-new-\d{8}T\d{6}Z \(mode 0700\)$`},
	} {
		assert.NotEmpty(t, find(recs, tt.node, tt.op, tt.status, tt.rest), "%+v", tt)
	}
	for _, r := range recs {
		assert.WithinRange(t, r.start, began.Add(-time.Second), time.Now(), "%+v", r)
	}
	// As many upgrades in the log as the nodes ran.
	for name, log := range e.logs() {
		assert.Equal(t, strings.Count(log, "private-chef-ctl upgrade"), len(find(recs, name, "run", "exit=0", `private-chef-ctl upgrade$`)), name)
	}

	var steps []string
	for _, n := range notes {
		if _, step, ok := strings.Cut(n, "Z step "); ok {
			id, _, _ := strings.Cut(step, ":")
			steps = append(steps, id)
		}
	}
	var started []string // not found done already
	for _, s := range r.Record().Plan.Steps {
		if !r.Record().Steps[s.ID].Found {
			started = append(started, s.ID)
		}
	}
	assert.Equal(t, started, steps, "each step's note, in order")
	require.Len(t, notes, len(steps)+3, "the run's header, the plan, the steps and the end")
	assert.Regexp(t, `^=== \S+Z run: pid \d+ on .+, journal `+regexp.QuoteMeta(e.journal.String())+`$`, notes[0])
	assert.Regexp(t, `^--- \S+Z plan upgrade 1\.4\.6 → 11\.1\.8: \d+ steps, plan [0-9a-f]+$`, notes[1])
	assert.Regexp(t, `^--- \S+Z end: done$`, notes[len(notes)-1])
}

// A step that fails names the log in its error and in the events, and
// the log holds the failing command with its status and the tail of its
// output, secrets redacted. Fixed, the run resumes and appends to it.
func TestCommandLogOfAFailureAndItsResume(t *testing.T) {
	t.Parallel()
	e := newUpgradeEnv(t, "1.4.6", 1)
	// The backup fails until the file it reads is there; what it prints
	// holds a secret.
	backup := upgrade.WithBackup(upgrade.Backup{Command: "echo sql_password: hunter2; cat /var/backups/ready", Check: "test -e /var/backups/ready"})
	var events []upgrade.Event
	r := e.runner("11.1.8", &events, backup, upgrade.WithBackupOutput())
	path := r.CommandLog()
	err := r.Run(context.Background())
	require.Error(t, err)

	var serr *upgrade.StepError
	require.ErrorAs(t, err, &serr)
	assert.Equal(t, "hop1/backup", serr.Step)
	assert.Equal(t, path, serr.CommandLog)
	assert.Contains(t, err.Error(), "\ncommand log: "+path)
	for _, ev := range events {
		if ev.Kind == upgrade.EventStepFailed || ev.Kind == upgrade.EventOutcome {
			assert.Contains(t, ev.Message, "command log: "+path, ev.Kind)
			assert.Equal(t, 1, strings.Count(ev.Message, "command log: "), ev.Kind)
		}
	}

	recs, notes := readCommandLog(t, path)
	failed := find(recs, "be1.chefha.test", "run", "exit=1", `^# sh -c <the backup command>$`)
	require.Len(t, failed, 1)
	assert.Equal(t, []string{`  | sql_password: "[REDACTED]"`, "  ! cat: /var/backups/ready: No such file or directory"}, failed[0].tail)
	assert.Regexp(t, `^--- \S+Z end: failed \(step\): step hop1/backup `, notes[len(notes)-1])
	first, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.NotContains(t, string(first), "hunter2")

	require.NoError(t, e.sim.Bootstrap().WriteFile("/var/backups/ready", []byte("dump\n"), 0o600))
	require.NoError(t, e.runner("11.1.8", nil, backup, upgrade.WithBackupOutput()).Run(context.Background()))
	all, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(all), string(first)), "the resumed run appends")
	recs, notes = readCommandLog(t, path)
	var headers []string
	for _, n := range notes {
		if strings.HasPrefix(n, "=== ") {
			headers = append(headers, n)
		}
	}
	assert.Len(t, headers, 2, "a header for each run")
	assert.NotEmpty(t, find(recs, "be1.chefha.test", "run", "exit=0", `^# sh -c <the backup check>$`), "the backup found made")
	assert.Regexp(t, `end: done$`, notes[len(notes)-1])
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
}

// A log others could read is refused, as the journal is, before any node
// is read or locked; it is left as it was.
func TestCommandLogModeRefused(t *testing.T) {
	t.Parallel()
	e := newUpgradeEnv(t, "1.4.6", 1)
	r := e.runner("11.1.8", nil)
	require.NoError(t, os.MkdirAll(filepath.Dir(r.CommandLog()), 0o700))
	require.NoError(t, os.WriteFile(r.CommandLog(), []byte("old\n"), 0o644))
	err := r.Run(context.Background())
	var me *cluster.ModeError
	require.ErrorAs(t, err, &me)
	assert.Equal(t, r.CommandLog(), me.Path)
	assert.Contains(t, err.Error(), "chmod 600 ")
	b, rerr := os.ReadFile(r.CommandLog())
	require.NoError(t, rerr)
	assert.Equal(t, "old\n", string(b))
	_, serr := e.sim.Bootstrap().Stat(upgrade.LockPath)
	assert.True(t, errors.Is(serr, os.ErrNotExist), "no lock taken: %v", serr)
}

// A dry run writes nothing on this machine: no journal, no command log.
func TestDryRunKeepsNoCommandLog(t *testing.T) {
	t.Parallel()
	e := newUpgradeEnv(t, "1.4.6", 1)
	r := e.runner("11.1.8", nil, upgrade.WithDryRun())
	assert.Empty(t, r.CommandLog())
	require.NoError(t, r.Run(context.Background()))
	_, err := os.Stat(filepath.Join(e.dir, "journal"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}

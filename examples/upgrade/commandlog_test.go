package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/chefha/chefha/clustertest"
	"github.com/chefha/chefha/upgrade"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A failed run names its command log, a 0600 file beside the journal that
// holds the failing command with its status; in JSON, the outcome's
// message names it too.
func TestFailedRunNamesItsCommandLog(t *testing.T) {
	t.Parallel()
	n := startNamed(t, clustertest.Options{Version: "1.4.6", Frontends: 1})
	journal := filepath.Join(n.Dir, "j.json")
	cmdlog := filepath.Join(n.Dir, "j.commands.log")
	base := []string{"-config", n.RB, "-ssh-config", n.Conf, "-package", n.Pkg, "-journal", journal,
		"-backup-cmd", "cat /var/backups/ready", "-backup-check", "test -e /var/backups/ready", "-apply", "-without-rehearsal",
		"-width", "300"} // each message on a line of its own
	code, out, errs := runArgs(t, base...)
	require.Equal(t, exitFailed, code, "%s%s", out, errs)
	assert.Regexp(t, `\nstopped after \S+: step hop1/backup .*\ncommand log: `+regexp.QuoteMeta(cmdlog)+`\nthe journal is `, out)
	st, err := os.Stat(cmdlog)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	b, err := os.ReadFile(cmdlog)
	require.NoError(t, err)
	assert.Regexp(t, `\n\S+Z be1\.chefha\.test run \S+ exit=1 # sh -c <the backup command>\n`, string(b))

	code, out, _ = runArgs(t, append(base, "-resume", "-o", "json")...)
	require.Equal(t, exitFailed, code)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var last upgrade.Event
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &last))
	assert.Equal(t, upgrade.OutcomeFailed, last.Outcome)
	assert.Contains(t, last.Message, "\ncommand log: "+cmdlog)
}

package main

import (
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/chefha/chefha/clustertest"
	"github.com/stretchr/testify/require"
)

// The terminal output of each path an operator takes off the happy path,
// at 80 columns, as golden files (testdata/paths-*.txt): already at the
// target, no backup declared, a failed step, and its resumed run. What
// changes from run to run (times, the test's directories) is replaced.
func TestOperatorPathsGolden(t *testing.T) {
	t.Parallel()
	t.Run("at-target", func(t *testing.T) {
		t.Parallel()
		code, out, errs := runArgs(t, "-target", "1.4.6", "-width", "80")
		goldenText(t, "paths-at-target.txt", transcript(code, out, errs))
	})
	t.Run("no-backup", func(t *testing.T) {
		t.Parallel()
		n := startFixed(t, clustertest.Options{Version: "11.1.6", Frontends: 1})
		base := []string{"-config", n.RB, "-ssh-config", n.Conf, "-package", n.Pkg, "-journal", filepath.Join(n.Dir, "j.json"), "-width", "80"}
		code, out, errs := runArgs(t, append(base, "-apply", "-without-rehearsal")...)
		goldenText(t, "paths-no-backup.txt", n.scrub(transcript(code, out, errs)))
	})
	t.Run("failed-then-resumed", func(t *testing.T) {
		t.Parallel()
		// The backup's check does not find what its command made: the run
		// stops at the backup, before anything changed; once the operator
		// puts it right, the resumed run finishes.
		n := startFixed(t, clustertest.Options{Version: "11.1.6", Frontends: 1})
		base := []string{"-config", n.RB, "-ssh-config", n.Conf, "-package", n.Pkg, "-journal", filepath.Join(n.Dir, "j.json"),
			"-backup-cmd", "mkdir -p /var/backups/chefha", "-backup-check", "test -e /var/backups/chefha/ready",
			"-hold", "10ms", "-width", "80", "-apply", "-without-rehearsal"}
		code, out, errs := runArgs(t, base...)
		goldenText(t, "paths-failed-step.txt", n.scrub(transcript(code, out, errs)))
		require.NoError(t, n.Sim.Bootstrap().WriteFile("/var/backups/chefha/ready", nil, 0o644))
		code, out, errs = runArgs(t, append(base, "-resume")...)
		goldenText(t, "paths-resumed.txt", n.scrub(transcript(code, out, errs)))
	})
}

// transcript is what the terminal shows: stdout, then stderr, then the
// exit status, with the times that change from run to run replaced.
func transcript(code int, out, errs string) string {
	s := out
	if errs != "" {
		s += "--- stderr\n" + errs
	}
	s += fmt.Sprintf("--- exit status %d\n", code)
	// A gate's progress lines come as often as the simulated transitions
	// take, which is real time: their number is not the product.
	s = gateProgress.ReplaceAllString(s, "")
	for _, r := range volatile {
		s = r.re.ReplaceAllString(s, r.with)
	}
	return s
}

var (
	fixedBase    = regexp.MustCompile(`/tmp/chefha-paths-[0-9a-f]{8}`)
	gateProgress = regexp.MustCompile(`(?m)^\[ *[0-9]+\.[0-9]s\]     waiting: .*\n(?: {13}.*\n)*`) // its cut lines too
	volatile     = []struct {
		re   *regexp.Regexp
		with string
	}{
		{regexp.MustCompile(`\[ *[0-9]+\.[0-9]s\]`), "[  T.Ts]"},
		{regexp.MustCompile(`\([0-9.]+(ns|µs|ms|s)\)`), "(T)"},
		{regexp.MustCompile(`(after|in) [0-9.]+(ns|µs|ms|s)\b`), "$1 T"},
		{regexp.MustCompile(`pid [0-9]+`), "pid N"},
		{regexp.MustCompile(`chefha-backup-[0-9]{8}T[0-9]{6}Z`), "chefha-backup-YYYYMMDDTHHMMSSZ"},
	}
)

// startFixed is startNamed with its files in directories whose names are
// as long on every machine and run (/tmp/chefha-paths-XXXXXXXX/{run,conf}):
// the output is cut to 80 columns before the names are replaced, so a
// longer name would move the cuts.
func startFixed(t *testing.T, o clustertest.Options) namedSim {
	t.Helper()
	var base string
	for {
		base = fmt.Sprintf("/tmp/chefha-paths-%08x", rand.Uint32())
		err := os.Mkdir(base, 0o700)
		if err == nil {
			break
		}
		require.ErrorIs(t, err, fs.ErrExist)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	for _, d := range []string{"run", "conf"} {
		require.NoError(t, os.Mkdir(filepath.Join(base, d), 0o700))
	}
	return startNamedIn(t, o, filepath.Join(base, "run"), filepath.Join(base, "conf"))
}

// scrub names the test's directories by what they are.
func (n namedSim) scrub(s string) string {
	s = strings.NewReplacer(filepath.Dir(n.RB), "CONFDIR", filepath.Dir(n.Conf), "SSHDIR", n.Dir, "DIR").Replace(s)
	return fixedBase.ReplaceAllString(s, "/tmp/chefha-paths-XXXXXXXX")
}

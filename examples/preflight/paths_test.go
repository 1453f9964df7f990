package main

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/chefha/chefha/clustertest"
	"github.com/chefha/chefha/internal/golden"
	"github.com/stretchr/testify/require"
)

var simPort = regexp.MustCompile(`127\.0\.0\.1:[0-9]+`)

// The terminal output of the pre-flight's paths off the happy path, at 80
// columns, as golden files (testdata/paths-*.txt): a node that cannot be
// reached, a cluster named by -hosts, and checks ignored.
func TestOperatorPathsGolden(t *testing.T) {
	t.Parallel()
	named := func(t *testing.T, knobs ...clustertest.Knob) (rb, conf string, replace *strings.Replacer) {
		sim, err := clustertest.New(clustertest.Options{Version: "1.4.6", Frontends: 1, Knobs: knobs})
		require.NoError(t, err)
		t.Cleanup(func() { sim.Close() })
		dir := t.TempDir()
		rb, conf, err = sim.WriteNamed(dir)
		require.NoError(t, err)
		return rb, conf, strings.NewReplacer(dir, "DIR")
	}
	for _, tt := range []struct {
		name string
		args func(t *testing.T) ([]string, *strings.Replacer)
	}{
		{"unreachable", func(t *testing.T) ([]string, *strings.Replacer) {
			rb, conf, r := named(t, clustertest.Unreachable("fe1.chefha.test"))
			return []string{"-config", rb, "-ssh-config", conf, "-timeout", "5s"}, r
		}},
		{"hosts", func(t *testing.T) ([]string, *strings.Replacer) {
			_, conf, r := named(t)
			return []string{"-hosts", "be1.chefha.test=backend:bootstrap,be2.chefha.test=backend,fe1.chefha.test=frontend", "-ssh-config", conf}, r
		}},
		{"ignore", func(t *testing.T) ([]string, *strings.Replacer) {
			return []string{"-ignore", "runit-processes,migration-level"}, strings.NewReplacer()
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args, r := tt.args(t)
			var out, errb bytes.Buffer
			code := run(append(args, "-width", "80"), &out, &errb)
			got := out.String()
			if errb.Len() > 0 {
				got += "--- stderr\n" + errb.String()
			}
			got = r.Replace(got + fmt.Sprintf("--- exit status %d\n", code))
			got = simPort.ReplaceAllString(got, "127.0.0.1:PORT") // each simulated node listens on a free port
			assertFits(t, out.String(), 80)
			golden.Assert(t, "paths-"+tt.name+".txt", []byte(got))
		})
	}
}

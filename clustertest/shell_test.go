package clustertest_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/clustertest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSplit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want []string
		err  string
	}{
		{in: "private-chef-ctl status", want: []string{"private-chef-ctl", "status"}},
		{in: "  a\t b\n c  ", want: []string{"a", "b", "c"}},
		{in: `'it'\''s' "x y" ''`, want: []string{"it's", "x y", ""}},
		{in: `a'b'"c"\ d`, want: []string{"abc d"}},
		{in: `"a\b" "\$HOME" "q\"" "\\"`, want: []string{`a\b`, "$HOME", `q"`, `\`}},
		{in: "'two\nlines'", want: []string{"two\nlines"}},
		{in: `echo $$; exec true`, want: []string{"echo", "$$;", "exec", "true"}},
		{in: "", want: nil},
		{in: "'open", err: "unterminated '"},
		{in: `"open`, err: `unterminated "`},
	} {
		got, err := clustertest.Split(tc.in)
		if tc.err != "" {
			assert.EqualError(t, err, tc.err, "%q", tc.in)
			continue
		}
		require.NoError(t, err, "%q", tc.in)
		assert.Equal(t, tc.want, got, "%q", tc.in)
	}
}

// FuzzSplit: the simulated shell reads whatever an SSH client sends.
// Split never panics, and it undoes cluster.ShellJoin for any words.
func FuzzSplit(f *testing.F) {
	for _, s := range []string{"private-chef-ctl status", `sh -c 'echo "$@"' x 'a b'`, `"\$\"\\"`, "'", `"`, "\\", "a\\\nb",
		"echo $$; exec sudo -n -- cat /proc/drbd", "\x00'\xff'"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		words, err := clustertest.Split(s)
		if err == nil {
			for _, w := range words {
				if strings.ContainsAny(w, " \t\n") && !strings.ContainsAny(s, `'"\`) {
					t.Fatalf("Split(%q): unquoted word %q holds a blank", s, w)
				}
			}
		}
		argv := strings.Split(s, "\x00")
		back, err := clustertest.Split(cluster.ShellJoin(argv))
		if err != nil {
			t.Fatalf("Split(ShellJoin(%q)): %v", argv, err)
		}
		if len(back) != len(argv) {
			t.Fatalf("Split(ShellJoin(%q)) = %q", argv, back)
		}
		for i := range argv {
			if back[i] != argv[i] {
				t.Fatalf("Split(ShellJoin(%q)) = %q", argv, back)
			}
		}
	})
}

// A umask is a process's: one session's `umask 077` holds for the rest of
// its own script only, not for a session running beside it or after it.
// (Sessions once shared the node's umask: a race, and a 077 leaking into
// another session's reconfigure.)
func TestSessionsHaveTheirOwnUmask(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sim, err := clustertest.New(clustertest.Options{Version: "11.1.8"})
	require.NoError(t, err)
	t.Cleanup(func() { sim.Close() })
	boot := sim.Bootstrap()
	const cfg = "/var/opt/opscode/upgrades/etc/config.rb" // partybus's, written 0644 by reconfigure
	mode := func() os.FileMode {
		st, err := boot.Stat(cfg)
		require.NoError(t, err)
		return st.Mode().Perm()
	}
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			// upgrade's detached form: it writes its pid, log and status.
			cmd := fmt.Sprintf("sh -c : chefha-detached /var/tmp/chefha d%d true", i)
			if i%2 == 0 {
				cmd = "sh -c 'umask 077; true'"
			}
			boot.Run(ctx, cmd, nil, io.Discard, io.Discard)
		})
	}
	wg.Wait()
	var stderr bytes.Buffer
	require.Zero(t, boot.Run(ctx, "sh -c 'umask 077; private-chef-ctl reconfigure'", nil, io.Discard, &stderr), stderr.String())
	assert.Equal(t, os.FileMode(0o600), mode(), "written under the session's 077")
	require.Zero(t, boot.Run(ctx, "private-chef-ctl reconfigure", nil, io.Discard, &stderr), stderr.String())
	assert.Equal(t, os.FileMode(0o644), mode(), "the next session starts with the login's 022")
}

// In a script, a command's trailing 2>/dev/null drops its complaints, as sh
// does: the facts' stat of every release's service files says nothing of
// the many a node does not have.
func TestStderrToDevNull(t *testing.T) {
	t.Parallel()
	sim, err := clustertest.New(clustertest.Options{Version: "11.1.8"})
	require.NoError(t, err)
	t.Cleanup(func() { sim.Close() })
	var stdout, stderr bytes.Buffer
	code := sim.Bootstrap().Run(context.Background(), "sh -c 'stat -c %n /etc/opscode/private-chef.rb /nonexistent 2>/dev/null'", nil, &stdout, &stderr)
	assert.NotZero(t, code, "stat of a missing file fails")
	assert.Equal(t, "/etc/opscode/private-chef.rb\n", stdout.String())
	assert.Empty(t, stderr.String())
	stderr.Reset()
	sim.Bootstrap().Run(context.Background(), "sh -c 'stat -c %n /nonexistent'", nil, io.Discard, &stderr)
	assert.Contains(t, stderr.String(), "/nonexistent", "without it the complaint is there")
}

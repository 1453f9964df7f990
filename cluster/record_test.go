package cluster_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chefha/chefha/cluster"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRecordThenReplay(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	work, fixtures := t.TempDir(), filepath.Join(t.TempDir(), "fixtures")
	require.NoError(t, os.WriteFile(filepath.Join(work, "current_cluster_status"), []byte("master\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(work, "binary"), []byte{0xff, 0x00, 0xfe}, 0o644))

	rec, err := cluster.NewRecording(cluster.NewLocal("be1"), fixtures)
	require.NoError(t, err)
	calls := func(n cluster.Node) (out []string, errs []error) {
		res, err := n.Run(ctx, cluster.Command("echo", "run: nginx"))
		out, errs = append(out, string(res.Stdout)), append(errs, err)
		res, err = n.Run(ctx, cluster.Cmd{Argv: []string{"sh", "-c", "cat; exit 3"}, Stdin: []byte("in")})
		out, errs = append(out, string(res.Stdout)), append(errs, err)
		b, err := n.ReadFile(ctx, filepath.Join(work, "current_cluster_status"))
		out, errs = append(out, string(b)), append(errs, err)
		b, err = n.ReadFile(ctx, filepath.Join(work, "binary"))
		out, errs = append(out, string(b)), append(errs, err)
		_, err = n.ReadFile(ctx, filepath.Join(work, "missing"))
		errs = append(errs, err)
		fi, err := n.Stat(ctx, filepath.Join(work, "binary"))
		out, errs = append(out, fi.Name(), fi.Mode.String()), append(errs, err)
		ents, err := n.ReadDir(ctx, work)
		for _, e := range ents {
			out = append(out, e.Name())
		}
		errs = append(errs, err)
		errs = append(errs, n.WriteFile(ctx, filepath.Join(work, "migration-level"), []byte(`{"major":1,"minor":13}`), 0o644))
		return out, errs
	}
	wantOut, wantErrs := calls(rec)
	var ee *cluster.ExitError
	require.ErrorAs(t, wantErrs[1], &ee, "recording keeps the node's typed error")

	rp, err := cluster.LoadReplay("be1", fixtures)
	require.NoError(t, err)
	gotOut, gotErrs := calls(rp)
	assert.Equal(t, wantOut, gotOut)
	for i := range wantErrs {
		assert.Equal(t, wantErrs[i] == nil, gotErrs[i] == nil, "call %d: %v vs %v", i, wantErrs[i], gotErrs[i])
	}
	require.ErrorAs(t, gotErrs[1], &ee)
	assert.Equal(t, 3, ee.Result.ExitCode)
	assert.Equal(t, "in", string(ee.Result.Stdout))
	assert.ErrorIs(t, gotErrs[4], fs.ErrNotExist)

	// Strict: anything not recorded fails and says what it was.
	_, err = rp.Run(ctx, cluster.Command("echo", "run: nginx").AsRoot())
	var ue *cluster.UnrecordedError
	require.ErrorAs(t, err, &ue)
	assert.Equal(t, "be1: replay: no recorded exchange for run (root) echo 'run: nginx'", err.Error())
	err = rp.WriteFile(ctx, filepath.Join(work, "migration-level"), []byte("other"), 0o644)
	assert.ErrorAs(t, err, &ue, "a write with other contents was not recorded")

	// The fixtures are readable JSON, binary data as base64.
	b, err := os.ReadFile(filepath.Join(fixtures, "00004-read.json"))
	require.NoError(t, err)
	assert.Contains(t, string(b), `"base64": "/wD+"`)
}

func TestReplayRepeatsInOrderThenTheLast(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "fixtures")
	src := t.TempDir()
	status := filepath.Join(src, "current_cluster_status")
	rec, err := cluster.NewRecording(cluster.NewLocal("be1"), dir)
	require.NoError(t, err)
	for _, s := range []string{"backup\n", "master\n"} {
		require.NoError(t, os.WriteFile(status, []byte(s), 0o644))
		_, err := rec.ReadFile(context.Background(), status)
		require.NoError(t, err)
	}
	rp, err := cluster.LoadReplay("be1", dir)
	require.NoError(t, err)
	var got []string
	for range 3 {
		b, err := rp.ReadFile(context.Background(), status)
		require.NoError(t, err)
		got = append(got, strings.TrimSpace(string(b)))
	}
	assert.Equal(t, []string{"backup", "master", "master"}, got)
}

func TestEachCollectsEveryError(t *testing.T) {
	t.Parallel()
	nodes := []cluster.Node{cluster.NewLocal("be1"), cluster.NewLocal("be2"), cluster.NewLocal("fe1"), cluster.NewLocal("fe2")}
	var running, peak atomic.Int32
	rs := cluster.Each(context.Background(), nodes, 2, func(ctx context.Context, n cluster.Node) (string, error) {
		now := running.Add(1)
		defer running.Add(-1)
		for {
			p := peak.Load()
			if now <= p || peak.CompareAndSwap(p, now) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
		if strings.HasPrefix(n.Name(), "be") {
			return "", errors.New(n.Name() + ": keepalived is not running")
		}
		return n.Name() + " ok", nil
	})
	require.Len(t, rs, 4)
	assert.Equal(t, "be1", rs[0].Node)
	assert.Equal(t, "fe2 ok", rs[3].Value)
	assert.LessOrEqual(t, peak.Load(), int32(2), "the concurrency bound holds")
	err := cluster.JoinErrors(rs)
	assert.ErrorContains(t, err, "be1: keepalived is not running")
	assert.ErrorContains(t, err, "be2: keepalived is not running")
	assert.NoError(t, cluster.JoinErrors(rs[2:]))
}

func TestClusterNeedsANodePerServer(t *testing.T) {
	t.Parallel()
	top, err := cluster.ParseTopology(strings.NewReader("topology \"tier\"\nserver \"be1\", :role => \"backend\", :bootstrap => true\nserver \"fe1\", :role => \"frontend\"\n"))
	require.NoError(t, err)
	_, err = cluster.New(top, map[string]cluster.Node{"be1": cluster.NewLocal("be1")})
	assert.ErrorContains(t, err, "no node for server fe1 (private-chef.rb line 3)")
	c, err := cluster.New(top, map[string]cluster.Node{"be1": cluster.NewLocal("be1"), "fe1": cluster.NewLocal("fe1")})
	require.NoError(t, err)
	assert.Len(t, c.All(), 2)
	assert.Equal(t, "fe1", c.Nodes(top.Frontends())[0].Name())
}

func TestRecordingFilesArePrivate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "fixtures", "be1")
	rec, err := cluster.NewRecording(cluster.NewLocal("be1"), dir)
	require.NoError(t, err)
	_, err = rec.Run(ctx, cluster.Command("echo", "node data"))
	require.NoError(t, err)
	for _, d := range []string{dir, filepath.Dir(dir)} {
		st, err := os.Stat(d)
		require.NoError(t, err)
		assert.Equal(t, fs.FileMode(0o700), st.Mode().Perm(), d)
	}
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, ents, 1)
	st, err := ents[0].Info()
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o600), st.Mode().Perm(), ents[0].Name())
}

func TestRecordingRefusesLooseModes(t *testing.T) {
	t.Parallel()
	open := t.TempDir()
	require.NoError(t, os.Chmod(open, 0o755))
	_, err := cluster.NewRecording(cluster.NewLocal("be1"), open)
	var me *cluster.ModeError
	require.ErrorAs(t, err, &me)
	assert.Equal(t, open, me.Path)
	assert.ErrorContains(t, err, "recording directory "+open+" has mode 0755")
	assert.ErrorContains(t, err, "chmod 700 "+open)

	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o700))
	loose := filepath.Join(dir, "00001-run.json")
	require.NoError(t, os.WriteFile(loose, []byte("{}\n"), 0o644))
	require.NoError(t, os.Chmod(loose, 0o644))
	_, err = cluster.NewRecording(cluster.NewLocal("be1"), dir)
	require.ErrorAs(t, err, &me)
	assert.Equal(t, loose, me.Path)
	assert.ErrorContains(t, err, "chmod 600 "+dir+"/*")
}

func TestRecordingRedactsSecrets(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rb, err := filepath.Abs(filepath.Join("testdata", "ha-secrets.rb"))
	require.NoError(t, err)
	secret := []byte("-----BEGIN OPENSSH PRIVATE KEY-----\nFAKEkeybody\n-----END OPENSSH PRIVATE KEY-----\n")
	calls := func(n cluster.Node) [][]byte {
		res, err := n.Run(ctx, cluster.Command("cat", rb))
		require.NoError(t, err)
		b, err := n.ReadFile(ctx, rb)
		require.NoError(t, err)
		script, err := n.Run(ctx, cluster.Cmd{Argv: []string{"sh", "-c", "echo '== private-chef.rb'; cat \"$1\"; echo '== key'; cat", "sh", rb}, Stdin: secret})
		require.NoError(t, err)
		return [][]byte{res.Stdout, b, script.Stdout}
	}
	for _, keep := range []bool{false, true} {
		dir := filepath.Join(t.TempDir(), "rec")
		rec, err := cluster.NewRecordingWith(cluster.NewLocal("be1"), dir, cluster.RecordingOptions{KeepSecrets: keep})
		require.NoError(t, err)
		live := calls(rec)
		for _, out := range live {
			assert.Contains(t, string(out), "FAKE", "the caller gets what the node said")
		}
		var saved bytes.Buffer
		ents, err := os.ReadDir(dir)
		require.NoError(t, err)
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			require.NoError(t, err)
			saved.Write(b)
		}
		if keep {
			assert.Contains(t, saved.String(), "FAKE", "KeepSecrets saves them")
			continue
		}
		assert.NotContains(t, saved.String(), "FAKE", "no secret written to disk")
		assert.Contains(t, saved.String(), "be1.example.com", "the rest is kept")
		// Replay answers the same calls (stdin carrying the key included),
		// with the redacted text.
		rp, err := cluster.LoadReplay("be1", dir)
		require.NoError(t, err)
		for i, out := range calls(rp) {
			assert.Equal(t, string(cluster.RedactSecrets(live[i])), string(out))
		}
	}
}

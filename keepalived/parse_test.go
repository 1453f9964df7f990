package keepalived

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fixture returns a testdata file without its first "# source" line.
func fixture(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	s := string(b)
	if strings.HasPrefix(s, "#") {
		s = s[strings.IndexByte(s, '\n')+1:]
	}
	return s
}

func TestParseStatusFiles(t *testing.T) {
	t.Parallel()
	s, err := ParseStatus(CurrentStatusPath, []byte(fixture(t, "current_cluster_status")))
	require.NoError(t, err)
	assert.Equal(t, Master, s)
	s, err = ParseStatus(RequestedPath, []byte(fixture(t, "requested_cluster_status")))
	require.NoError(t, err)
	assert.Equal(t, Backup, s)
	pid, err := ParseLock(LockPath, []byte(fixture(t, "cluster-transition.lock")))
	require.NoError(t, err)
	assert.Equal(t, 4242, pid)

	for _, bad := range []string{"", "transition\n", "Master\n", "master backup\n", "\x00\x00"} {
		_, err := ParseStatus(CurrentStatusPath, []byte(bad))
		var fe *FormatError
		require.ErrorAs(t, err, &fe, "%q", bad)
		assert.Contains(t, err.Error(), CurrentStatusPath)
	}
	for _, bad := range []string{"", "-1", "pid", "12 13"} {
		_, err := ParseLock(LockPath, []byte(bad))
		assert.Error(t, err, bad)
	}
}

func TestParseClusterLog(t *testing.T) {
	t.Parallel()
	ev, err := ParseClusterLog(strings.NewReader(fixture(t, "cluster.log")))
	require.NoError(t, err)
	require.Len(t, ev, 14)
	zone := time.FixedZone("", -7*3600)
	assert.Equal(t, time.Date(2014, 6, 10, 14, 20, 47, 0, zone).Unix(), ev[0].Time.Unix())
	want := []struct {
		kind    EventKind
		to      Status
		service string
	}{
		{EventTransitioning, Master, ""}, {EventDRBDAttempt, "", ""}, {EventDRBDAttempt, "", ""}, {EventDRBDTakeover, "", ""},
		{EventMount, "", ""}, {EventStart, "", "postgresql"}, {EventStart, "", "opscode-solr"}, {EventCannotStart, "", "opscode-solr"},
		{EventAlreadyRunning, Master, ""}, {EventTransitioned, Master, ""}, {EventTransitioning, Backup, ""},
		{EventStop, "", "opscode-solr"}, {EventCannotKill, "", "opscode-solr"}, {EventTransitioned, Backup, ""},
	}
	for i, w := range want {
		assert.Equal(t, w.kind, ev[i].Kind, "line %d", i+1)
		assert.Equal(t, w.to, ev[i].To, "line %d", i+1)
		assert.Equal(t, w.service, ev[i].Service, "line %d", i+1)
	}
	assert.Equal(t, 2, ev[2].AttemptsLeft)
	last, ok := LastTransition(ev)
	require.True(t, ok)
	assert.Equal(t, "Transitioned to backup", last.Message)

	for _, bad := range []string{
		"Transitioning to master\n",
		"Tue, 10 Jun 2014 14:20:47 -0700: Transitioning to limbo\n",
		"Tue, 99 Jun 2014 14:20:47 -0700: Transitioning to master\n",
		"yesterday: Transitioned to master\n",
	} {
		_, err := ParseClusterLog(strings.NewReader(bad))
		assert.ErrorContains(t, err, "cluster.log line 1", bad)
	}
	ev, err = ParseClusterLog(strings.NewReader("Wed, 25 Nov 2026 12:00:00 +0000: something new\n\n"))
	require.NoError(t, err)
	assert.Equal(t, EventOther, ev[0].Kind, "unknown messages are kept")
}

func TestParseHAStatus(t *testing.T) {
	t.Parallel()
	h, err := ParseHAStatus(strings.NewReader(fixture(t, "ha-status-ok.txt")), 0)
	require.NoError(t, err)
	assert.True(t, h.Passed)
	assert.Len(t, h.Checks, 5)
	assert.Empty(t, h.Problems())

	h, err = ParseHAStatus(strings.NewReader(fixture(t, "ha-status-failover.txt")), 2)
	require.NoError(t, err)
	assert.False(t, h.Passed)
	require.Len(t, h.Problems(), 3)
	assert.Equal(t, LevelWarn, h.Problems()[0].Level)
	assert.Equal(t, "inconsistent cluster status, requested: master, current: backup, failover running?", h.Problems()[0].Text)
	assert.Contains(t, ExitMeaning(h.ExitCode), "failover may be running")

	_, err = ParseHAStatus(strings.NewReader(fixture(t, "ha-status-ok.txt")), 7)
	assert.ErrorContains(t, err, "disagrees with exit code 7")
	_, err = ParseHAStatus(strings.NewReader("[OK] cluster status = master\n"), 0)
	assert.ErrorContains(t, err, "no verdict")
	_, err = ParseHAStatus(strings.NewReader("cluster is fine\n"), 0)
	assert.ErrorContains(t, err, "line 1")
	for code := 0; code <= 8; code++ {
		assert.NotContains(t, ExitMeaning(code), "unknown")
	}
	assert.Contains(t, ExitMeaning(9), "unknown")
}

func FuzzParseClusterLog(f *testing.F) {
	f.Add(fixture(f, "cluster.log"))
	f.Fuzz(func(t *testing.T, s string) {
		ev, err := ParseClusterLog(strings.NewReader(s))
		if err != nil {
			return
		}
		for _, e := range ev {
			if e.IsTransition() && e.To != Master && e.To != Backup && e.To != Fault {
				t.Fatalf("transition to %q accepted", e.To)
			}
		}
	})
}

func FuzzParseHAStatus(f *testing.F) {
	f.Add(fixture(f, "ha-status-ok.txt"), 0)
	f.Add(fixture(f, "ha-status-failover.txt"), 2)
	f.Fuzz(func(t *testing.T, s string, code int) {
		h, err := ParseHAStatus(strings.NewReader(s), code)
		if err == nil && h.Passed != (code == 0) {
			t.Fatalf("verdict %v with exit code %d", h.Passed, code)
		}
	})
}

func FuzzParseStatus(f *testing.F) {
	f.Add([]byte("master\n"))
	f.Add([]byte("transition"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseStatus("x", b)
		if err == nil && s != Master && s != Backup && s != Fault {
			t.Fatalf("accepted %q", s)
		}
	})
}

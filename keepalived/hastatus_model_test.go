package keepalived_test

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/chefha/chefha/keepalived"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// modelFixture reads a recorded fixture: "# source; exit N" then output.
func modelFixture(t *testing.T, name string) ([]byte, int) {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	require.NoError(t, err)
	head, body, _ := bytes.Cut(b, []byte("\n"))
	i := strings.LastIndex(string(head), "exit ")
	code, err := strconv.Atoi(string(head[i+5:]))
	require.NoError(t, err)
	return body, code
}

func TestParseHAStatusModelFixtures(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		file     string
		passed   bool
		aborted  bool
		problems int
		code     int
	}{
		{"ha-status-model-master-ok.txt", true, false, 0, 0},
		{"ha-status-model-backup-ok.txt", true, false, 0, 0},
		{"ha-status-model-frontend.txt", false, true, 1, 1},
		{"ha-status-model-oc11575.txt", false, false, 15, 7},
		{"ha-status-model-drbd-disconnected.txt", false, false, 2, 6},
		{"ha-status-model-nonha-down.txt", false, false, 1, 7},
	} {
		t.Run(tc.file, func(t *testing.T) {
			body, code := modelFixture(t, tc.file)
			require.Equal(t, tc.code, code)
			h, err := keepalived.ParseHAStatus(bytes.NewReader(body), code)
			require.NoError(t, err)
			assert.Equal(t, tc.passed, h.Passed)
			assert.Equal(t, tc.aborted, h.Aborted)
			assert.Len(t, h.Problems(), tc.problems)
		})
	}
}

// A missing cluster status file makes ha.rb raise (File.read) after its
// DRBD device check: exit 1, no verdict, the last line an [OK]. That is
// no healthy node, nor output cut short.
func TestParseHAStatusWithoutAClusterStatusFile(t *testing.T) {
	t.Parallel()
	body, code := modelFixture(t, "ha-status-model-no-status-file.txt")
	require.Equal(t, 1, code)
	_, err := keepalived.ParseHAStatus(bytes.NewReader(body), code)
	assert.ErrorIs(t, err, keepalived.ErrNoClusterStatus)
	_, err = keepalived.ParseHAStatus(bytes.NewReader(body), 0)
	assert.NotErrorIs(t, err, keepalived.ErrNoClusterStatus, "exit 0 without a verdict is output cut short")
}

func TestParseHAStatusEarlyExitNeedsExit1(t *testing.T) {
	t.Parallel()
	body, _ := modelFixture(t, "ha-status-model-frontend.txt")
	_, err := keepalived.ParseHAStatus(bytes.NewReader(body), 0)
	assert.Error(t, err, "no verdict with exit 0 is cut-short output, not an early exit")
	_, err = keepalived.ParseHAStatus(strings.NewReader("[OK] keepalived HA services enabled.\n"), 1)
	assert.Error(t, err, "an early exit ends on an [ERROR]")
}

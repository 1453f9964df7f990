package keepalived_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chefha/chefha/keepalived"
)

// Lines as cluster.sh's log_me writes them (cluster.sh.erb, opscode-omnibus
// 11.1.8).
func clusterLog(t *testing.T, msgs ...string) []keepalived.Event {
	t.Helper()
	var b strings.Builder
	for _, m := range msgs {
		b.WriteString("Mon, 07 Dec 2026 18:00:00 +0000: " + m + "\n")
	}
	evs, err := keepalived.ParseClusterLog(strings.NewReader(b.String()))
	require.NoError(t, err)
	return evs
}

func TestFailedTransition(t *testing.T) {
	gaveUp := []string{"Transitioning to master", "Attempting DRBD primary takeover - attempts left 300", "DRBD primary takeover successful",
		"Starting service postgresql", "Cannot start postgresql"}
	for _, tc := range []struct {
		name   string
		st     keepalived.NodeState
		failed string // the message it gave up with; "" none
	}{
		{"gave up on a service", keepalived.NodeState{Requested: keepalived.Master, Current: keepalived.Backup, Events: clusterLog(t, gaveUp...)}, "Cannot start postgresql"},
		{"gave up on DRBD", keepalived.NodeState{Requested: keepalived.Master, Current: keepalived.Backup,
			Events: clusterLog(t, "Transitioning to master", "Attempting DRBD primary takeover - attempts left 1", "Cannot become drbd primary!")}, "Cannot become drbd primary!"},
		{"gave up going backup", keepalived.NodeState{Requested: keepalived.Backup, Current: keepalived.Master,
			Events: clusterLog(t, "Transitioning to backup", "Stopping service redis_lb", "Cannot kill redis_lb")}, "Cannot kill redis_lb"},
		{"still running", keepalived.NodeState{Requested: keepalived.Master, Current: keepalived.Backup, LockPID: 42, LockAlive: true, Events: clusterLog(t, gaveUp...)}, ""},
		{"a stale lock is no run", keepalived.NodeState{Requested: keepalived.Master, Current: keepalived.Backup, LockPID: 42, Events: clusterLog(t, gaveUp...)}, "Cannot start postgresql"},
		{"a later transition began", keepalived.NodeState{Requested: keepalived.Master, Current: keepalived.Backup,
			Events: clusterLog(t, append(gaveUp, "Transitioning to master")...)}, ""},
		{"reached", keepalived.NodeState{Requested: keepalived.Master, Current: keepalived.Master, Events: clusterLog(t, gaveUp...)}, ""},
		{"no log", keepalived.NodeState{Requested: keepalived.Master, Current: keepalived.Backup}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, ok := tc.st.FailedTransition()
			assert.Equal(t, tc.failed != "", ok)
			assert.Equal(t, tc.failed, e.Message)
		})
	}
}

func TestJudgeNamesAFailedTransitionAndItsRerun(t *testing.T) {
	p := keepalived.Pair{
		Bootstrap: keepalived.NodeState{Name: "be1", Requested: keepalived.Master, Current: keepalived.Backup, HasVIP: true,
			Events: clusterLog(t, "Transitioning to master", "Starting service postgresql", "Cannot start postgresql")},
		Secondary: keepalived.NodeState{Name: "be2", Requested: keepalived.Backup, Current: keepalived.Backup},
	}
	var failed []keepalived.Finding
	for _, f := range keepalived.Judge(p) {
		assert.NotEqual(t, keepalived.ProblemInTransition, f.Problem, "a failed transition is not one under way")
		if f.Problem == keepalived.ProblemTransitionFailed {
			failed = append(failed, f)
		}
	}
	require.Len(t, failed, 1)
	assert.Equal(t, "be1", failed[0].Node)
	assert.Contains(t, failed[0].Detail, "Cannot start postgresql")
	assert.Contains(t, failed[0].Fix, keepalived.ClusterShPath+" master")
}

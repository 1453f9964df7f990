package upgrade

import (
	"errors"
	"testing"

	"github.com/chefha/chefha/keepalived"
	"github.com/stretchr/testify/assert"
)

// Services an orphaned runsv held are started again only on a master that
// stays one: not on one requested to go backup, nor mid-transition.
func TestSettledMaster(t *testing.T) {
	m, b := keepalived.Master, keepalived.Backup
	for _, tt := range []struct {
		name string
		st   keepalived.NodeState
		want bool
	}{
		{"master", keepalived.NodeState{Current: m, Requested: m}, true},
		{"master, a dead lock", keepalived.NodeState{Current: m, Requested: m, LockPID: 7}, true},
		{"master asked to go backup", keepalived.NodeState{Current: m, Requested: b}, false},
		{"master, cluster.sh running", keepalived.NodeState{Current: m, Requested: m, LockPID: 7, LockAlive: true}, false},
		{"backup", keepalived.NodeState{Current: b, Requested: b}, false},
		{"unreadable", keepalived.NodeState{Current: m, Requested: m, Err: errors.New("no")}, false},
	} {
		assert.Equal(t, tt.want, settledMaster(tt.st), tt.name)
	}
}

package upgrade

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chefha/chefha/cluster"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tailNode is a node whose detached command's log holds some lines: it
// answers the read of the log's tail, and records what it was sent.
type tailNode struct {
	cluster.Node // nil: only Run is called
	name         string
	log          string
	mu           sync.Mutex
	sent         []string
}

func (n *tailNode) Name() string { return n.name }

func (n *tailNode) Run(ctx context.Context, c cluster.Cmd) (cluster.Result, error) {
	n.mu.Lock()
	n.sent = append(n.sent, cluster.ShellJoin(c.Argv))
	n.mu.Unlock()
	return cluster.Result{Stdout: []byte(n.log)}, nil
}

// A detached command's heartbeat carries the last line it wrote, read
// from its log on the node as root, and the exact command that reads it.
func TestHeartbeatCarriesTheLastLine(t *testing.T) {
	node := &tailNode{name: "be1", log: "Chef Server Reconfigured!\nMigrations to Run: [1.8, 1.9]\n  Running migration 1.9 \x1b[2J\n\n"}
	top := cluster.Topology{Servers: []cluster.Server{{Name: "be1", Role: cluster.RoleBackend, Bootstrap: true}}}
	cl, err := cluster.New(top, map[string]cluster.Node{"be1": node})
	require.NoError(t, err)
	var mu sync.Mutex
	var beats []Event
	r := NewRunner(cl, WithEvents(func(ev Event) {
		mu.Lock()
		beats = append(beats, ev)
		mu.Unlock()
	}))
	r.o.heartbeat = 5 * time.Millisecond
	a := Action{Kind: ActRun, Node: "be1", Argv: ctl("upgrade"), Critical: true}
	step := Step{ID: "hop1/upgrade-bootstrap"}
	stop := r.heartbeatWhile(context.Background(), step, a, "be1: private-chef-ctl upgrade")
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(beats) > 0 }, 5*time.Second, time.Millisecond)
	stop()
	mu.Lock()
	ev := beats[0]
	mu.Unlock()
	assert.Equal(t, EventProgress, ev.Kind)
	assert.Equal(t, "Running migration 1.9 \x1b[2J", ev.LastOutput, "the last non-empty line, as read (the printer escapes it)")
	assert.True(t, strings.HasSuffix(ev.Message, "; last output: Running migration 1.9 \x1b[2J"), ev.Message)
	node.mu.Lock()
	defer node.mu.Unlock()
	assert.Equal(t, "tail -c 2048 "+DetachDir+"/"+detachID(step.ID, "be1", a.Argv)+".log", node.sent[0])
	assert.True(t, slices.Contains(detached(step.ID, "be1", a.Argv), detachID(step.ID, "be1", a.Argv)), "the log the command writes")
}

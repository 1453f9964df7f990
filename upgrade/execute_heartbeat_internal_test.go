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
	stop := r.heartbeatWhile(context.Background(), step, a, "be1: private-chef-ctl upgrade", nil)
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

func TestOutputTail(t *testing.T) {
	long := strings.Repeat("é", lastLineMax) // two bytes each
	for _, tt := range []struct {
		name   string
		writes []string
		want   string
	}{
		{"nothing yet", nil, ""},
		{"a line being written", []string{"Recipe: private-chef::"}, "Recipe: private-chef::"},
		{"the last ended line", []string{"one\ntwo\n", "thr"}, "two"},
		{"blank lines skipped", []string{"Chef Client finished\n\n  \n"}, "Chef Client finished"},
		{"a line across writes", []string{"Running migr", "ation 1.9\n"}, "Running migration 1.9"},
		{"a progress bar's carriage return", []string{"10%\r20%\r"}, "20%"},
		{"cut, valid UTF-8", []string{long + "\n"}, strings.Repeat("é", lastLineMax/2) + "…"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var o outputTail
			for _, w := range tt.writes {
				o.Write([]byte(w))
			}
			assert.Equal(t, tt.want, o.String())
		})
	}
	var none *outputTail
	assert.Empty(t, none.String(), "no output kept: no line")
}

// A command that is not detached: its beat carries the last line its
// output stream brought so far.
func TestHeartbeatOfAStreamedCommand(t *testing.T) {
	r := NewRunner(nil)
	var mu sync.Mutex
	var beats []Event
	r.o.onEvent = func(ev Event) { mu.Lock(); beats = append(beats, ev); mu.Unlock() }
	r.o.heartbeat = 5 * time.Millisecond
	var out outputTail
	out.Write([]byte("Recipe: private-chef::keepalived\n  * template[/var/opt/opscode/keepalived/etc/keepalived.conf] action create"))
	stop := r.heartbeatWhile(context.Background(), Step{ID: "hop1/reconfigure-all"}, Action{Kind: ActRun, Node: "be1", Argv: ctl("reconfigure")}, "be1: private-chef-ctl reconfigure", &out)
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(beats) > 0 }, 5*time.Second, time.Millisecond)
	stop()
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, "Recipe: private-chef::keepalived", beats[0].LastOutput)
}

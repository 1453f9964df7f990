package upgrade_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/clustertest"
	"github.com/chefha/chefha/upgrade"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stopPoint says where to stop a run: at the end of step Step (boundary),
// or when step Step is about to run its Action-th action (mid-step).
type stopPoint struct {
	step   int
	action int // 0: after the step finished
}

func (sp stopPoint) String() string {
	if sp.action == 0 {
		return fmt.Sprintf("after-step-%02d", sp.step)
	}
	return fmt.Sprintf("step-%02d-action-%d", sp.step, sp.action)
}

// reached reports whether ev is the stop point, counting the plan's steps.
func (sp stopPoint) reached(p upgrade.Plan, ev upgrade.Event, actions map[string]int) bool {
	id := p.Steps[sp.step].ID
	if ev.Step != id {
		return false
	}
	if sp.action == 0 {
		return ev.Kind == upgrade.EventStepDone
	}
	if ev.Kind == upgrade.EventAction {
		actions[id]++
		return actions[id] == sp.action+1 // the (action+1)-th is about to run: action ones ran
	}
	return false
}

// stopPoints are every step boundary and, for steps of two actions or
// more, the middle.
func stopPoints(p upgrade.Plan) []stopPoint {
	var out []stopPoint
	for i, s := range p.Steps {
		if len(s.Actions) >= 2 {
			out = append(out, stopPoint{step: i, action: len(s.Actions) / 2})
		}
		if i < len(p.Steps)-1 {
			out = append(out, stopPoint{step: i})
		}
	}
	return out
}

// assertExactlyOnce checks that across the runs every step finished once
// and every node was installed and upgraded once.
func assertExactlyOnce(t *testing.T, e *upgradeEnv, p upgrade.Plan, events []upgrade.Event) {
	t.Helper()
	finished := map[string]int{}
	for _, ev := range events {
		if ev.Kind == upgrade.EventStepDone || (ev.Kind == upgrade.EventStepSkip && ev.Node == "" && strings.Contains(ev.Message, "is done")) {
			finished[ev.Step]++
		}
	}
	for _, s := range p.Steps {
		assert.Equal(t, 1, finished[s.ID], "step %s finished %d times", s.ID, finished[s.ID])
	}
	for _, n := range e.sim.Nodes {
		n.Lock(func(n *clustertest.Node) {
			log := strings.Join(n.Log(), "\n")
			assert.Equal(t, 1, strings.Count(log, "dpkg -i"), "%s installed once:\n%s", n.Name, log)
			assert.Equal(t, 1, strings.Count(log, "private-chef-ctl upgrade"), "%s upgraded once:\n%s", n.Name, log)
		})
	}
}

func TestResumeAfterCancel(t *testing.T) {
	probe := newUpgradeEnv(t, "1.4.6", 1)
	points := stopPoints(probe.plan(t, "11.1.8"))
	for _, sp := range points {
		t.Run(sp.String(), func(t *testing.T) {
			t.Parallel()
			e := newUpgradeEnv(t, "1.4.6", 1)
			p := e.plan(t, "11.1.8")
			var events []upgrade.Event
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			counts := map[string]int{}
			r := e.runner(p, nil)
			r.OnEvent = func(ev upgrade.Event) {
				events = append(events, ev)
				if sp.reached(p, ev, counts) {
					cancel()
				}
			}
			require.ErrorIs(t, r.Run(ctx), context.Canceled)
			require.NoError(t, e.runner(p, &events).Run(context.Background()), "resumed")
			assertExactlyOnce(t, e, p, events)
			e.assertUpgraded(t, "11.1.8", "1.13")
		})
	}
}

// The child half of TestResumeAfterKill: run the plan against the cluster
// the parent started, print events, and block at the stop point until killed.
func TestMain(m *testing.M) {
	if os.Getenv("CHEFHA_RUNNER_CHILD") == "" {
		os.Exit(m.Run())
	}
	os.Exit(runnerChild())
}

func runnerChild() int {
	dir := os.Getenv("CHEFHA_RUNNER_CHILD")
	var p upgrade.Plan
	b, err := os.ReadFile(filepath.Join(dir, "plan.json"))
	if err == nil {
		err = json.Unmarshal(b, &p)
	}
	if err != nil {
		fmt.Println("child:", err)
		return 3
	}
	stepI, _ := strconv.Atoi(os.Getenv("CHEFHA_STOP_STEP"))
	actI, _ := strconv.Atoi(os.Getenv("CHEFHA_STOP_ACTION"))
	sp := stopPoint{step: stepI, action: actI}
	rb, _ := os.ReadFile(filepath.Join(dir, "private-chef.rb"))
	top, err := cluster.ParseTopology(strings.NewReader(string(rb)))
	if err != nil {
		fmt.Println("child:", err)
		return 3
	}
	ctx := context.Background()
	cl, err := cluster.Dial(ctx, top, func(s cluster.Server) (cluster.SSHConfig, error) {
		return cluster.LoadSSHConfig(filepath.Join(dir, "config"), s.Name)
	})
	if err != nil {
		fmt.Println("child:", err)
		return 3
	}
	counts := map[string]int{}
	enc := json.NewEncoder(os.Stdout)
	r := &upgrade.Runner{Cluster: cl, Plan: p, StateFile: filepath.Join(dir, "state.json"),
		Hold: 150 * time.Millisecond, Poll: 25 * time.Millisecond, GateTimeout: 20 * time.Second,
		OnEvent: func(ev upgrade.Event) {
			enc.Encode(ev)
			if sp.reached(p, ev, counts) {
				fmt.Println("KILLME")
				select {} // the parent kills this process here
			}
		}}
	if err := r.Run(ctx); err != nil {
		fmt.Println("child:", err)
		return 1
	}
	return 0
}

func TestResumeAfterKill(t *testing.T) {
	self, err := os.Executable()
	require.NoError(t, err)
	probe := newUpgradeEnv(t, "1.4.6", 1)
	points := stopPoints(probe.plan(t, "11.1.8"))
	for _, sp := range points {
		t.Run(sp.String(), func(t *testing.T) {
			t.Parallel()
			sim, err := clustertest.New(clustertest.Options{Version: "1.4.6", Frontends: 1, TransitionTime: 50 * time.Millisecond})
			require.NoError(t, err)
			defer sim.Close()
			dir := t.TempDir()
			conf, err := sim.WriteSSHConfig(dir)
			require.NoError(t, err)
			require.Equal(t, filepath.Join(dir, "config"), conf)
			cl, err := sim.Dial(context.Background())
			require.NoError(t, err)
			defer cl.Close()
			e := &upgradeEnv{sim: sim, cl: cl, dir: dir, packages: probe.packages}
			p := e.plan(t, "11.1.8")
			b, _ := json.Marshal(p)
			require.NoError(t, os.WriteFile(filepath.Join(dir, "plan.json"), b, 0o644))
			rb, err := sim.Bootstrap().ReadFile(cluster.TopologyPath)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(dir, "private-chef.rb"), []byte(rb), 0o644))

			cmd := exec.Command(self, "-test.run=^$")
			cmd.Env = append(os.Environ(), "CHEFHA_RUNNER_CHILD="+dir,
				"CHEFHA_STOP_STEP="+strconv.Itoa(sp.step), "CHEFHA_STOP_ACTION="+strconv.Itoa(sp.action))
			out, err := cmd.StdoutPipe()
			require.NoError(t, err)
			require.NoError(t, cmd.Start())
			var events []upgrade.Event
			sc := bufio.NewScanner(out)
			killed := false
			for sc.Scan() {
				line := sc.Text()
				if line == "KILLME" {
					require.NoError(t, cmd.Process.Kill())
					killed = true
					break
				}
				var ev upgrade.Event
				if json.Unmarshal([]byte(line), &ev) == nil {
					events = append(events, ev)
				} else {
					t.Log("child: ", line)
				}
			}
			cmd.Wait()
			require.True(t, killed, "the child reached %s", sp)

			r := &upgrade.Runner{Cluster: cl, Plan: p, StateFile: filepath.Join(dir, "state.json"),
				Hold: 150 * time.Millisecond, Poll: 25 * time.Millisecond, GateTimeout: 20 * time.Second,
				OnEvent: func(ev upgrade.Event) { events = append(events, ev) }}
			require.NoError(t, r.Run(context.Background()), "resumed after kill -9")
			assertExactlyOnce(t, e, p, events)
			e.assertUpgraded(t, "11.1.8", "1.13")
		})
	}
}

package ecmodel

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Settle is the wait a Transition asks for once its services have been
// started or stopped: the host decides how long that takes (the
// simulation's TransitionTime; nothing on a real host, where the sv calls
// took the time).
const Settle time.Duration = -1

// holdPoll is how often a held transition looks whether HoldPath is gone.
const holdPoll = 100 * time.Millisecond

// Transition is one run of keepalived's notify script cluster.sh
// (templates/default/cluster.sh.erb, the same from 11.0.2 to 11.2.0; 1.x
// differs in how it lists services). It is a resumable state machine so
// that a host can interleave it with other events on its clock; RunClusterSh
// runs it straight through.
type Transition struct {
	n     *Node
	io    IO
	To    string
	PID   int
	phase int // 0: transition body, 1: after it (loop check)
	tries int
	begun bool
}

// BeginClusterSh is the start of `cluster.sh STATE`: it records the request
// and takes the lock. When another run holds the lock it logs the request
// and exits 1 (the running loop will pick the request up), returning nil.
func BeginClusterSh(h Host, to string, io IO) (*Transition, int) {
	n, err := Load(h)
	if err != nil {
		fmt.Fprintln(io.Stderr, err)
		return nil, 1
	}
	h.WriteFile(RequestedPath, []byte(to+"\n"), 0o644)
	if b, err := h.ReadFile(LockPath); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && h.ProcessAlive(pid) {
			n.log("Requested transition to " + to)
			n.errorExit(io, "Requested transition to "+to+", but state transition already running.", false)
			return nil, 1
		}
	}
	t := &Transition{n: n, io: io, To: to, PID: h.PID()}
	h.WriteFile(LockPath, []byte(strconv.Itoa(t.PID)+"\n"), 0o644)
	return t, 0
}

// errorExit is cluster.sh's error_exit; with unlock, the EXIT trap removes
// the lock this run holds.
func (n *Node) errorExit(io IO, msg string, unlock bool) {
	n.log(msg)
	fmt.Fprintln(io.Stdout, msg)
	fmt.Fprintln(io.Stderr, "cluster.sh: "+msg)
	if unlock {
		n.H.Remove(LockPath)
	}
}

// Step runs the transition until it must wait. It returns the wait (Settle
// for the host's own time), or done with cluster.sh's exit status.
func (t *Transition) Step(ctx context.Context) (wait time.Duration, done bool, code int) {
	n := t.n
	for {
		if t.phase == 1 {
			n.log("Transitioned to " + t.To)
			last := n.Status(RequestedPath)
			if last != t.To {
				t.To, t.phase, t.begun = last, 0, false
				continue
			}
			n.H.Remove(LockPath) // unlock, then record the state
			n.H.WriteFile(CurrentPath, []byte(t.To+"\n"), 0o644)
			return 0, true, 0
		}
		if !t.begun {
			if _, err := n.H.Stat(HoldPath); err == nil {
				return holdPoll, false, 0
			}
			n.log("Transitioning to " + t.To)
			t.begun, t.tries = true, 300 // 10 * SVWAIT
		}
		switch t.To {
		case "master":
			if t.tries >= 0 {
				n.log(fmt.Sprintf("Attempting DRBD primary takeover - attempts left %d", t.tries))
				if _, st := n.H.DRBDAdm(ctx, "primary", DRBDResource); st != 0 {
					if t.tries--; t.tries == 0 {
						n.errorExit(t.io, "Cannot become drbd primary!", true)
						return 0, true, 1
					}
					if n.Status(RequestedPath) != "master" {
						n.log("Requested state transition to backup, aborting trying to aquire DRBD primary")
						t.phase = 1
						return Settle, false, 0
					}
					return time.Second, false, 0
				}
				t.tries = -1
				n.log("DRBD primary takeover successful")
				n.log("Mounting " + DRBDDevice + " at " + DRBDDataDir)
				n.H.Mount(DRBDDevice, DRBDDataDir) // || true
			}
			for _, s := range n.clusterServices() {
				n.log("Starting service " + s)
				if n.ctlService(ctx, s, "start") != 0 {
					n.errorExit(t.io, "Cannot start "+s, true)
					return 0, true, 1
				}
				if n.Configured.posthook(s) != "" {
					// The hook (wait-for-rabbit) waits for rabbitmq's pid file
					// and `rabbitmqctl wait`, which the model's rabbitmq is
					// at once; its echoes go to stdout, not cluster.log.
					n.log("Doing post-start hook for " + s)
				}
			}
		case "backup":
			if t.tries == 300 {
				svcs := n.clusterServices()
				slices.Reverse(svcs)
				for _, s := range svcs {
					n.log("Stopping service " + s)
					if n.ctlService(ctx, s, "graceful-kill") != 0 {
						n.errorExit(t.io, "Cannot kill "+s, true)
						return 0, true, 1
					}
				}
			}
			n.log(fmt.Sprintf("Attempting to become DRBD secondary - attempts left %d", t.tries))
			n.H.Umount(DRBDDataDir) // umount -f … || true
			if _, st := n.H.DRBDAdm(ctx, "secondary", DRBDResource); st != 0 {
				if t.tries--; t.tries == 0 {
					n.errorExit(t.io, "Cannot become DRBD secondary", true)
					return 0, true, 1
				}
				return time.Second, false, 0
			}
		}
		t.phase = 1
		return Settle, false, 0
	}
}

// clusterServices are the services cluster.sh starts, in order: 11.x
// globs keepalive_me; 1.x walks service_order's HA entries.
func (n *Node) clusterServices() []string {
	if strings.HasPrefix(n.Configured.Version, "11.") {
		return n.haServices()
	}
	return n.Configured.HA()
}

// ctlService runs /opt/opscode/bin/private-chef-ctl as cluster.sh does
// (SVWAIT=30 exported; 1.2.8's script takes SERVICE COMMAND).
func (n *Node) ctlService(ctx context.Context, service, verb string) int {
	args := []string{verb, service}
	if n.Installed.ServiceFirst() {
		args = []string{service, verb}
	}
	return n.Ctl(ctx, args, IO{Stdout: io.Discard, Stderr: io.Discard, Env: map[string]string{"SVWAIT": "30"}})
}

// RunClusterSh runs `cluster.sh STATE` to the end, sleeping on the host's
// clock between DRBD attempts (master-recover, backup-recover).
func RunClusterSh(ctx context.Context, h Host, to string, io IO) int {
	t, code := BeginClusterSh(h, to, io)
	if t == nil {
		return code
	}
	for {
		wait, done, code := t.Step(ctx)
		if done {
			return code
		}
		if wait > 0 {
			if err := h.Sleep(ctx, wait); err != nil {
				return 130
			}
		}
	}
}

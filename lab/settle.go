package lab

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/chefha/chefha/internal/ecmodel"
	"github.com/chefha/chefha/keepalived"
	"github.com/chefha/chefha/lab/internal/svdir"
)

// waitSettled waits until a back end's keepalived holds want and its
// notify script has finished with it. A status file that says want is not
// enough: a fresh install's reconfigure restarts keepalived (the
// template's delayed :restart), and every start and stop runs cluster.sh
// once more, so a current_cluster_status written by the first run may be
// rewritten by a transition that starts a moment later. Settled is: the
// keepalived that runs now has entered want, no cluster.sh runs on the
// node, the transition lock is gone and current = requested = want, twice
// in a row.
func (l *Lab) waitSettled(ctx context.Context, n *Node, want keepalived.Status) error {
	start, quiet := time.Now(), 0
	for {
		why := n.unsettled(want)
		if why == "" {
			if quiet++; quiet == 2 {
				return nil
			}
		} else {
			quiet = 0
		}
		if ctx.Err() != nil {
			log, _ := os.ReadFile(n.Root(keepalived.ClusterLogPath))
			return fmt.Errorf("lab: %s's keepalived did not settle as %s in %s (%s): %w; its cluster.log:\n%s", n.Name, want,
				time.Since(start).Round(time.Millisecond), why, ctx.Err(), log)
		}
		// A look walks the node's /proc: five a second, over the
		// seconds a lab's elections take, is plenty.
		sleep(ctx, 200*time.Millisecond)
	}
}

// unsettled says why a back end is not settled as want, or "".
func (n *Node) unsettled(want keepalived.Status) string {
	if s := keepalivedState(n); s != want {
		return fmt.Sprintf("keepalived's state since its start: %q", s)
	}
	if why := n.notifyRunning(); why != "" {
		return why
	}
	if _, err := os.Stat(n.Root(keepalived.LockPath)); err == nil {
		return "the transition lock is held"
	}
	for _, f := range []string{keepalived.RequestedPath, keepalived.CurrentStatusPath} {
		b, _ := os.ReadFile(n.Root(f))
		if got := strings.TrimSpace(string(b)); got != string(want) {
			return fmt.Sprintf("%s is %q", filepath.Base(f), got)
		}
	}
	return ""
}

// enteredState is keepalived's log line for a state it enters (keepalived
// 2.x: "(PC_VI) Entering BACKUP STATE (init)", "… Entering MASTER STATE").
var enteredState = regexp.MustCompile(`Entering ([A-Z]+) STATE`)

// keepalivedState is the last state the running keepalived logged it
// entered (the part of its log after its last start), lower case,
// "stopping" once it logged that it stops, or "".
func keepalivedState(n *Node) keepalived.Status {
	b, _ := os.ReadFile(n.Root(filepath.Join(ecmodel.LogDir, "keepalived", "current")))
	if i := bytes.LastIndex(b, []byte("Starting Keepalived")); i >= 0 {
		b = b[i:]
	} else {
		return ""
	}
	if bytes.Contains(b, []byte(": Stopping\n")) {
		// sv restart can return before the keepalived it stops has
		// exited (its notify_stop runs cluster.sh first): the start
		// that follows brings a transition of its own.
		return "stopping"
	}
	m := enteredState.FindAllSubmatch(b, -1)
	if len(m) == 0 {
		return ""
	}
	return keepalived.Status(strings.ToLower(string(m[len(m)-1][1])))
}

// notifyRunning says which process of the node runs or is about to run
// cluster.sh, or "": the script itself, the program it hands the
// transition to (the lab's node program in the cluster.sh role, which its
// command line does not name: its environment does), or a keepalived
// beyond the running one's two (its main and VRRP processes): a notify
// script forked and not yet started, or one the stopped keepalived's
// notify_stop forked. Missing the last two let a lab be "up" while a
// transition was about to take the lock (a keepalived restart runs two).
// It reads the node's own /proc (through its PID 1's root), which lists
// only the node's processes: a walk of the machine's /proc, at every
// look of every settling lab, cost more CPU than the labs' keepalived and
// runit together.
func (n *Node) notifyRunning() string {
	pid1, err := n.pid1()
	if err != nil {
		return err.Error()
	}
	proc := fmt.Sprintf("/proc/%d/root/proc", pid1)
	ents, err := os.ReadDir(proc)
	if err != nil {
		return fmt.Sprintf("cannot list the node's processes: %v", err)
	}
	role := []byte(svdir.RoleEnv + "=cluster.sh")
	var keepaliveds []string
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		dir := filepath.Join(proc, e.Name())
		comm, _ := os.ReadFile(filepath.Join(dir, "comm"))
		switch string(bytes.TrimSpace(comm)) {
		case "keepalived":
			keepaliveds = append(keepaliveds, e.Name())
			continue
		case "runsv", "runsvdir", "svlogd", "sleep", "sshd":
			// Most of a node's processes: programs that neither are
			// cluster.sh nor start it (a fork about to exec it bears its
			// parent's name), whose command line and environment need
			// no reading.
			continue
		}
		cmd, _ := os.ReadFile(filepath.Join(dir, "cmdline"))
		env, _ := os.ReadFile(filepath.Join(dir, "environ"))
		if bytes.Contains(cmd, []byte(keepalived.ClusterShPath)) || bytes.Contains(cmd, []byte(ecmodel.ClusterShProgram)) ||
			slices.ContainsFunc(bytes.Split(env, []byte{0}), func(v []byte) bool { return bytes.Equal(v, role) }) {
			return fmt.Sprintf("cluster.sh runs (pid %s on the node)", e.Name())
		}
	}
	if len(keepaliveds) > 2 {
		return fmt.Sprintf("keepalived is starting a notify script (keepalived pids %s on the node)", strings.Join(keepaliveds, ", "))
	}
	return ""
}

// Package labnode is what runs inside a lab node besides the real
// programs (sshd, runsvdir, runsv, sv, svlogd, keepalived): the node's
// PID 1, and the Enterprise Chef software as internal/ecmodel models it,
// on the node's real files and real runit and keepalived — private-chef-ctl
// (every command), keepalived's notify script cluster.sh, initctl (the
// packaging's Upstart runsvdir jobs), dpkg and rpm, drbdadm (the pair's
// simulated DRBD) and the package's sv. Host is the ecmodel.Host they run
// on; from outside a node it is also what the lab plants knobs through.
//
// It has no binary of its own: package lab makes any program that imports
// it a lab node program when started with svdir.RoleEnv naming a role, and
// places that program in every node.
package labnode

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/chefha/chefha/internal/ecmodel"
	"github.com/chefha/chefha/lab/internal/svdir"
)

// Main runs the node program in role name with args (what follows the
// program's name on its command line) and returns its exit status.
func Main(name string, args []string) int {
	if name == "init" {
		return initNode(args)
	}
	host, _ := os.Hostname()
	h := Inside(host)
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer cancel()
	io := ecmodel.IO{Stdout: os.Stdout, Stderr: os.Stderr, Env: environ()}
	switch name {
	case "private-chef-ctl":
		return ecmodel.Ctl(ctx, h, args, io)
	case "cluster.sh":
		// Debian's keepalived (2.x) runs its scripts with a parent-death
		// signal of SIGTERM; Enterprise Chef's 1.2.9 forked them plainly,
		// and the cluster.sh backup that notify_stop starts ran to its end
		// after keepalived had gone (keepalived.conf.5 of 2.2.7: "All
		// processes/scripts run by keepalived are run with parent death
		// signal set to SIGTERM").
		syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_PDEATHSIG, 0, 0)
		if len(args) != 1 {
			fmt.Fprintln(os.Stderr, "usage: cluster.sh master|backup|fault")
			return 2
		}
		// keepalived 2.x also TERMs, then KILLs, every script it started
		// that still runs when it stops (acassen/keepalived#2372): the
		// notify_stop's cluster.sh backup died half-way, DRBD left Primary.
		// As 1.2.9 fired and forgot, a script keepalived started runs on
		// in a session of its own, under its own name.
		if os.Getenv(detachedEnv) == "" && parentIs("keepalived") {
			return detach(args)
		}
		return ecmodel.RunClusterSh(ctx, h, args[0], io)
	case "initctl":
		return initctl(h, args)
	case "dpkg", "rpm":
		return ecmodel.Install(h, append([]string{name}, args...), io)
	case "drbdadm":
		out, code := h.DRBDAdm(ctx, args...)
		if code == 0 {
			fmt.Print(out)
		} else {
			fmt.Fprint(os.Stderr, out)
		}
		return code
	case "sv":
		if len(args) == 0 {
			return 100
		}
		return embeddedSv(args[0], args[1:])
	case "idle":
		<-ctx.Done()
		return 0
	case "hold-lock":
		return holdLock(ctx, args)
	case "spawn":
		return spawn(args)
	case "hostop":
		return hostop(ctx, h, args)
	case ProbeRole:
		fmt.Println(ProbeAnswer)
		return 0
	}
	fmt.Fprintf(os.Stderr, "chefha-labnode: unknown role %q\n", name)
	return 2
}

// ProbeRole is the role in which a node program only answers ProbeAnswer:
// the lab asks it of a program before placing it in the nodes, since a
// binary that does not import package lab would run its own main in every
// role instead.
const (
	ProbeRole   = "probe"
	ProbeAnswer = "chefha-labnode"
)

// environ is what the caller exported, for the model's IO.Env (SVWAIT).
func environ() map[string]string {
	env := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	return env
}

// holdLock holds an exclusive flock of args[0] until it is killed.
func holdLock(ctx context.Context, args []string) int {
	if len(args) != 1 {
		return 2
	}
	f, err := os.OpenFile(args[0], os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	<-ctx.Done()
	return 0
}

// spawn starts the node program in role args[0], detached in a session of
// its own, and returns. An idle process's command line is args[1] alone
// (what ps shows); a lock holder's is its role and file.
func spawn(args []string) int {
	if len(args) < 2 {
		return 2
	}
	cmd := exec.Command(svdir.Program, args[1:]...)
	if args[0] == "idle" {
		cmd.Args = []string{args[1]}
	} else {
		cmd.Args = append([]string{"chefha-" + args[0]}, args[1:]...)
	}
	cmd.Env = append([]string{"PATH=" + NodePath}, svdir.Env(args[0])...)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cmd.Process.Release()
	return 0
}

// hostop is the part of a Host's work that must run in the node's
// namespaces, asked for by an Outside host.
func hostop(ctx context.Context, h *Host, args []string) int {
	done := func(out string, code int) int {
		fmt.Print(out)
		return code
	}
	fail := func(err error) int {
		if err != nil {
			fmt.Println(err)
			return 1
		}
		return 0
	}
	switch {
	case len(args) == 5 && args[0] == "sv":
		wait, _ := time.ParseDuration(args[3])
		lsb, _ := strconv.ParseBool(args[4])
		return done(h.Sv(ctx, args[1], args[2], wait, lsb))
	case len(args) == 2 && args[0] == "start-job":
		return fail(h.StartJob(ctx, args[1]))
	case len(args) == 2 && args[0] == "stop-job":
		return fail(h.StopJob(ctx, args[1]))
	case len(args) == 2 && args[0] == "pkill-runsv":
		sig, _ := strconv.Atoi(args[1])
		return fail(h.SignalOrphanRunsv(ctx, syscall.Signal(sig)))
	case len(args) == 3 && args[0] == "mount":
		return fail(h.Mount(args[1], args[2]))
	case len(args) == 2 && args[0] == "umount":
		return fail(h.Umount(args[1]))
	case len(args) == 2 && args[0] == "logfs":
		full, _ := strconv.ParseBool(args[1])
		return done(h.logFS(full))
	case len(args) == 2 && args[0] == "cluster-addr":
		return done(h.clusterAddr(args[1]))
	case len(args) == 1 && args[0] == "respawn-runsvdir":
		return fail(h.RespawnRunsvdir())
	case len(args) == 2 && args[0] == "pgrp":
		pid, _ := strconv.Atoi(args[1])
		if pgrp, ok := h.ProcessGroup(pid); ok {
			return done(strconv.Itoa(pgrp)+"\n", 0)
		}
		return 1
	case len(args) == 2 && args[0] == "killpg":
		pgrp, _ := strconv.Atoi(args[1])
		for _, p := range h.KillGroup(pgrp) {
			fmt.Println(p)
		}
		return 0
	case len(args) >= 2 && args[0] == "spawn":
		return spawn(args[1:])
	}
	fmt.Printf("hostop: unknown operation %q\n", args)
	return 2
}

// detachedEnv marks a cluster.sh already detached from keepalived.
const detachedEnv = "CHEFHA_CLUSTERSH_DETACHED"

// parentIs reports whether this process's parent runs the named program.
func parentIs(name string) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", os.Getppid()))
	return err == nil && strings.TrimSpace(string(b)) == name
}

// detach starts this program again as cluster.sh in a new session, with
// the same arguments and environment, and returns at once.
func detach(args []string) int {
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "cluster.sh:", err)
		return 1
	}
	cmd := exec.Command(self, args...)
	cmd.Args[0] = ecmodel.ClusterShProgram // ps shows what runs
	cmd.Env = append(append(os.Environ(), svdir.Env("cluster.sh")...), detachedEnv+"=1")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "cluster.sh:", err)
		return 1
	}
	cmd.Process.Release()
	return 0
}

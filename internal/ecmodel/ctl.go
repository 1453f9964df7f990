package ecmodel

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ctlSays is what the release's private-chef-ctl prints where the
// packaging table names it: a reconfigure's last line ("opscode
// Reconfigured!" from omnibus-ctl, 1.2.8's "Chef Server Reconfigured!"),
// and its answer to a command it does not know.
func (r Release) ctlSays() (reconfigured, unknown string) {
	reconfigured, unknown = "opscode Reconfigured!", "I don't know that command."
	if p, ok := r.packaging(); ok {
		reconfigured, unknown = p.Ctl.Reconfigured.Value, p.Ctl.UnknownCommand.Value
	}
	return reconfigured, unknown
}

// ctlCommand is how the installed omnibus-ctl knows cmd: whether it does,
// whether it takes a service (arity 2), as its command_map says
// (lib/omnibus-ctl.rb, the version the release pins: packaging table),
// and whether a method answers it (noMethod: "int" at 0.0.6–0.0.8, whose
// sv verb is "interrupt").
func (r Release) ctlCommand(cmd string) (known, takesService, noMethod bool) {
	p, ok := r.packaging()
	if !ok {
		return false, false, false
	}
	for _, c := range p.Ctl.Commands {
		if c.Name == cmd {
			return true, c.Arity == 2, c.NoMethod
		}
	}
	return false, false, false
}

// svCommands are 1.2.8's SV_COMMAND_NAMES (bin/private-chef-ctl:26-28
// @1.2.8.3, in the packaging table): the sv verbs `private-chef-ctl
// [SERVICE] VERB` passes through, "1" and "2" (USR1, USR2) included.
func (r Release) svCommands() []string {
	if p, ok := r.packaging(); ok {
		return p.Ctl.SvCommands.Value
	}
	return nil
}

// Ctl is `/opt/opscode/bin/private-chef-ctl ARGS…` as the installed
// package's wrapper and omnibus-ctl run it, and returns its exit status.
func Ctl(ctx context.Context, h Host, args []string, io IO) int {
	n, err := Load(h)
	if err != nil {
		fmt.Fprintln(io.Stderr, err)
		return 1
	}
	return n.Ctl(ctx, args, io)
}

// Ctl runs private-chef-ctl on a loaded node.
func (n *Node) Ctl(ctx context.Context, args []string, io IO) int {
	rel := n.Installed
	wait := 7 * time.Second // sv's default
	if s, err := strconv.Atoi(io.Env["SVWAIT"]); err == nil {
		wait = time.Duration(s) * time.Second
	}
	if rel.WrapperSVWAIT() > 0 {
		wait = time.Duration(rel.WrapperSVWAIT()) * time.Second // the wrapper's export wins
	}
	c := &ctl{n: n, io: io, wait: wait}
	if len(args) == 0 {
		return c.help()
	}
	if rel.ServiceFirst() {
		return c.run128(ctx, args)
	}
	cmd, service := args[0], ""
	if len(args) > 1 {
		service = args[1]
	}
	// up, down, pause, cont, … are sv verbs omnibus-ctl does not know: it
	// says so and exits 1 (lib/omnibus-ctl.rb 0.0.6–0.0.8).
	known, arity2, noMethod := rel.ctlCommand(cmd)
	if !known {
		_, unknown := rel.ctlSays()
		fmt.Fprintln(io.Stdout, unknown)
		if len(args) == 2 {
			fmt.Fprintf(io.Stdout, "Did you mean: %s %s %s?\n", CtlPath, args[1], args[0])
		}
		return c.help()
	}
	if len(args) > 1 && !arity2 {
		fmt.Fprintf(io.Stdout, "The command %s does not accept any arguments\n", cmd)
		return 2
	}
	if noMethod {
		// run sends the command's name to itself (lib/omnibus-ctl.rb
		// @0.0.6:357-358): no method, an uncaught NoMethodError, exit 1.
		fmt.Fprintf(io.Stderr, "omnibus-ctl.rb: in `run': undefined method `%s' for #<Omnibus::Ctl> (NoMethodError)\n", strings.ReplaceAll(cmd, "-", "_"))
		return 1
	}
	switch cmd {
	case "graceful-kill":
		return c.gracefulKill(ctx, service)
	case "reconfigure":
		return n.Reconfigure(ctx, io)
	case "upgrade":
		return n.Upgrade(ctx, io)
	case "cleanup":
		return n.Cleanup(ctx, io)
	case "ha-status":
		return n.HAStatus(ctx, io)
	case "master-recover", "backup-recover":
		to := strings.TrimSuffix(cmd, "-recover")
		return RunClusterSh(ctx, n.H, to, io)
	case "tail":
		return c.tail(ctx, service)
	case "service-list":
		for _, s := range n.svNames() {
			mark := ""
			if n.linked(s) {
				mark = "*"
			}
			fmt.Fprintln(io.Stdout, s+mark)
		}
		return 0
	case "help":
		return c.help()
	case "status", "start", "stop", "restart", "once", "hup", "term", "kill":
		return c.runSv(ctx, cmd, service)
	}
	fmt.Fprintf(io.Stderr, "clustertest: not emulated: private-chef-ctl %s\n", cmd)
	return 127
}

type ctl struct {
	n    *Node
	io   IO
	wait time.Duration
}

func (c *ctl) help() int {
	fmt.Fprintf(c.io.Stdout, "%s: command (subcommand)\n", CtlPath)
	return 1
}

// runSv is omnibus-ctl's run_sv_command: every sv/* service (or the one
// named) through /opt/opscode/init/NAME; the exit status is the first
// non-zero one; a service directory without a link prints "NAME disabled"
// for status and is skipped otherwise.
func (c *ctl) runSv(ctx context.Context, verb, service string) int {
	status := 0
	for _, s := range c.n.svNames() {
		if service != "" && s != service {
			continue
		}
		if c.n.Installed.StopAllSkipsKeepalived() && s == "keepalived" && service != "keepalived" && verb != "status" {
			continue
		}
		if !c.n.linked(s) {
			if verb == "status" {
				fmt.Fprintf(c.io.Stdout, "%s disabled\n", s)
			}
			continue
		}
		out, code := c.n.H.Sv(ctx, verb, s, c.wait, true)
		fmt.Fprint(c.io.Stdout, out)
		if status == 0 && code != 0 {
			status = code
		}
	}
	return status
}

// gracefulKill is omnibus-ctl's graceful_kill (0.0.6–0.1.1
// lib/omnibus-ctl.rb, and 1.2.8.3's bin/private-chef-ctl): for a service
// whose pid and process group it finds, the stop's exit status is ignored
// and what is left in the group is SIGKILLed, so the service is down and
// the command exits 0 however slowly it stopped; only without a pid or a
// group does the stop's status count. A disabled service is exit 1.
func (c *ctl) gracefulKill(ctx context.Context, service string) int {
	status := 0
	stop := func(s string) int {
		out, code := c.n.H.Sv(ctx, "stop", s, c.wait, true)
		fmt.Fprint(c.io.Stdout, out)
		return code
	}
	for _, s := range c.n.svNames() {
		if service != "" && s != service {
			continue
		}
		if !c.n.linked(s) {
			fmt.Fprintf(c.io.Stdout, "%s disabled, not stopping\n", s)
			status = 1
			continue
		}
		b, _ := c.n.H.ReadFile(path.Join(SvDir, s, "supervise/pid"))
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			fmt.Fprintf(c.io.Stdout, "could not find %s runit pidfile (service already stopped?), cannot attempt SIGKILL...\n", s)
			if code := stop(s); status == 0 && code != 0 {
				status = code
			}
			continue
		}
		pgrp, ok := c.n.H.ProcessGroup(pid)
		if !ok {
			fmt.Fprintf(c.io.Stdout, "could not find pgrp of pid %d (not running?), cannot attempt SIGKILL...\n", pid)
			if code := stop(s); status == 0 && code != 0 {
				status = code
			}
			continue
		}
		stop(s)
		if pids := c.n.H.KillGroup(pgrp); len(pids) > 0 {
			words := make([]string, len(pids))
			for i, p := range pids {
				words[i] = strconv.Itoa(p)
			}
			fmt.Fprintf(c.io.Stdout, "found stuck pids still running in process group: %s, sending SIGKILL\n", strings.Join(words, " "))
		}
	}
	return status
}

// tail prints the services' current logs; the real one follows them until
// interrupted, so this waits for ctx.
func (c *ctl) tail(ctx context.Context, service string) int {
	dir := LogDir
	if service != "" {
		dir = path.Join(LogDir, service)
	}
	ents, err := c.n.H.ReadDir(dir)
	if err != nil {
		fmt.Fprintf(c.io.Stderr, "find: `%s': No such file or directory\n", dir)
	}
	for _, e := range ents {
		if b, err := c.n.H.ReadFile(path.Join(dir, e.Name(), "current")); err == nil {
			fmt.Fprintf(c.io.Stdout, "==> %s <==\n%s", path.Join(dir, e.Name(), "current"), b)
		}
	}
	<-ctx.Done()
	return 130
}

// run128 is 1.2.8's own private-chef-ctl: `private-chef-ctl SERVICE
// COMMAND` for one service, COMMAND alone for all, and `start` on an HA
// node only starts keepalived (and exits before nrpe, since
// run_sv_command exits).
func (c *ctl) run128(ctx context.Context, args []string) int {
	svCommands := c.n.Installed.svCommands()
	if len(args) > 1 {
		// bin/private-chef-ctl:534-541 @1.2.8.3: ARGV[1] first.
		switch {
		case slices.Contains(svCommands, args[1]):
			return c.runSv(ctx, args[1], args[0])
		case args[1] == "tail":
			return c.tail(ctx, args[0])
		case args[1] == "graceful-kill":
			return c.gracefulKill(ctx, args[0])
		}
	}
	switch args[0] {
	case "upgrade":
		return c.n.Upgrade(ctx, c.io)
	case "reconfigure":
		return c.n.Reconfigure(ctx, c.io)
	case "ha-status":
		return c.n.HAStatus(ctx, c.io)
	case "graceful-kill":
		return c.gracefulKill(ctx, "")
	case "master-recover", "backup-recover":
		return RunClusterSh(ctx, c.n.H, strings.TrimSuffix(args[0], "-recover"), c.io)
	case "start":
		if c.n.keepalivedEnabled() {
			return c.runSv(ctx, "start", "keepalived")
		}
	}
	if slices.Contains(svCommands, args[0]) {
		if len(args) > 1 {
			fmt.Fprintf(c.io.Stdout, "i don't know that command, did you mean: private-chef-ctl %s %s?\n", args[1], args[0])
			return 1
		}
		return c.runSv(ctx, args[0], "")
	}
	return c.help()
}

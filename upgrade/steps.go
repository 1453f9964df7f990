package upgrade

import (
	"fmt"
	"strings"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/internal/packaging"
	"github.com/chefha/chefha/issue"
	"github.com/chefha/chefha/migration"
	"github.com/chefha/chefha/runit"
)

// stepRun is a step at its turn: its hop, and the cluster's facts now.
type stepRun struct {
	step Step
	c    *hopCtx
	in   Input
	// backupOK is the backup check's answer, read with the facts;
	// backupMine says the journal records this run making it, and
	// backupPending that it was about to when the run stopped.
	backupOK, backupMine, backupPending bool
}

func (r *stepRun) node(name string) (*nodeView, bool) {
	n, ok := r.in.Facts.Node(name)
	if !ok || n.Err != "" {
		return nil, false
	}
	return r.in.view(n), true
}

// svwait is the longer sv wait chefha gives every private-chef-ctl call:
// sv's 7 s default fails on services that take longer to stop (OC-11657).
const svwait = "SVWAIT=30"

func ctl(args ...string) []string {
	return append([]string{"env", svwait, "private-chef-ctl"}, args...)
}

// converge is reconfigure or upgrade, under umask 022 where the EC 11
// cookbooks let the caller's umask into files the services must read
// (OC-11656).
func (c *hopCtx) converge(verb string) []string {
	if c.has(issue.OC11656) {
		return append([]string{"sh", "-c", `umask 022; exec "$@"`, "chefha"}, ctl(verb)...)
	}
	return ctl(verb)
}

// ctlOn is private-chef-ctl VERB SERVICE for a node's installed release:
// Private Chef 1.2's private-chef-ctl takes the service first
// ("private-chef-ctl keepalived stop"; opscode-omnibus 1.2.8.3,
// files/private-chef-cookbooks/bin/private-chef-ctl), and omnibus-ctl
// from 1.4 on the command first.
func (r *stepRun) ctlOn(node, verb, service string) []string {
	if n, ok := r.node(node); ok {
		if v, err := n.Version(); err == nil && strings.HasPrefix(v, "1.2.") {
			return ctl(service, verb)
		}
	}
	return ctl(verb, service)
}

func run(node string, argv ...string) Action { return Action{Kind: ActRun, Node: node, Argv: argv} }

// may is acts, which a run takes at the step's turn only when holds; cond
// says when. A dry run reads today's facts, not those of each step's turn
// (a standby's upgrade starts services the start at the end must stop),
// so it lists them whatever holds now, each with its condition and
// whether it holds now: every action a run can take is in its dry run.
func (r *stepRun) may(holds bool, cond string, acts ...Action) []Action {
	if !r.c.o.dryRun {
		if holds {
			return acts
		}
		return nil
	}
	for i := range acts {
		acts[i].If, acts[i].IfNow = cond, holds
	}
	return acts
}

func gate(master string, services ...string) Action {
	return Action{Kind: ActGate, Node: master, Gate: &GateSpec{Master: master, Services: services, DRBD: true}}
}

// inSync is the check before anything that can make keepalived transition
// (stopping or restarting it, a reconfigure or upgrade of a back end): the
// pair's DRBD connected and UpToDate, so a failover cannot land on stale
// data.
func inSync(master string) Action {
	return Action{Kind: ActGate, Node: master, Gate: &GateSpec{Master: master, DRBD: true, NoHold: true}}
}

// hasService reports whether a node runs (or has) a service, by its status.
func (r *stepRun) hasService(node, service string) bool {
	n, ok := r.node(node)
	if !ok {
		return false
	}
	svcs, _ := n.Services()
	for _, s := range svcs {
		if s.Service == service {
			return true
		}
	}
	return false
}

// restartRedis restarts redis_lb before a reconfigure of the data master:
// the EC 11 cookbook reconfigures it without restarting it (OC-11601).
func (r *stepRun) restartRedis(node string) []Action {
	// Only the data master's reconfigure restarts redis_lb and writes its
	// keys, so only it can fail (recipes/redis_lb.rb @11.1.0–11.1.8, `if
	// is_data_master?`); and a restart starts a stopped service: on the
	// passive back end it would start an HA service without its DRBD data.
	// The runner keeps the bootstrap the data master.
	if r.c.has(issue.OC11601) && node == r.c.boot && r.hasService(node, "redis_lb") {
		return []Action{run(node, r.ctlOn(node, "restart", "redis_lb")...)}
	}
	return nil
}

// --- backup

// runBackup makes the backup before the first hop; before a later hop it
// only checks that the backup is still there: the restore point is the
// cluster as it was before the upgrade.
func runBackup(r *stepRun) ([]Action, error) {
	switch {
	case !r.c.o.backup.made():
		return nil, nil
	case r.c.index > 1:
		return []Action{{Kind: ActBackupCheck, Node: r.c.boot}}, nil
	case r.backupOK && !r.backupMine && !r.backupPending:
		return nil, r.c.o.backup.foreign(r.c.boot)
	}
	return []Action{{Kind: ActBackup, Node: r.c.boot}}, nil
}

// backupKept is what a recorded backup step is checked against: a waiver
// stands, a backup must still be there.
func backupKept(r *stepRun) (bool, string) {
	if !r.c.o.backup.made() {
		return true, ""
	}
	return backupDone(r)
}

func backupDone(r *stepRun) (bool, string) {
	if !r.c.o.backup.made() {
		return false, "waived: nothing to see" // the step records the waiver
	}
	switch {
	case !r.backupMine:
		return false, "the journal records no backup made by this run"
	case r.backupOK:
		return true, ""
	}
	return false, "the backup check does not find the backup on " + r.c.boot
}

// --- recover runit (the runbook's Example)

func runRecoverRunit(r *stepRun) ([]Action, error) {
	var acts []Action
	in := r.in
	bad := map[string][]Finding{}
	for _, check := range []func(Input) []Finding{checkRunitProcesses, checkServiceLinks, checkLogDir} {
		for _, f := range check(in) {
			if f.Node != "" && f.Severity != OK && defOf(StepRecoverRunit).remedies(f, r.c.o) {
				bad[f.Node] = append(bad[f.Node], f)
			}
		}
	}
	if len(bad[r.c.boot]) > 0 || len(bad[r.c.sec]) > 0 {
		acts = append(acts, inSync(r.c.boot))
	}
	// The secondary's keepalived goes first if the bootstrap needs
	// recovery: stopping the bootstrap's runsvdir stops its keepalived too,
	// and a running peer would take over.
	if len(bad[r.c.boot]) > 0 {
		sec, ok := r.node(r.c.sec)
		acts = append(acts, r.may(ok && sec.keepalivedRunning(), "keepalived runs on "+r.c.sec,
			run(r.c.sec, r.ctlOn(r.c.sec, "stop", "keepalived")...), gate(r.c.boot))...)
	}
	for _, node := range r.c.all {
		fs := bad[node]
		if len(fs) == 0 {
			continue
		}
		n, _ := r.node(node)
		acts = append(acts, recoverNode(r.c, n, fs)...)
		if node == r.c.boot {
			acts = append(acts, gate(r.c.boot))
		}
	}
	return acts, nil
}

// recoverNode is the runbook's recovery on one node: stop the services
// (keepalived too, with its runsvdir), stop both Upstart jobs, remove the
// links to removed or missing services, fix the log dir, start the job of
// the installed release, check.
func recoverNode(c *hopCtx, n *nodeView, fs []Finding) []Action {
	node := n.Node
	acts := []Action{run(node, ctl("stop")...)}
	// Every job a release ever wrote: 11.2.0's private_chef-runsvdir
	// outlives the release that started it.
	for _, job := range packaging.RunsvdirJobs() {
		acts = append(acts, Action{Kind: ActRun, Node: node, Argv: []string{"initctl", "stop", job}, IgnoreExit: true})
	}
	acts = append(acts, Action{Kind: ActRunitGone, Node: node})
	for _, f := range fs {
		if f.Symptom == string(runit.SymptomStaleServiceLink) && len(f.Evidence) > 0 {
			link := strings.TrimPrefix(f.Evidence[0], string(runit.SymptomStaleServiceLink)+": ")
			acts = append(acts, run(node, "rm", "-f", link))
		}
	}
	// The installed release's job, as its packaging writes it.
	job := "opscode-runsvdir"
	if rel, ok := n.packaging(); ok && len(rel.JobNames()) > 0 {
		job = rel.JobNames()[0]
	}
	if n.isEC11() {
		acts = append(acts, run(node, "chown", "-R", "opscode:opscode", runit.DefaultLogDir))
		if rel, ok := n.packaging(); ok && !rel.LogRoot.Managed.Value {
			acts = append(acts, run(node, "chown", "root:root", runit.DefaultLogDir)) // as the release leaves it
		}
	}
	acts = append(acts, run(node, "chmod", "755", runit.DefaultLogDir), run(node, "initctl", "start", job),
		Action{Kind: ActCheckRunit, Node: node})
	return acts
}

func runitRecovered(r *stepRun) (bool, string) {
	for _, check := range []func(Input) []Finding{checkRunitProcesses, checkServiceLinks} {
		for _, f := range check(r.in) {
			if f.Severity != OK && defOf(StepRecoverRunit).remedies(f, r.c.o) {
				return false, f.Node + ": " + strings.Join(f.Evidence, "; ")
			}
		}
	}
	return true, ""
}

// --- pre-flight

func runReconfigureAll(r *stepRun) ([]Action, error) {
	acts := []Action{inSync(r.c.boot)}
	for _, node := range r.c.all {
		if n, ok := r.node(node); ok && r.c.has(issue.OC11490) && n.Role == cluster.RoleBackend && n.isEC11() {
			// keepalived's svlogd runs as opscode on EC 11 and restarts
			// with this reconfigure: it must be able to write its log.
			acts = append(acts, run(node, "chown", "-R", "opscode:opscode", "/var/log/opscode/keepalived"))
		}
		acts = append(acts, r.restartRedis(node)...)
		acts = append(acts, run(node, r.c.converge("reconfigure")...))
	}
	return acts, nil
}

func runStopFrontends(r *stepRun) ([]Action, error) {
	var acts []Action
	for _, node := range r.c.fes {
		// A front end has no keepalived: a stop of everything is the runbook's.
		n, ok := r.node(node)
		acts = append(acts, r.may(!ok || len(n.upServices()) > 0, "a service runs on "+node, run(node, ctl("stop")...))...)
	}
	return acts, nil
}

func frontendsStopped(r *stepRun) (bool, string) {
	for _, node := range r.c.fes {
		n, ok := r.node(node)
		if !ok {
			return false, node + " could not be read"
		}
		if up := n.upServices(); len(up) > 0 {
			return false, fmt.Sprintf("%s runs %s", node, abbreviateList(up, 4))
		}
	}
	return true, ""
}

func runStopStandbyKeepalived(r *stepRun) ([]Action, error) {
	// Named, never a bare stop: on a master that stops keepalived with
	// everything else and fails the cluster over.
	n, ok := r.node(r.c.sec)
	acts := r.may(!ok || n.keepalivedRunning(), "keepalived runs on "+r.c.sec,
		inSync(r.c.boot), run(r.c.sec, r.ctlOn(r.c.sec, "stop", "keepalived")...))
	// The bootstrap's services too: the next step asks for them, and a gate
	// that showed them spares it a second hold.
	return append(acts, gate(r.c.boot, r.c.boot)), nil
}

func standbyKeepalivedDown(r *stepRun) (bool, string) {
	n, ok := r.node(r.c.sec)
	if !ok {
		return false, r.c.sec + " could not be read"
	}
	if n.keepalivedRunning() {
		return false, "keepalived runs on " + r.c.sec
	}
	return true, ""
}

func standbyKeepalivedStopped(r *stepRun) (bool, string) {
	n, ok := r.node(r.c.sec)
	if !ok {
		return false, r.c.sec + " could not be read"
	}
	if n.keepalivedRunning() {
		return false, "keepalived runs on " + r.c.sec
	}
	p, ok := pair(r.in)
	if m, one := p.Master(); !ok || !one || m.Name != r.c.boot || p.Bootstrap.InTransition() {
		return false, "the bootstrap is not a settled master"
	}
	return true, ""
}

func runRepairLevels(r *stepRun) ([]Action, error) {
	var acts []Action
	want := r.c.hop.LevelBefore
	for _, node := range r.c.all {
		n, ok := r.node(node)
		if !ok {
			return nil, fmt.Errorf("%s could not be read", node)
		}
		l, err := n.Level()
		acts = append(acts, r.may(err != nil || l.Less(want), node+"'s migration level is unreadable or below "+want.String(),
			Action{Kind: ActWrite, Node: node, Path: migration.Path, Content: string(migration.Format(want)),
				Why: string(issue.OC11297) + ": keep the old file beside it"})...)
	}
	return acts, nil
}

// levelsAtLeast reports whether every node holds a readable level of at
// least want (later steps only raise it).
func (r *stepRun) levelsAtLeast(nodes []string, want migration.Level) (bool, string) {
	for _, node := range nodes {
		n, ok := r.node(node)
		if !ok {
			return false, node + " could not be read"
		}
		l, err := n.Level()
		if err != nil {
			return false, node + ": " + err.Error()
		}
		if l.Less(want) {
			return false, fmt.Sprintf("%s holds level %s, want %s", node, l, want)
		}
	}
	return true, ""
}

func levelsBefore(r *stepRun) (bool, string) { return r.levelsAtLeast(r.c.all, r.c.hop.LevelBefore) }

func runCheckRunit(r *stepRun) ([]Action, error) {
	var acts []Action
	for _, node := range r.c.all {
		acts = append(acts, Action{Kind: ActCheckRunit, Node: node})
	}
	return acts, nil
}

func runBootstrapHealthy(r *stepRun) ([]Action, error) {
	var acts []Action
	if n, ok := r.node(r.c.sec); ok {
		// By name, keepalived aside: before 11.2.0 the standby has no down
		// files, and a bare stop would also stop keepalived.
		for _, s := range n.haUp() {
			acts = append(acts, run(r.c.sec, r.ctlOn(r.c.sec, "stop", s)...))
		}
	}
	return append(acts, gate(r.c.boot, r.c.boot)), nil
}

package upgrade

import (
	"fmt"
	"slices"
	"strings"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/issue"
	"github.com/chefha/chefha/keepalived"
	"github.com/chefha/chefha/runit"
)

func checkFrontendsStopped(in Input) []Finding {
	var fs []Finding
	for _, n := range readable(in, cluster.RoleFrontend) {
		if up := n.upServices(); len(up) > 0 {
			fs = append(fs, Finding{Check: "frontends-stopped", Severity: Warn, Node: n.Node, Symptom: "running",
				Evidence: []string{fmt.Sprintf("%d services running: %s", len(up), abbreviateList(up, 5))},
				Fix:      "private-chef-ctl stop on every front end (the runner does this first)"})
		}
	}
	return result("frontends-stopped", fs, "front ends stopped")
}

func checkStandbyKeepalived(in Input) []Finding {
	n, ok := backendView(in, false)
	if !ok {
		return nil
	}
	if n.keepalivedRunning() {
		return []Finding{{Check: "standby-keepalived-stopped", Severity: Warn, Node: n.Node, Symptom: "running", Evidence: []string{"keepalived is running"},
			Fix: "private-chef-ctl stop keepalived on " + n.Node + " so the bootstrap stays the active machine (the runner does this; it may trigger a failover)"}}
	}
	return okFinding("standby-keepalived-stopped", "keepalived stopped on "+n.Node)
}

// pair is the keepalived state of the back ends, from their facts.
func pair(in Input) (keepalived.Pair, bool) {
	t := in.Facts.Topology
	boot, ok1 := t.Bootstrap()
	sec, ok2 := t.Secondary()
	if !ok1 || !ok2 {
		return keepalived.Pair{}, false
	}
	vip := vipOf(t)
	bf, _ := in.Facts.Node(boot.Name)
	sf, _ := in.Facts.Node(sec.Name)
	return keepalived.Pair{Bootstrap: in.view(bf).KeepalivedState(vip), Secondary: in.view(sf).KeepalivedState(vip)}, true
}

func keepalivedFindings(name string, kf []keepalived.Finding) []Finding {
	var fs []Finding
	for _, f := range kf {
		fs = append(fs, Finding{Check: name, Severity: Fail, Node: f.Node, Symptom: string(f.Problem), Evidence: []string{string(f.Problem) + ": " + f.Detail}, Fix: f.Fix})
	}
	return fs
}

func checkPair(in Input) []Finding {
	p, ok := pair(in)
	if !ok {
		return nil
	}
	var kf []keepalived.Finding
	noVIP := vipOf(in.Facts.Topology) == "" // a host list names no VIP: master and backup are judged alone
	for _, f := range keepalived.Judge(p) {
		// A node that could not be read at all is reachable's to report; one
		// read without its cluster status files is this check's: ha-status
		// stops there too (keepalived.ErrNoClusterStatus).
		if nf, _ := in.Facts.Node(f.Node); f.Problem == keepalived.ProblemUnreadable && nf.Err != "" {
			continue
		}
		if noVIP && (f.Problem == keepalived.ProblemVIPNotOnMaster || f.Problem == keepalived.ProblemVIPOnBackup) {
			continue
		}
		kf = append(kf, f)
	}
	m, _ := p.Master()
	return result("keepalived-pair", keepalivedFindings("keepalived-pair", kf), "master: "+m.Name)
}

func checkBootstrapMaster(in Input) []Finding {
	p, ok := pair(in)
	if !ok || p.Bootstrap.Err != nil {
		return nil
	}
	return result("bootstrap-master", keepalivedFindings("bootstrap-master", keepalived.JudgeBootstrapMaster(p)), p.Bootstrap.Name+" is master")
}

// expectedDown reports whether a service may be down on a running node:
// keepalived (judged by its own checks), the services the runbook expects
// down during 1.4 → 11 (removed by cleanup, and opscode-chef-mover), and a
// service the node lists as disabled.
func expectedDown(s runit.ServiceStatus) bool {
	return s.Service == "keepalived" || slices.Contains(runit.ExpectedDownDuringUpgrade(), s.Service) || s.State == "disabled"
}

// downServices lists the services of n that should run and do not.
func downServices(n *nodeView) ([]string, error) {
	svcs, err := n.Services()
	if err != nil {
		return nil, err
	}
	var down []string
	for _, s := range svcs {
		if !expectedDown(s) && s.State != runit.StateRun {
			down = append(down, s.Service)
		}
	}
	return down, nil
}

func checkBootstrapHealthy(in Input) []Finding {
	n, ok := backendView(in, true)
	if !ok {
		return nil
	}
	down, err := downServices(n)
	if err != nil {
		return []Finding{{Check: "bootstrap-healthy", Severity: Fail, Node: n.Node, Symptom: "unreadable", Evidence: []string{err.Error()}}}
	}
	if len(down) > 0 {
		return []Finding{{Check: "bootstrap-healthy", Severity: Fail, Node: n.Node, Symptom: "services-down",
			Evidence: []string{fmt.Sprintf("%d services not running: %s", len(down), abbreviateList(down, 6))},
			Fix:      "private-chef-ctl start on " + n.Node + " and check each service's log under /var/log/opscode; the bootstrap must be healthy before the upgrade"}}
	}
	svcs, _ := n.Services()
	return okFinding("bootstrap-healthy", fmt.Sprintf("%d services running on %s", len(svcs), n.Node))
}

func checkStandbyStopped(in Input) []Finding {
	n, ok := backendView(in, false)
	if !ok {
		return nil
	}
	if up := n.haUp(); len(up) > 0 {
		return []Finding{{Check: "standby-services-stopped", Severity: Fail, Node: n.Node, Issue: issue.OC11575, Symptom: "running",
			Evidence: []string{fmt.Sprintf("%d HA services running on the standby: %s", len(up), abbreviateList(up, 5))},
			Fix:      "stop them on " + n.Node + " (private-chef-ctl stop SERVICE for each; services started at boot on the passive back end)"}}
	}
	return okFinding("standby-services-stopped", "standby services stopped")
}

// checkServicesUp is the post-flight's view of services: on the bootstrap
// and every front end each service of the node's version runs; the
// standby's are the standby-services-stopped check's.
func checkServicesUp(in Input) []Finding {
	sec, _ := in.Facts.Topology.Secondary()
	var fs []Finding
	n := 0
	for _, v := range readable(in) {
		if v.Node == sec.Name {
			continue
		}
		down, err := downServices(v)
		if err != nil {
			fs = append(fs, Finding{Check: "services-up", Severity: Fail, Node: v.Node, Symptom: "unreadable", Evidence: []string{err.Error()}})
			continue
		}
		n++
		for _, s := range down {
			fs = append(fs, Finding{Check: "services-up", Severity: Fail, Node: v.Node, Symptom: "down", Evidence: []string{s + " is not running"},
				Fix: "private-chef-ctl start " + s + " on " + v.Node + ", and read " + runit.DefaultLogDir + "/" + s + "/current"})
		}
	}
	return result("services-up", fs, fmt.Sprintf("every service runs on the bootstrap and %d front ends", max(n-1, 0)))
}

func checkKeepalivedRunning(in Input) []Finding {
	var fs []Finding
	for _, bootstrap := range []bool{true, false} {
		n, ok := backendView(in, bootstrap)
		if ok && !n.keepalivedRunning() {
			fs = append(fs, Finding{Check: "keepalived-running", Severity: Fail, Node: n.Node, Symptom: "stopped", Evidence: []string{"keepalived is not running"},
				Fix: "private-chef-ctl start keepalived on " + n.Node + ": without it the pair cannot fail over"})
		}
	}
	return result("keepalived-running", fs, "keepalived runs on both back ends")
}

// vipOf is the backend VIP without its prefix length.
func vipOf(t cluster.Topology) string {
	if t.BackendVIP == nil {
		return ""
	}
	v, _, _ := strings.Cut(t.BackendVIP.IPAddress, "/")
	return v
}

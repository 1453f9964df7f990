package upgrade

import (
	"fmt"
	"slices"
	"strings"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/internal/packaging"
	"github.com/chefha/chefha/issue"
	"github.com/chefha/chefha/runit"
)

func runitFindings(name string, sev Severity, n *nodeView, rf []runit.Finding) []Finding {
	var fs []Finding
	for _, f := range rf {
		ev := append([]string{string(f.Symptom) + ": " + f.Subject}, f.Evidence...)
		fs = append(fs, Finding{Check: name, Severity: sev, Node: n.Node, Symptom: string(f.Symptom), Evidence: ev, Fix: f.Fix})
	}
	return fs
}

func checkRunitProcesses(in Input) []Finding {
	var fs []Finding
	for _, n := range readable(in) {
		ps, err := n.Processes()
		if err != nil {
			fs = append(fs, Finding{Check: "runit-processes", Severity: Fail, Node: n.Node, Symptom: "unreadable", Evidence: []string{err.Error()}})
			continue
		}
		if len(runit.FindRunsvdirs(ps)) == 0 {
			fs = append(fs, Finding{Check: "runit-processes", Severity: Fail, Node: n.Node, Symptom: "no-runsvdir", Evidence: []string{"no runsvdir process"},
				Fix: "start the supervision tree: initctl start private-chef-runsvdir (opscode-runsvdir before EC 11)"})
		}
		rf, removed := withoutRemovedServiceLocks(n, runit.DiagnoseProcesses(ps))
		if len(removed) > 0 {
			fs = append(fs, Finding{Check: "runit-processes", Severity: Warn, Node: n.Node, Symptom: "removed-service-lock",
				Evidence: append([]string{"runsv cannot lock services EC 11 removed (the old runsvdir job's runsv may still hold them)"}, removed...),
				Fix:      "private-chef-ctl cleanup, once the upgraded cluster is verified, removes these services and their links"})
		}
		fs = append(fs, runitFindings("runit-processes", Fail, n, rf)...)
	}
	return result("runit-processes", fs, "runsvdir healthy everywhere")
}

// removedServiceLock reports whether msg, from n's runsvdir log, is a runsv
// that cannot lock the supervise/lock of a service EC 11 removed, on an
// EC 11 node. Such a service's link stays until private-chef-ctl cleanup,
// so after the 11.x reconfigure swaps runsvdir jobs the new runsvdir keeps
// starting a runsv for it while the old job's one may still hold the
// lock; nothing the upgraded cluster runs is harmed.
func removedServiceLock(n *nodeView, msg string) bool {
	s, ok := runit.LockContention(msg)
	return ok && slices.Contains(runit.RemovedInEC11(), s) && n.isEC11()
}

// runsvdirErrors are rd's current errors that harm what n runs.
func runsvdirErrors(n *nodeView, rd runit.Runsvdir) []string {
	var out []string
	for _, m := range rd.Current() {
		if !removedServiceLock(n, m) {
			out = append(out, m)
		}
	}
	return out
}

// gateRunsvdirErrors splits runsvdirErrors for a gate, which waits: a
// runsv that met another holding its service's supervise/lock (after the
// 11.x reconfigure stopped the old runsvdir job, whose runsv go on
// stopping their services for a while) has exited, and runsvdir starts
// another at its next scan, which takes the lock once the old one is
// gone. Those services are relocking, something to wait for; the other
// messages are faults.
func gateRunsvdirErrors(n *nodeView, rd runit.Runsvdir) (faults, relocking []string) {
	for _, m := range runsvdirErrors(n, rd) {
		if svc, ok := runit.LockContention(m); ok {
			relocking = append(relocking, svc)
		} else {
			faults = append(faults, m)
		}
	}
	return faults, relocking
}

// withoutRemovedServiceLocks takes the removedServiceLock messages out of
// n's runsvdir-errors findings; a finding left with no message goes.
func withoutRemovedServiceLocks(n *nodeView, rf []runit.Finding) (kept []runit.Finding, removed []string) {
	for _, f := range rf {
		if f.Symptom != runit.SymptomRunsvdirErrors {
			kept = append(kept, f)
			continue
		}
		var ev []string
		for _, m := range f.Evidence {
			if removedServiceLock(n, m) {
				removed = append(removed, m)
			} else {
				ev = append(ev, m)
			}
		}
		if len(ev) > 0 {
			f.Evidence = ev
			kept = append(kept, f)
		}
	}
	return kept, removed
}

func checkServiceLinks(in Input) []Finding {
	var fs []Finding
	for _, n := range readable(in) {
		links, err := n.Links()
		if err != nil {
			fs = append(fs, Finding{Check: "service-links", Severity: Warn, Node: n.Node, Symptom: "unreadable", Evidence: []string{err.Error()}})
			continue
		}
		fs = append(fs, runitFindings("service-links", Warn, n, runit.DiagnoseServiceLinks(runit.DefaultServiceDir, links, n.isEC11()))...)
	}
	return result("service-links", fs, "no stale service links")
}

func checkLogDir(in Input) []Finding {
	var fs []Finding
	for _, n := range readable(in) {
		dir, ok := n.Stat(runit.DefaultLogDir)
		if !ok {
			fs = append(fs, Finding{Check: "log-dir", Severity: Fail, Node: n.Node, Symptom: "missing", Evidence: []string{runit.DefaultLogDir + " is missing"},
				Fix: "mkdir -m 755 " + runit.DefaultLogDir + " and reconfigure"})
			continue
		}
		ld := runit.LogDir{Dir: dir, Files: n.Stats()}
		rel, known := n.packaging()
		if svcs, err := n.Services(); err == nil {
			for _, s := range svcs {
				if s.Service != "keepalived" && s.Up() {
					l := runit.ServiceLog{Service: s.Service}
					if known {
						l.Dir, _ = rel.LogDir(s.Service)
					}
					ld.Logs = append(ld.Logs, l)
				}
			}
		}
		for _, sec := range []string{"df", "dfi"} {
			if out, ok := n.ok(sec); ok {
				if u, err := runit.ParseDF(strings.NewReader(out)); err == nil {
					ld.Usage = append(ld.Usage, u...)
				}
			}
		}
		for _, f := range runitFindings("log-dir", Fail, n, runit.DiagnoseLogDir(ld, logRootOwner(rel, known))) {
			switch runit.Symptom(f.Symptom) {
			case runit.SymptomLogDirOwner:
				f.Issue = issue.OC11426
			case runit.SymptomLogDirOpen:
				f.Severity = Warn // the services work; it is a hardening matter
			}
			fs = append(fs, f)
		}
	}
	return result("log-dir", fs, "log directories healthy")
}

// logRootOwner is the owner a release's recipes give /var/log/opscode:
// opscode from 11.1.3 (recipes/default.rb's directory resource), nobody
// before (root's, as whatever first made it left it): "" says do not
// judge it.
func logRootOwner(rel packaging.Release, known bool) string {
	if !known || !rel.LogRoot.Managed.Value {
		return ""
	}
	return rel.LogRoot.Owner.Value
}

func checkKeepalivedLogDir(in Input) []Finding {
	// Before EC 11 the directory is root's by design; the runner chowns it
	// before the EC 11 reconfigure. On EC 11 a root-owned one is the bug:
	// keepalived's svlogd runs as opscode and cannot write it.
	var fs []Finding
	for _, n := range readable(in, cluster.RoleBackend) {
		st, ok := n.Stat("/var/log/opscode/keepalived")
		if !ok || st.Owner == "opscode" || !n.isEC11() {
			continue
		}
		fs = append(fs, Finding{Check: "keepalived-log-dir", Severity: Fail, Node: n.Node, Issue: issue.OC11490, Symptom: "owner",
			Evidence: []string{"/var/log/opscode/keepalived is owned by " + st.Owners()},
			Fix:      "chown -R opscode:opscode /var/log/opscode/keepalived, or keepalived cannot run on EC 11 (the runner does this before reconfiguring)"})
	}
	return result("keepalived-log-dir", fs, "keepalived can write its log")
}

// checkNonSSLPort reads each node's private-chef.rb as gathered: the file
// on disk is what reconfigure will use.
func checkNonSSLPort(in Input) []Finding {
	// Silent where it bites: the reconfigure succeeds and writes a broken
	// URL, so the pre-flight is the only place to catch it.
	sev := Warn
	if k, _ := LookupIssue(issue.OC11540); in.Target == nil || k.Target.Check(in.Target) {
		sev = Fail
	}
	var fs []Finding
	parsed := map[string]cluster.Topology{} // nodes mostly hold the same file
	for _, n := range readable(in) {
		rb, ok := n.ok("topology")
		if !ok {
			continue
		}
		top, seen := parsed[rb]
		if !seen {
			var err error
			if top, err = cluster.ParseTopology(strings.NewReader(rb)); err != nil {
				continue // the topology check reports it
			}
			parsed[rb] = top
		}
		if v, ok := top.Setting("nginx['non_ssl_port']"); ok && v == "false" {
			fs = append(fs, Finding{Check: "non-ssl-port", Severity: sev, Node: n.Node, Issue: issue.OC11540, Symptom: "false",
				Evidence: []string{"private-chef.rb sets nginx['non_ssl_port'] = false"},
				Fix:      "remove that line from /etc/opscode/private-chef.rb before the upgrade (EC 11.1.3 to 11.1.8 write opscode-account's internal URL as http://127.0.0.1:false); set it again once on 11.2.0"})
		}
	}
	return result("non-ssl-port", fs, "nginx['non_ssl_port'] not set to false")
}

func checkConfigReadable(in Input) []Finding {
	var fs []Finding
	for _, n := range readable(in) {
		st, ok := n.Stat(cluster.TopologyPath)
		if !ok {
			continue
		}
		if st.Mode.Perm()&0o044 == 0 {
			fs = append(fs, Finding{Check: "config-readable", Severity: Warn, Node: n.Node, Issue: issue.OC11656, Symptom: "mode",
				Evidence: []string{fmt.Sprintf("%s has mode %s", cluster.TopologyPath, runit.FormatMode(st.Mode))},
				Fix:      "chmod 644 " + cluster.TopologyPath + " and run reconfigure with umask 022"})
		}
		fs = append(fs, unreadableServiceConfigs(in, n)...)
	}
	return result("config-readable", fs, "configuration readable")
}

// unreadableServiceConfigs finds the services' configuration files that
// the installed release's recipes make readable to all (mode 0644 and the
// like) and that their service cannot read now: not the recipe's owner's
// (the service's user) with its read bit, and neither group- nor
// world-readable, the rule private-chef.rb is held to. A mode that only
// differs is service-file-perms' business.
func unreadableServiceConfigs(in Input, n *nodeView) []Finding {
	rel, ok := n.packaging()
	if !ok {
		return nil
	}
	stats, found := n.statSection("svcstat")
	if !found {
		return nil
	}
	var ev, chmods []string
	for _, want := range rel.ServiceFilesFor(n.packagingRole(in)) {
		mode, err := packaging.ParseMode(want.Mode.Value)
		if err != nil || mode&0o004 == 0 || !strings.Contains(want.Path, "/etc/") {
			continue
		}
		i := slices.IndexFunc(stats, func(s runit.FileStat) bool { return s.Path == want.Path })
		if i < 0 {
			continue
		}
		got := stats[i]
		ownersRead := want.Owner.Value != "" && got.Owner == want.Owner.Value && got.Mode.Perm()&0o400 != 0
		if ownersRead || got.Mode.Perm()&0o044 != 0 {
			continue
		}
		ev = append(ev, fmt.Sprintf("%s is %s %s; %s's recipes make it readable to all, mode %s (%s)",
			want.Path, got.Owners(), runit.FormatMode(got.Mode), rel.Version, runit.FormatMode(mode), want.Mode.Source))
		chmods = append(chmods, "chmod "+runit.FormatMode(mode)+" "+want.Path)
	}
	if len(ev) == 0 {
		return nil
	}
	return []Finding{{Check: "config-readable", Severity: Warn, Node: n.Node, Issue: issue.OC11656, Symptom: "service-config-mode", Evidence: ev,
		Fix: strings.Join(chmods, "; ") + ", then private-chef-ctl reconfigure with umask 022"}}
}

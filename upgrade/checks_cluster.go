package upgrade

import (
	"fmt"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/issue"
	"github.com/chefha/chefha/migration"
)

func checkReachable(in Input) []Finding {
	var fs []Finding
	for _, n := range in.Facts.Nodes {
		if n.Err != "" {
			fs = append(fs, Finding{Check: "reachable", Severity: Fail, Node: n.Node, Symptom: "unreachable", Evidence: []string{n.Err},
				Fix: "make the node reachable over SSH (address, key, known_hosts, sudo) and run again"})
		}
	}
	if len(in.Facts.Nodes) == 0 {
		return []Finding{{Check: "reachable", Severity: Fail, Symptom: "no-nodes", Evidence: []string{"no node was read"},
			Fix: "name the cluster's servers (private-chef.rb or a host list)"}}
	}
	return result("reachable", fs, fmt.Sprintf("%d nodes read", len(in.Facts.Nodes)))
}

func checkTopology(in Input) []Finding {
	t := in.Facts.Topology
	if t.Kind != cluster.TopologyHA {
		return []Finding{{Check: "topology", Severity: Fail, Symptom: "not-ha", Evidence: []string{fmt.Sprintf("topology %q", t.Kind)},
			Fix: "chefha upgrades HA clusters: private-chef.rb must say topology \"ha\""}}
	}
	boot, ok := t.Bootstrap()
	sec, ok2 := t.Secondary()
	if !ok || !ok2 {
		return []Finding{{Check: "topology", Severity: Fail, Symptom: "no-bootstrap", Evidence: []string{"want two back ends, exactly one with :bootstrap => true"},
			Fix: "mark the original bootstrap back end, and only it, with :bootstrap => true in /etc/opscode/private-chef.rb"}}
	}
	var fs []Finding
	bf, _ := in.Facts.Node(boot.Name)
	want, _ := bf.ok("topology")
	for _, n := range readable(in) {
		got, ok := n.ok("topology")
		switch {
		case !ok:
			fs = append(fs, Finding{Check: "topology", Severity: Fail, Node: n.Node, Symptom: "unreadable", Evidence: []string{"cannot read " + cluster.TopologyPath + ": " + strings.TrimSpace(got)},
				Fix: "copy /etc/opscode from the bootstrap " + boot.Name + " to this node"})
		case got != want:
			fs = append(fs, Finding{Check: "topology", Severity: Warn, Node: n.Node, Symptom: "differs", Evidence: []string{cluster.TopologyPath + " differs from the bootstrap's"},
				Fix: "copy /etc/opscode from the bootstrap " + boot.Name + " to this node (the runner does this after upgrading the bootstrap)"})
		}
	}
	return result("topology", fs, fmt.Sprintf("HA: bootstrap %s, secondary %s, %d front ends", boot.Name, sec.Name, len(t.Frontends())))
}

// installedVersion is the version most nodes run (the runbook assumes one).
func installedVersion(in Input) (*semver.Version, []Finding) {
	var fs []Finding
	seen := map[string][]string{}
	for _, n := range readable(in) {
		v, err := n.Version()
		if err != nil {
			fs = append(fs, Finding{Check: "version", Severity: Fail, Node: n.Node, Symptom: "no-version", Evidence: []string{err.Error()},
				Fix: "check that Private Chef / Enterprise Chef is installed on this node"})
			continue
		}
		seen[v] = append(seen[v], n.Node)
	}
	versions := make([]string, 0, len(seen))
	for v := range seen {
		versions = append(versions, v)
	}
	sort.Strings(versions)
	var best string
	for _, v := range versions {
		if best == "" || len(seen[v]) > len(seen[best]) {
			best = v
		}
	}
	for _, v := range versions {
		if v != best {
			for _, node := range seen[v] {
				fs = append(fs, Finding{Check: "version", Severity: Fail, Node: node, Symptom: "mixed", Evidence: []string{"runs " + v + ", the others " + best},
					Fix: "bring every node to the same version before upgrading (install " + best + " here, or finish the interrupted upgrade)"})
			}
		}
	}
	if best == "" {
		return nil, fs
	}
	v, err := migration.ParseVersion(best)
	if err != nil {
		fs = append(fs, Finding{Check: "version", Severity: Fail, Symptom: "unknown-version", Evidence: []string{err.Error()}})
	}
	return v, fs
}

func checkVersion(in Input) []Finding {
	from, fs := installedVersion(in)
	if from == nil {
		return fs
	}
	if in.Target == nil {
		return result("version", fs, "all nodes run "+from.String()+" (no target given)")
	}
	if in.Mode == ModePostFlight {
		if !from.Equal(in.Target) {
			fs = append(fs, Finding{Check: "version", Severity: Fail, Symptom: "not-target", Evidence: []string{"the nodes run " + from.String() + ", want " + in.Target.String()},
				Fix: "finish the upgrade (resume the run)"})
		}
		return result("version", fs, "all nodes run "+from.String())
	}
	hops, err := PlanHops(from, in.Target)
	if pe, ok := err.(*PlanError); ok {
		for _, m := range pe.Mandatory {
			fs = append(fs, Finding{Check: "version", Severity: Fail, Symptom: "no-path", Evidence: []string{m}, Fix: "choose a target the runbook supports (11.1.3+)"})
		}
		for _, s := range pe.Skippable {
			fs = append(fs, Finding{Check: "version", Severity: Warn, Symptom: "skippable", Evidence: []string{s},
				Fix: "choose a target as the evidence advises, or allow this skippable path explicitly when planning"})
		}
	}
	var plan []string
	for _, h := range hops {
		plan = append(plan, h.String())
	}
	if len(plan) == 0 {
		plan = []string{"nothing to do"}
	}
	return result("version", fs, "all nodes run "+from.String()+"; plan: "+strings.Join(plan, ", then "))
}

func checkBackup(in Input) []Finding {
	if d := in.Backup.describe(); d != "" {
		return okFinding("backup", d)
	}
	boot, _ := in.Facts.Topology.Bootstrap()
	sev := Warn
	if in.Apply {
		sev = Fail
	}
	return []Finding{{Check: "backup", Severity: sev, Node: boot.Name, Symptom: "none", Evidence: []string{"no backup declared"},
		Fix: "back up the bootstrap's data (LVM snapshot, VMware snapshot, …), test it, and declare it: a command that makes it and one that checks it, or a description"}}
}

func checkMigrationLevel(in Input) []Finding {
	var fs []Finding
	var nodes []migration.NodeLevel
	for _, n := range readable(in) {
		nl := migration.NodeLevel{Node: n.Node, Frontend: n.Role == cluster.RoleFrontend}
		nl.Level, nl.Err = n.Level()
		nodes = append(nodes, nl)
	}
	var expected *migration.Level
	if from, _ := installedVersion(in); from != nil {
		if l, err := migration.Expected(from); err == nil {
			expected = &l
		}
	}
	cmp, err := migration.Compare(nodes, expected)
	if err != nil {
		return []Finding{{Check: "migration-level", Severity: Fail, Symptom: "undecidable", Evidence: []string{err.Error()}, Issue: issue.OC11297,
			Fix: "decide which level is right from the version table and write it on every node"}}
	}
	for _, m := range cmp.Mismatches {
		fs = append(fs, Finding{Check: "migration-level", Severity: Fail, Node: m.Node, Symptom: "mismatch", Evidence: []string{m.String() + " (" + cmp.WantFrom + ")"},
			Fix: cmp.Fix() + ": partybus reads a wrong or unreadable level as 0.0 and re-runs every migration", Issue: issue.OC11297})
	}
	return result("migration-level", fs, "every node holds "+cmp.Want.String())
}

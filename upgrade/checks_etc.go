package upgrade

import (
	"fmt"
	"slices"
	"strings"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/internal/packaging"
	"github.com/chefha/chefha/runit"
)

// checkEtcOpscodePerms compares the owners and modes of /etc/opscode on
// every node with what the target release's recipes give them (the
// packaging table's EtcOpscode): the keys are opscode:root 0600
// (chef-boneyard/opscode-omnibus@11.1.8:files/private-chef-cookbooks/
// private-chef/recipes/default.rb), and a copy that lost their owner, or
// a umask that widened a mode, leaves services unable to read them or
// anyone able to.
func checkEtcOpscodePerms(in Input) []Finding {
	return checkFilePerms(in, "etc-opscode-perms", Fail, "etcstat", func(rel packaging.Release, _ packaging.Role) []packaging.File {
		return rel.EtcOpscode
	}, "/etc/opscode has the owners and modes the recipes give it")
}

// checkServiceFilePerms does the same for the files the recipes lay down
// for the services (the table's ServiceFiles): from 11.1.7 on, six
// services' configurations and start scripts are opscode's (OC-11656,
// chef-boneyard/opscode-omnibus commit 634da696, "Set explicit owner and
// group for services without them"), which a reconfigure under the new
// release must have left so. Only the services' own recipes' files are
// judged (not the bootstrap's marker), and a difference warns: a service
// still reads a root-owned 0644 configuration, so it shows a reconfigure
// that did not run at the target rather than a broken cluster.
func checkServiceFilePerms(in Input) []Finding {
	return checkFilePerms(in, "service-file-perms", Warn, "svcstat", func(rel packaging.Release, role packaging.Role) []packaging.File {
		var out []packaging.File
		for _, f := range rel.ServiceFilesFor(role) {
			if rel.IsServiceRecipe(f.Recipe) {
				out = append(out, f)
			}
		}
		return out
	}, "the services' configurations and start scripts have the owners and modes the recipes give them")
}

// checkFilePerms judges the files of a facts section of stat lines against
// the release's resources that files lists for the node's role. Only
// resources every reconfigure applies with a literal owner, group and mode
// are judged (packaging.EnforcedFiles), and only where the file exists:
// whether it should is not an owner's matter.
func checkFilePerms(in Input, name string, sev Severity, section string, files func(packaging.Release, packaging.Role) []packaging.File, okMsg string) []Finding {
	if in.Target != nil {
		// 1.2.8 is 1.2.8.3 (its fourth part is only known once installed).
		if rel, exact, ok := packaging.Nearest(in.Target.String()); ok && !exact && !strings.HasPrefix(rel.Version, in.Target.String()+".") {
			// 11.1.7 read as 11.1.6 would judge OC-11656's files by
			// recipes that give them no owner, and pass them unseen.
			return []Finding{{Check: name, Severity: Skip, Evidence: []string{fmt.Sprintf(
				"the packaging table has no %s: its recipes' owners and modes are not known (the nearest, %s, may differ)", in.Target, rel.Version)}}}
		}
	}
	var fs []Finding
	judged, sections := false, 0
	for _, n := range readable(in) {
		rel, ok := permsRelease(in, n)
		if !ok {
			continue
		}
		stats, found := n.statSection(section)
		if !found {
			continue // facts read before chefha gathered them
		}
		sections++
		var ev, chowns, chmods []string
		for _, want := range packaging.EnforcedFiles(files(rel, n.packagingRole(in))) {
			i := slices.IndexFunc(stats, func(s runit.FileStat) bool { return s.Path == want.Path })
			if i < 0 {
				continue
			}
			got := stats[i]
			mode, err := packaging.ParseMode(want.Mode.Value)
			if err != nil {
				continue
			}
			judged = true
			owner, group := want.Owner.Value, want.Group.Value
			badOwner := got.Owner != owner || got.Group != group
			badMode := runit.FormatMode(got.Mode) != runit.FormatMode(mode)
			if !badOwner && !badMode {
				continue
			}
			ev = append(ev, fmt.Sprintf("%s is %s %s; %s's recipes make it %s:%s %s (%s)",
				got.Path, got.Owners(), runit.FormatMode(got.Mode), rel.Version, owner, group, runit.FormatMode(mode), want.Source))
			if badOwner {
				chowns = append(chowns, "chown "+owner+":"+group+" "+got.Path)
			}
			if badMode {
				chmods = append(chmods, "chmod "+runit.FormatMode(mode)+" "+got.Path)
			}
		}
		if len(ev) == 0 {
			continue
		}
		fs = append(fs, Finding{Check: name, Severity: sev, Node: n.Node, Symptom: "owner-mode", Evidence: ev,
			Fix: strings.Join(append(chowns, chmods...), "; ") + " (or private-chef-ctl reconfigure on " + n.Node + ", which sets them again)"})
	}
	switch {
	case len(fs) == 0 && sections == 0:
		return []Finding{{Check: name, Severity: Skip, Evidence: []string{"the facts hold no " + section + " section (read by an older chefha): read the nodes again"}}}
	case len(fs) == 0 && !judged:
		return []Finding{{Check: name, Severity: Skip, Evidence: []string{"no node has a file whose owner, group and mode the release's recipes set"}}}
	}
	return result(name, fs, okMsg)
}

// permsRelease is the release whose recipes a node's files are judged by:
// the target's, else (no target given) the installed one's.
func permsRelease(in Input, n *nodeView) (packaging.Release, bool) {
	if in.Target != nil {
		rel, _, ok := packaging.Nearest(in.Target.String())
		return rel, ok
	}
	return n.packaging()
}

// packagingRole is the node's role as the recipes tell roles apart.
func (n *nodeView) packagingRole(in Input) packaging.Role {
	if n.Role == cluster.RoleFrontend {
		return packaging.Frontend
	}
	if b, ok := in.Facts.Topology.Bootstrap(); ok && b.Name == n.Node {
		return packaging.Bootstrap
	}
	return packaging.Backend
}

// statSection parses a section of stat lines (runit.StatFormat), stat's
// complaints about missing files left out; false when the facts have no
// such section.
func (n *nodeView) statSection(name string) ([]runit.FileStat, bool) {
	sec, found := n.Sections[name]
	if !found {
		return nil, false
	}
	var keep []string
	for _, l := range strings.Split(sec.Output, "\n") {
		if l != "" && !strings.HasPrefix(l, "stat: ") {
			keep = append(keep, l)
		}
	}
	stats, err := runit.ParseStat(strings.NewReader(strings.Join(keep, "\n")))
	return stats, err == nil
}

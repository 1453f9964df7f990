package upgrade

import (
	"fmt"
	"slices"
	"strings"

	"github.com/chefha/chefha/internal/packaging"
	"github.com/chefha/chefha/runit"
)

// checkEtcOpscodePerms compares the owners and modes of /etc/opscode on
// every node with what the target release's recipes give them (the
// packaging table's EtcOpscode): the keys are opscode:root 0600
// (chef-boneyard/opscode-omnibus@11.1.8:files/private-chef-cookbooks/
// private-chef/recipes/default.rb), and a copy that lost their owner, or
// a umask that widened a mode, leaves services unable to read them or
// anyone able to. Only resources every reconfigure applies with a
// literal owner, group and mode are judged (packaging.File.Enforced),
// and only where the file exists: whether it should is not an owner's
// matter.
func checkEtcOpscodePerms(in Input) []Finding {
	var fs []Finding
	for _, n := range readable(in) {
		rel, ok := etcRelease(in, n)
		if !ok {
			continue
		}
		stats, found := n.etcStats()
		if !found {
			continue // facts read before chefha gathered them
		}
		var ev, chowns, chmods []string
		for _, want := range enforcedEtc(rel) {
			i := slices.IndexFunc(stats, func(s runit.FileStat) bool { return s.Path == want.Path })
			if i < 0 {
				continue
			}
			got := stats[i]
			mode, err := packaging.ParseMode(want.Mode.Value)
			if err != nil {
				continue
			}
			owner, group := want.Owner.Value, want.Group.Value
			badOwner := got.Owner != owner || got.Group != group
			badMode := runit.FormatMode(got.Mode) != runit.FormatMode(mode)
			if !badOwner && !badMode {
				continue
			}
			ev = append(ev, fmt.Sprintf("%s is %s %s; %s's recipes make it %s:%s %s (%s)",
				got.Path, got.Owners(), runit.FormatMode(got.Mode), rel.Version, owner, group, runit.FormatMode(mode), want.Mode.Source))
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
		fs = append(fs, Finding{Check: "etc-opscode-perms", Severity: Fail, Node: n.Node, Symptom: "owner-mode", Evidence: ev,
			Fix: strings.Join(append(chowns, chmods...), "; ") + " (or private-chef-ctl reconfigure on " + n.Node + ", which sets them again)"})
	}
	return result("etc-opscode-perms", fs, "/etc/opscode has the owners and modes the recipes give it")
}

// etcRelease is the release whose recipes a node's /etc/opscode is
// judged by: the target's, else (no target given) the installed one's.
func etcRelease(in Input, n *nodeView) (packaging.Release, bool) {
	if in.Target != nil {
		rel, _, ok := packaging.Nearest(in.Target.String())
		return rel, ok
	}
	return n.packaging()
}

// enforcedEtc are the release's /etc/opscode resources every reconfigure
// applies, each path once with its last declaration's values.
func enforcedEtc(rel packaging.Release) []packaging.File {
	var out []packaging.File
	for _, f := range rel.EtcOpscode {
		if slices.ContainsFunc(out, func(o packaging.File) bool { return o.Path == f.Path }) {
			continue
		}
		if last, _ := rel.EtcOpscodeFile(f.Path); last.Enforced() {
			out = append(out, last)
		}
	}
	return out
}

// etcStats parses the etcstat section, stat's complaints about missing
// files left out; false when the facts have no such section.
func (n *nodeView) etcStats() ([]runit.FileStat, bool) {
	sec, found := n.Sections["etcstat"]
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

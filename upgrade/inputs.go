package upgrade

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/chefha/chefha/internal/pkgfile"
	"github.com/chefha/chefha/migration"
	"github.com/chefha/chefha/runit"
)

// PackageName is the name of the Private Chef / Enterprise Chef package
// (chef-boneyard/opscode-omnibus, config/projects/private-chef.rb).
const PackageName = "private-chef"

// PackageRef is a package file as the plan records it: its SHA-256 is part
// of the plan's hash, so a resumed run installs the very same file.
type PackageRef struct {
	Family  string `json:"family"` // debian or rhel
	Version string `json:"version"`
	File    string `json:"file"` // base name; the path is the operator's
	SHA256  string `json:"sha256"`
	Size    int64  `json:"size"`
}

// packageFile is a checked package file.
type packageFile struct {
	path string
	info pkgfile.Info
}

// upload is where the package goes on a node.
func (p packageFile) upload() string { return path.Join("/tmp", path.Base(p.path)) }

// PackageError is a package file that cannot be used: missing,
// unreadable, of the wrong format, or another package.
type PackageError struct {
	Path string
	Err  error
}

func (e *PackageError) Error() string { return fmt.Sprintf("package %s: %v", e.Path, e.Err) }
func (e *PackageError) Unwrap() error { return e.Err }

// MissingPackageError is a hop with no package for some nodes' family.
type MissingPackageError struct {
	Family, Version string
	Nodes           []string
}

func (e *MissingPackageError) Error() string {
	kind := ".deb"
	if e.Family == "rhel" {
		kind = ".rpm"
	}
	return fmt.Sprintf("no %s package for %s %s: %s need one (give the %s file of %s %s)",
		e.Family, PackageName, e.Version, strings.Join(e.Nodes, ", "), kind, PackageName, e.Version)
}

var familyOfFormat = map[pkgfile.Format]string{pkgfile.Deb: "debian", pkgfile.RPM: "rhel"}

// choosePackages reads every package file given and picks, for each hop
// and each family its nodes have, the one for the hop's version.
func choosePackages(paths []string, hops []Hop, families map[string]string) (map[string]map[string]packageFile, []PackageRef, error) {
	byFam := map[string]map[string]packageFile{}
	var refs []PackageRef
	for _, p := range paths {
		info, err := pkgfile.Inspect(p)
		if err != nil {
			return nil, nil, &PackageError{Path: p, Err: err}
		}
		if info.Name != PackageName {
			return nil, nil, &PackageError{Path: p, Err: fmt.Errorf("it holds the package %q, not %s", info.Name, PackageName)}
		}
		v, err := migration.ParseVersion(info.Version)
		if err != nil {
			return nil, nil, &PackageError{Path: p, Err: fmt.Errorf("version %q: %w", info.Version, err)}
		}
		fam := familyOfFormat[info.Format]
		ver := fmt.Sprintf("%d.%d.%d", v.Major(), v.Minor(), v.Patch())
		if byFam[fam] == nil {
			byFam[fam] = map[string]packageFile{}
		}
		if old, dup := byFam[fam][ver]; dup && old.info.SHA256 != info.SHA256 {
			return nil, nil, &PackageError{Path: p, Err: fmt.Errorf("a second %s package for %s (the first is %s)", fam, ver, old.path)}
		}
		byFam[fam][ver] = packageFile{path: p, info: info}
	}
	nodesOf := map[string][]string{}
	for node, fam := range families {
		nodesOf[fam] = append(nodesOf[fam], node)
	}
	for _, h := range hops {
		to := h.To.String()
		for fam, nodes := range nodesOf {
			pf, ok := byFam[fam][to]
			if !ok {
				sort.Strings(nodes)
				return nil, nil, &MissingPackageError{Family: fam, Version: to, Nodes: nodes}
			}
			refs = append(refs, PackageRef{Family: fam, Version: to, File: path.Base(pf.path), SHA256: pf.info.SHA256, Size: pf.info.Size})
		}
	}
	sort.Slice(refs, func(i, j int) bool {
		if refs[i].Version != refs[j].Version {
			return refs[i].Version < refs[j].Version
		}
		return refs[i].Family < refs[j].Family
	})
	return byFam, refs, nil
}

// SpaceError is a node without room for the package it must take.
type SpaceError struct {
	Node, Mount    string
	NeedKB, HaveKB int64
	What           string
}

func (e *SpaceError) Error() string {
	return fmt.Sprintf("%s: %s has %d MiB free, the %s needs %d MiB: free space there before the upgrade",
		e.Node, e.Mount, e.HaveKB/1024, e.What, e.NeedKB/1024)
}

// ArchError is a package built for other hardware than a node's: dpkg
// and rpm would refuse it at the install, after the front ends stopped.
type ArchError struct {
	Node, Machine string // uname -m
	Package, Arch string // the file, and the architecture it is built for
}

func (e *ArchError) Error() string {
	return fmt.Sprintf("%s is built for %s, but %s is %s: give the package built for %s", e.Package, e.Arch, e.Node, e.Machine, e.Machine)
}

// archNames are the package architectures a machine (uname -m) installs:
// Debian's names and rpm's, "all" and "noarch" everywhere.
var archNames = map[string][]string{
	"x86_64":  {"amd64", "x86_64"},
	"aarch64": {"arm64", "aarch64"},
	"i686":    {"i386", "i486", "i586", "i686"},
	"i386":    {"i386"},
	"ppc64le": {"ppc64el", "ppc64le"},
	"s390x":   {"s390x"},
}

// checkArch refuses a plan whose package a node's hardware cannot run.
// A node whose machine could not be read, or is one chefha does not
// know, is not judged: the install will say.
func checkArch(in Input, hops []Hop, pkgs map[string]map[string]packageFile, families map[string]string) error {
	var errs []error
	for _, n := range readable(in) {
		out, ok := n.ok("machine")
		machine := strings.TrimSpace(out)
		names, known := archNames[machine]
		if !ok || !known {
			continue
		}
		for _, h := range hops {
			pf := pkgs[families[n.Node]][h.To.String()]
			if a := pf.info.Arch; a != "" && a != "all" && a != "noarch" && !slices.Contains(names, a) {
				errs = append(errs, &ArchError{Node: n.Node, Machine: machine, Package: pf.path, Arch: a})
			}
		}
	}
	return errors.Join(errs...)
}

// installFactor estimates what a package takes once installed: Enterprise
// Chef's packages unpack to about three times their size.
const installFactor = 3

// checkSpace refuses a plan when a node has no room for the largest
// package it will take: the upload in /tmp and the install in /opt/opscode.
func checkSpace(in Input, hops []Hop, pkgs map[string]map[string]packageFile, families map[string]string) error {
	var errs []error
	for _, n := range readable(in) {
		out, ok := n.ok("space")
		if !ok {
			continue // df failed: nothing to judge by; the install will say
		}
		rows, err := runit.ParseDF(strings.NewReader(out))
		if err != nil || len(rows) < 2 {
			continue
		}
		var upload, install int64
		for _, h := range hops {
			pf := pkgs[families[n.Node]][h.To.String()]
			kb := (pf.info.Size + 1023) / 1024
			upload = max(upload, kb)
			install = max(install, kb*installFactor)
		}
		need := map[string]int64{}
		have := map[string]int64{}
		what := map[string]string{}
		for i, req := range []struct {
			kb   int64
			what string
		}{{upload, "package upload"}, {install, "installed package"}} {
			key := rows[i].Filesystem + " on " + rows[i].MountedOn
			need[key] += req.kb + req.kb/10
			have[key] = rows[i].Available
			what[key] = strings.TrimPrefix(what[key]+" and "+req.what, " and ")
		}
		for key, kb := range need {
			if have[key] < kb {
				errs = append(errs, &SpaceError{Node: n.Node, Mount: key, NeedKB: kb, HaveKB: have[key], What: what[key]})
			}
		}
	}
	return errors.Join(errs...)
}

package ecnode

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/Masterminds/semver/v3"
	"github.com/chefha/chefha/internal/pkgfile"
)

// ctl emulates private-chef-ctl.
func (n *Node) ctl(argv []string, e Exec) int {
	if len(argv) < 2 {
		return notEmulated(argv, e)
	}
	var svcs []*Service
	if len(argv) > 2 {
		s, ok := n.Services[argv[2]]
		if !ok && argv[2] != "keepalived" {
			fmt.Fprintf(e.Stderr, "%s: no such service\n", argv[2])
			return 1
		}
		if ok {
			svcs = []*Service{s}
		}
	} else {
		svcs = n.sortedServices()
	}
	switch argv[1] {
	case "status":
		status := 0
		if len(argv) > 2 && argv[2] == "keepalived" {
			return n.keepalivedStatus(e)
		}
		for _, s := range svcs {
			fmt.Fprintln(e.Stdout, n.statusLine(s))
			if !s.Up && s.NormallyUp {
				status = 3
			}
		}
		if n.Backend && len(argv) == 2 {
			n.keepalivedStatus(e)
		}
		return status
	case "stop", "start", "restart":
		n.Log = append(n.Log, strings.Join(argv, " "))
		if len(argv) > 2 && argv[2] == "keepalived" {
			if argv[1] != "start" {
				n.keepalivedStop()
			}
			if argv[1] != "stop" {
				n.keepalivedStart()
			}
			if argv[1] != "stop" && !n.KeepalivedUp {
				fmt.Fprintln(e.Stdout, "timeout: down: keepalived: 0s, normally up, want up")
				return 1
			}
			if n.KeepalivedUp {
				fmt.Fprintln(e.Stdout, "ok: run: keepalived: (pid 600) 0s")
			} else {
				fmt.Fprintln(e.Stdout, "ok: down: keepalived: 0s, normally up")
			}
			return 0
		}
		// EC 11.1.8's wrapper exports SVWAIT=30 (OC-11657); older ctls use
		// sv's 7 s unless the caller exported a longer SVWAIT.
		wait := "7"
		if n.atLeast("11.1.8") {
			wait = "30"
		}
		if n.svwait != "" {
			wait = n.svwait
		}
		if argv[1] == "start" && len(argv) == 2 && n.Backend {
			n.keepalivedStart() // start-all includes keepalived on a back end
		}
		status := 0
		for _, s := range svcs {
			if argv[1] == "start" && !s.NormallyUp && len(argv) == 2 {
				continue // a down file: start-all leaves it
			}
			for _, verb := range map[string][]string{"stop": {"stop"}, "start": {"start"}, "restart": {"stop", "start"}}[argv[1]] {
				status = max(status, n.sv([]string{"sv", "-w", wait, verb, s.Name}, e))
			}
			if s.Name == "redis_lb" && argv[1] == "restart" {
				n.redisLBRestarted = true
			}
		}
		return status
	case "reconfigure":
		n.Log = append(n.Log, strings.Join(argv, " "))
		return n.reconfigure(e)
	case "upgrade":
		n.Log = append(n.Log, strings.Join(argv, " "))
		return n.upgrade(e)
	case "cleanup":
		n.Log = append(n.Log, strings.Join(argv, " "))
		return n.cleanup(e)
	case "ha-status":
		return n.haStatus(e)
	}
	return notEmulated(argv, e)
}

func (n *Node) keepalivedStatus(e Exec) int {
	if n.KeepalivedUp {
		fmt.Fprintf(e.Stdout, "run: keepalived: (pid 600) 100s; run: log: (pid 599) 100s\n")
		return 0
	}
	fmt.Fprintf(e.Stdout, "down: keepalived: 5s, normally up; run: log: (pid 599) 100s\n")
	return 3
}

func (n *Node) atLeast(v string) bool {
	have, err := semver.NewVersion(n.Release.Version)
	if err != nil {
		return false
	}
	return !have.LessThan(semver.MustParse(v))
}

func (n *Node) packageAtLeast(v string) bool {
	have, err := semver.NewVersion(n.Package)
	return err == nil && !have.LessThan(semver.MustParse(v))
}

// reconfigure: chef-client applies the installed package. Moving from a
// 1.x release to EC 11 renames the runsvdir job and restarts keepalived
// (OC-11669), fixes log ownership (unless OC-11426) and may fail on
// OC-11540 or OC-11601.
func (n *Node) reconfigure(e Exec) int {
	fmt.Fprintln(e.Stdout, "Starting Chef Client, version 11.4.4")
	rb, _ := n.ReadFile("/etc/opscode/private-chef.rb")
	if n.Bugs["OC-11540"] && strings.Contains(rb, "nginx['non_ssl_port'] = false") && strings.HasPrefix(n.Package, "11.") && !n.packageAtLeast("11.1.8") {
		fmt.Fprintln(e.Stdout, "================================================================================")
		fmt.Fprintln(e.Stdout, "Error executing action `create` on resource 'template[/var/opt/opscode/opscode-account/config.rb]'")
		fmt.Fprintln(e.Stderr, "opscode-account: invalid configuration: non_ssl_port is false")
		return 1
	}
	if _, ok := n.Services["redis_lb"]; ok && n.Bugs["OC-11601"] && !n.redisLBRestarted && n.Package != n.Release.Version {
		fmt.Fprintln(e.Stderr, "Errno::ECONNREFUSED: Connection refused - connect(2) for 127.0.0.1:16379")
		return 1
	}
	rel, ok := Releases()[n.Package]
	if !ok {
		fmt.Fprintf(e.Stderr, "reconfigure: no release %s\n", n.Package)
		return 1
	}
	renamed := rel.RunsvdirJob != n.Release.RunsvdirJob
	if err := n.installServices(rel, false); err != nil {
		fmt.Fprintln(e.Stderr, err)
		return 1
	}
	if rel.Version != n.Release.Version {
		for _, s := range n.Services {
			if strings.HasPrefix(rel.Version, "11.") && RemovedInEC11(s.Name) && s.Up {
				s.Up, s.NormallyUp, s.Since = false, true, n.Clock()
			}
		}
	}
	n.Release = rel
	if renamed {
		if n.Bugs["two-runsvdirs"] {
			n.Runsvdirs = []string{"opscode-runsvdir", rel.RunsvdirJob}
		} else {
			n.Runsvdirs = []string{rel.RunsvdirJob}
		}
	}
	owner := rel.ServiceOwner + ":" + rel.ServiceOwner
	if n.Bugs["OC-11426"] && strings.HasPrefix(rel.Version, "11.") {
		// The bug: reconfigure does not fix ownership; whatever 1.4.6 left
		// (root) stays, and svlogd, now running as opscode, cannot rotate.
		owner = n.owner("/var/log/opscode")
		if owner != "opscode:opscode" {
			n.RunsvdirLog = "svlogd: pausing: unable to rename current: /var/log/opscode/opscode-erchef: permission denied?svlogd: pausing: unable to rename current: /var/log/opscode/opscode-erchef: permission denied?"
		}
	}
	n.Owners["/var/log/opscode"] = owner
	if !n.Bugs["OC-11490"] {
		n.Owners["/var/log/opscode/keepalived"] = owner
	}
	if n.Backend && n.KeepalivedUp {
		// keepalived is restarted with the new runsvdir; before 11.1.8 the
		// job rename drops the bootstrap to backup first (OC-11669).
		if n.Current() == "master" && renamed && (n.Bugs["OC-11669"] || !n.packageAtLeast("11.1.8")) {
			n.KeepalivedUp = true
			n.startTransition("backup")
			n.thenMaster = true
		}
	} else if n.Backend && n.Bootstrap && !n.KeepalivedUp {
		n.keepalivedStart()
	}
	if n.Bugs["OC-11656"] && strings.HasPrefix(rel.Version, "11.") && !n.packageAtLeast("11.1.8") {
		// The cookbooks inherit the caller's umask: under a hardened 077
		// the files they write are unreadable to the services.
		mode := os.FileMode(0o600)
		if n.Umask == "022" {
			mode = 0o644
		}
		os.Chmod(n.Path("/etc/opscode/private-chef.rb"), mode)
	}
	fmt.Fprintln(e.Stdout, "Chef Client finished, 84 resources updated")
	fmt.Fprintln(e.Stdout, "private-chef Reconfigured!")
	return 0
}

// Migrations lists the partybus migrations between two levels, in order.
func Migrations(from, to Level) []Level {
	var out []Level
	for m := from.Minor + 1; m <= to.Minor; m++ {
		out = append(out, Level{1, m})
	}
	return out
}

// MustBeMaster is what partybus prints, and exits 1 after, on a bootstrap
// that is not the HA master.
const MustBeMaster = "ERROR: \n****\nThe bootstrap server must be the HA-master at the time of upgrade.\n"

// upgrade is `private-chef-ctl upgrade`: reconfigure, then partybus.
func (n *Node) upgrade(e Exec) int {
	if n.PartybusLocked {
		fmt.Fprintln(e.Stdout, "[private-chef-upgrade] - ERROR: Unable to obtain file lock on "+levelPath)
		return 0 // partybus exits 0 here: the silent failure chefha must catch
	}
	if st := n.reconfigure(e); st != 0 {
		return st
	}
	fmt.Fprintln(e.Stdout, "Sleeping for 2 minutes before migration")
	target := n.Release.Level
	b, _ := n.ReadFile(levelPath)
	var cur struct{ Major, Minor *int }
	from := Level{}
	if json.Unmarshal([]byte(b), &cur) == nil && cur.Major != nil && cur.Minor != nil {
		from = Level{*cur.Major, *cur.Minor}
	} else {
		// partybus reads a missing or corrupt file as 0.0.
		n.Harm = append(n.Harm, fmt.Sprintf("%s: migration-level unreadable (%q): partybus re-ran every migration from 0.0", n.Name, strings.TrimSpace(b)))
	}
	for _, m := range Migrations(from, target) {
		dataNode := n.Backend && n.Bootstrap
		if dataNode && (n.Current() != "master" || n.InTransition()) {
			if n.InTransition() && m == (Level{1, 9}) {
				// OC-11670: 1.9 is skipped, silently, while keepalived moves.
				n.Harm = append(n.Harm, n.Name+": migration 1.9 skipped while keepalived was in transition (OC-11670)")
				continue
			}
			if n.Current() != "master" {
				fmt.Fprint(e.Stdout, MustBeMaster)
				return 1
			}
		}
		if n.Bugs["OC-11382"] && dataNode && m.Minor == from.Minor+2 {
			// keepalived restarts under partybus: the run dies mid-way.
			n.Bugs["OC-11382"] = false
			n.startTransition("backup")
			n.thenMaster = true
			fmt.Fprintln(e.Stdout, "[private-chef-upgrade] - Starting Migration "+m.String())
			fmt.Fprintln(e.Stderr, "Errno::ECONNREFUSED: postgresql went away")
			return 1
		}
		fmt.Fprintln(e.Stdout, "[private-chef-upgrade] - Starting Migration "+m.String())
		if m == (Level{1, 13}) && n.Bugs["OC-11658"] {
			fmt.Fprintln(e.Stdout, "[private-chef-upgrade] - oc_authz_migrator: ERROR: failed to migrate 12 authz groups; continuing")
			n.Harm = append(n.Harm, n.Name+": authz data un-migrated (OC-11658)")
		}
		fmt.Fprintln(e.Stdout, "[private-chef-upgrade] - Finished Migration "+m.String()+" in 0.1 seconds")
		if n.Bugs["OC-11297"] && n.Backend && strings.HasPrefix(n.Release.Version, "11.0.") {
			n.WriteFile(levelPath, "", 0o644) // 11.0.x back ends do not save the level
			continue
		}
		n.writeLevel(m)
	}
	if dataNode := n.Backend && n.Bootstrap; !dataNode {
		n.writeLevel(target)
		if n.Bugs["OC-11297"] && n.Backend && strings.HasPrefix(n.Release.Version, "11.0.") {
			n.WriteFile(levelPath, "", 0o644)
		}
	}
	fmt.Fprintln(e.Stdout, "Chef Server Upgraded!")
	return 0
}

// cleanup removes the services and links EC 11 no longer has, and the old
// runsvdir job.
func (n *Node) cleanup(e Exec) int {
	if !strings.HasPrefix(n.Release.Version, "11.") {
		fmt.Fprintln(e.Stderr, "cleanup: nothing to clean up before EC 11")
		return 1
	}
	for name := range n.Services {
		if RemovedInEC11(name) {
			delete(n.Services, name)
			os.Remove(n.Path("/opt/opscode/service/" + name))
			fmt.Fprintf(e.Stdout, "Removing %s\n", name)
		}
	}
	n.Runsvdirs = []string{n.Release.RunsvdirJob}
	return 0
}

// haStatus prints EC 11.1.8's ha-status for this node.
func (n *Node) haStatus(e Exec) int {
	if !n.Backend {
		fmt.Fprintln(e.Stdout, "[ERROR] not a back end")
		fmt.Fprintln(e.Stdout, "\n[ERROR] ERRORS WERE DETECTED.")
		return 1
	}
	code := 0
	cur, req := n.Current(), n.requested()
	if req != cur {
		fmt.Fprintf(e.Stdout, "[WARN] inconsistent cluster status, requested: %s, current: %s, failover running?\n", req, cur)
		code = 2
	} else {
		fmt.Fprintf(e.Stdout, "[OK] cluster status = %s\n", cur)
	}
	master := cur == "master"
	switch {
	case master && n.HasVIP:
		fmt.Fprintln(e.Stdout, "[OK] found VIP IP address and I am master")
	case master != n.HasVIP:
		fmt.Fprintln(e.Stdout, "[ERROR] VIP and master status disagree")
		code = 3
	}
	for _, s := range n.sortedServices() {
		if RemovedInEC11(s.Name) || s.Name == "opscode-chef-mover" {
			continue
		}
		switch {
		case master && s.Up:
			fmt.Fprintf(e.Stdout, "[OK] %s is running correctly, and I am master. \n", s.Name)
		case master:
			fmt.Fprintf(e.Stdout, "[ERROR] %s is not running.\n", s.Name)
			code = 7
		case s.Up:
			fmt.Fprintf(e.Stdout, "[ERROR] %s is running, and I am not master.\n", s.Name)
			code = 7
		}
	}
	if code == 0 {
		fmt.Fprintln(e.Stdout, "\n[OK] all checks passed.")
	} else {
		fmt.Fprintln(e.Stdout, "\n[ERROR] ERRORS WERE DETECTED.")
	}
	return code
}

// install is `dpkg -i FILE` / `rpm -Uvh FILE` of a package file uploaded to
// the node; its first line names the version ("private-chef 11.1.8").
func (n *Node) install(argv []string, e Exec) int {
	want := map[string]string{"dpkg": "debian", "rpm": "rhel"}[argv[0]]
	if len(argv) != 3 || (argv[1] != "-i" && argv[1] != "-Uvh") {
		return notEmulated(argv, e)
	}
	if want != n.Family {
		fmt.Fprintf(e.Stderr, "%s: command not found\n", argv[0])
		return 127
	}
	info, err := pkgfile.Inspect(n.Path(argv[2]))
	if errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(e.Stderr, "%s: error: cannot access archive '%s': No such file or directory\n", argv[0], argv[2])
		return 2
	}
	if err != nil || info.Name != "private-chef" {
		fmt.Fprintf(e.Stderr, "%s: error: %s is not a private-chef package\n", argv[0], argv[2])
		return 2
	}
	f := []string{info.Name, info.Version}
	if _, ok := Releases()[f[1]]; !ok {
		fmt.Fprintf(e.Stderr, "%s: no emulated release %s\n", argv[0], f[1])
		return 2
	}
	n.Log = append(n.Log, strings.Join(argv, " "))
	n.Package = f[1]
	n.redisLBRestarted = false
	n.WriteFile(manifest, "private-chef "+f[1]+"\n", 0o644)
	if argv[0] == "dpkg" {
		fmt.Fprintf(e.Stdout, "(Reading database ... 84211 files and directories currently installed.)\nPreparing to unpack %s ...\nUnpacking private-chef (%s-1) ...\nSetting up private-chef (%s-1) ...\nThank you for installing Chef Server!\n", argv[2], f[1], f[1])
	} else {
		fmt.Fprintf(e.Stdout, "Preparing...                ########################################### [100%%]\n   1:private-chef           ########################################### [100%%]\nThank you for installing Chef Server!\n")
	}
	return 0
}

// fileCommand emulates the file utilities chefha's steps use.
func (n *Node) fileCommand(argv []string, e Exec) int {
	args := argv[1:]
	recursive, force := false, false
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		if args[0] != "--" {
			recursive = recursive || strings.ContainsAny(args[0], "Rrp")
			force = force || strings.Contains(args[0], "f")
		}
		if args[0] == "--" {
			args = args[1:]
			break
		}
		args = args[1:]
	}
	switch argv[0] {
	case "chown":
		if len(args) < 2 {
			return notEmulated(argv, e)
		}
		owner := strings.ReplaceAll(args[0], ".", ":")
		if !strings.Contains(owner, ":") {
			owner += ":" + owner
		}
		for _, p := range args[1:] {
			if _, err := os.Lstat(n.Path(p)); err != nil {
				fmt.Fprintf(e.Stderr, "chown: cannot access '%s': No such file or directory\n", p)
				return 1
			}
			n.Owners[filepath.Clean(p)] = owner
			if recursive && filepath.Clean(p) == "/var/log/opscode" {
				n.Owners["/var/log/opscode/keepalived"] = owner
				n.RunsvdirLog = ""
			}
		}
		n.Log = append(n.Log, strings.Join(argv, " "))
		return 0
	case "chmod":
		if len(args) < 2 {
			return notEmulated(argv, e)
		}
		mode, err := strconv.ParseUint(args[0], 8, 32)
		if err != nil {
			return notEmulated(argv, e)
		}
		for _, p := range args[1:] {
			if err := os.Chmod(n.Path(p), os.FileMode(mode)); err != nil {
				fmt.Fprintf(e.Stderr, "chmod: cannot access '%s': No such file or directory\n", p)
				return 1
			}
		}
		n.Log = append(n.Log, strings.Join(argv, " "))
		return 0
	case "rm":
		for _, p := range args {
			if filepath.Clean("/"+p) == "/" {
				fmt.Fprintln(e.Stderr, "rm: it is dangerous to operate recursively on '/'")
				return 1
			}
			if recursive {
				os.RemoveAll(n.Path(p))
			} else if err := os.Remove(n.Path(p)); err != nil && !force {
				fmt.Fprintf(e.Stderr, "rm: cannot remove '%s': No such file or directory\n", p)
				return 1
			}
		}
		n.Log = append(n.Log, strings.Join(argv, " "))
		return 0
	case "mkdir":
		for _, p := range args {
			mk := os.Mkdir
			if recursive {
				mk = os.MkdirAll
			}
			if err := mk(n.Path(p), 0o755); err != nil {
				if os.IsExist(err) {
					fmt.Fprintf(e.Stderr, "mkdir: cannot create directory '%s': File exists\n", p)
				} else {
					fmt.Fprintf(e.Stderr, "mkdir: cannot create directory '%s': No such file or directory\n", p)
				}
				return 1
			}
		}
		n.Log = append(n.Log, strings.Join(argv, " "))
		return 0
	case "readlink":
		if len(args) != 1 {
			return notEmulated(argv, e)
		}
		t, err := os.Readlink(n.Path(args[0]))
		if err != nil {
			return 1
		}
		fmt.Fprintln(e.Stdout, t)
		return 0
	case "ls":
		if len(args) != 1 {
			return notEmulated(argv, e)
		}
		ents, err := os.ReadDir(n.Path(args[0]))
		if err != nil {
			fmt.Fprintf(e.Stderr, "ls: cannot access '%s': No such file or directory\n", args[0])
			return 2
		}
		for _, en := range ents {
			fmt.Fprintln(e.Stdout, en.Name())
		}
		return 0
	case "sha256sum":
		status := 0
		for _, p := range args {
			b, err := os.ReadFile(n.Path(p))
			if err != nil {
				fmt.Fprintf(e.Stderr, "sha256sum: %s: No such file or directory\n", p)
				status = 1
				continue
			}
			sum := sha256.Sum256(b)
			fmt.Fprintf(e.Stdout, "%s  %s\n", hex.EncodeToString(sum[:]), p)
		}
		return status
	case "cp":
		return notEmulated(argv, e)
	}
	return notEmulated(argv, e)
}

package clustertest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/chefha/chefha/internal/ecmodel"
)

// ctl is private-chef-ctl (any path to it) through the model.
func (n *Node) ctl(ctx context.Context, argv []string, e shellIO) int {
	if len(argv) > 1 && argv[1] != "status" && argv[1] != "ha-status" && argv[1] != "tail" && argv[1] != "service-list" {
		n.log = append(n.log, "private-chef-ctl "+strings.Join(argv[1:], " "))
	}
	return ecmodel.Ctl(ctx, e.sess, argv[1:], ecmodel.IO{Stdout: e.Stdout, Stderr: e.Stderr, Env: e.env})
}

// clusterSh is keepalived's notify script run by hand.
func (n *Node) clusterSh(ctx context.Context, argv []string, e shellIO) int {
	if len(argv) != 2 {
		return notEmulated(argv, e)
	}
	n.log = append(n.log, strings.Join(argv, " "))
	t, code := ecmodel.BeginClusterSh(e.sess, argv[1], ecmodel.IO{Stdout: e.Stdout, Stderr: e.Stderr})
	if t != nil {
		n.trans, n.transArg = t, argv[1]
		n.stepTransition()
	}
	return code
}

// sv [-v] [-w SEC] VERB SERVICE…, as runit's sv prints (not LSB mode).
func (n *Node) sv(ctx context.Context, argv []string, e shellIO) int {
	args := argv[1:]
	wait := 7 * time.Second
	if secs, err := strconv.Atoi(e.env["SVWAIT"]); err == nil {
		wait = time.Duration(secs) * time.Second
	}
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		switch args[0] {
		case "-v":
			args = args[1:]
		case "-w":
			if len(args) < 2 {
				return notEmulated(argv, e)
			}
			secs, err := strconv.Atoi(args[1])
			if err != nil {
				return notEmulated(argv, e)
			}
			wait, args = time.Duration(secs)*time.Second, args[2:]
		default:
			return notEmulated(argv, e)
		}
	}
	if len(args) < 2 {
		fmt.Fprintln(e.Stderr, "usage: sv [-v] [-w sec] command service ...")
		return 100
	}
	if args[0] != "status" {
		n.log = append(n.log, strings.Join(argv, " "))
	}
	fails := 0
	for _, p := range args[1:] {
		out, code := n.Sv(ctx, args[0], p, wait, false)
		fmt.Fprint(e.Stdout, out)
		if code == 100 {
			return 100
		}
		if code != 0 {
			fails++
		}
	}
	return min(fails, 99)
}

// drbdCommand answers drbdadm, the mount table and ping.
func (n *Node) drbdCommand(ctx context.Context, argv []string, e shellIO) int {
	switch argv[0] {
	case "drbdadm":
		if len(argv) == 3 && (argv[1] == "primary" || argv[1] == "secondary") {
			n.log = append(n.log, strings.Join(argv, " "))
		}
		out, code := n.DRBDAdm(ctx, argv[1:]...)
		if code == 0 {
			fmt.Fprint(e.Stdout, out)
		} else {
			fmt.Fprint(e.Stderr, out)
		}
		return code
	case "mount":
		if len(argv) == 1 {
			for _, l := range strings.Split(strings.TrimSpace(n.procMounts()), "\n") {
				f := strings.Fields(l)
				fmt.Fprintf(e.Stdout, "%s on %s type %s (%s)\n", f[0], f[1], f[2], f[3])
			}
			return 0
		}
	case "findmnt":
		if len(argv) == 2 {
			for _, l := range strings.Split(n.procMounts(), "\n") {
				if f := strings.Fields(l); len(f) > 3 && f[1] == argv[1] {
					fmt.Fprintf(e.Stdout, "TARGET%sSOURCE     FSTYPE OPTIONS\n%s %s %s %s\n", strings.Repeat(" ", max(1, len(f[1])-5)), f[1], f[0], f[2], f[3])
					return 0
				}
			}
			return 1
		}
	case "mountpoint":
		if len(argv) == 2 {
			if strings.Contains(n.procMounts(), " "+argv[1]+" ") {
				fmt.Fprintf(e.Stdout, "%s is a mountpoint\n", argv[1])
				return 0
			}
			fmt.Fprintf(e.Stdout, "%s is not a mountpoint\n", argv[1])
			return 1
		}
	case "ping":
		ip := argv[len(argv)-1]
		if n.Ping(ip) {
			fmt.Fprintf(e.Stdout, "PING %s (%[1]s) 56(84) bytes of data.\n64 bytes from %[1]s: icmp_seq=1 ttl=64 time=0.210 ms\n", ip)
			return 0
		}
		fmt.Fprintf(e.Stdout, "PING %s (%[1]s) 56(84) bytes of data.\n\n--- %[1]s ping statistics ---\n1 packets transmitted, 0 received, 100%% packet loss, time 0ms\n", ip)
		return 1
	}
	return notEmulated(argv, e)
}

// install is `dpkg -i FILE` / `rpm -Uvh FILE` of a package file uploaded to
// the node, as the model installs it. The log keeps the installs that
// happened.
func (n *Node) install(argv []string, e shellIO) int {
	code := ecmodel.Install(e.sess, argv, ecmodel.IO{Stdout: e.Stdout, Stderr: e.Stderr, Env: e.env})
	if code == 0 {
		n.log = append(n.log, strings.Join(argv, " "))
	}
	return code
}

// fileCommand emulates the file utilities chefha's steps use.
func (n *Node) fileCommand(argv []string, e shellIO) int {
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
		u, g, _ := strings.Cut(owner, ":")
		for i, name := range []string{u, g} {
			if _, known := simKnownID(name); !known && strings.Trim(name, "0123456789") != "" {
				fmt.Fprintf(e.Stderr, "chown: invalid %s: '%s'\n", []string{"user", "group"}[i], args[0])
				return 1
			}
		}
		for _, p := range args[1:] {
			if _, err := n.files.Lstat(p); err != nil {
				fmt.Fprintf(e.Stderr, "chown: cannot access '%s': No such file or directory\n", p)
				return 1
			}
			n.owners[path.Clean(p)] = owner
			if recursive {
				n.chownBelow(path.Clean(p), owner)
			}
			if recursive && path.Clean(p) == "/var/log/opscode" {
				n.runsvLog = ""
			}
		}
		n.log = append(n.log, strings.Join(argv, " "))
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
			if err := n.files.Chmod(p, fs.FileMode(mode)); err != nil {
				fmt.Fprintf(e.Stderr, "chmod: cannot access '%s': No such file or directory\n", p)
				return 1
			}
		}
		n.log = append(n.log, strings.Join(argv, " "))
		return 0
	case "rm":
		for _, p := range args {
			if path.Clean("/"+p) == "/" {
				fmt.Fprintln(e.Stderr, "rm: it is dangerous to operate recursively on '/'")
				return 1
			}
			if recursive {
				n.files.RemoveAll(p)
			} else if err := n.files.Remove(p); err != nil && !force {
				fmt.Fprintf(e.Stderr, "rm: cannot remove '%s': No such file or directory\n", p)
				return 1
			}
		}
		n.log = append(n.log, strings.Join(argv, " "))
		return 0
	case "mkdir":
		for _, p := range args {
			mk := n.files.Mkdir
			if recursive {
				mk = n.files.MkdirAll
			}
			if err := mk(p, 0o755&^loginUmask); err != nil {
				if errors.Is(err, fs.ErrExist) {
					fmt.Fprintf(e.Stderr, "mkdir: cannot create directory '%s': File exists\n", p)
				} else {
					fmt.Fprintf(e.Stderr, "mkdir: cannot create directory '%s': No such file or directory\n", p)
				}
				return 1
			}
		}
		n.log = append(n.log, strings.Join(argv, " "))
		return 0
	case "readlink":
		if len(args) != 1 {
			return notEmulated(argv, e)
		}
		t, err := n.files.Readlink(args[0])
		if err != nil {
			return 1
		}
		fmt.Fprintln(e.Stdout, t)
		return 0
	case "ls":
		if len(args) != 1 {
			return notEmulated(argv, e)
		}
		ents, err := n.files.ReadDir(args[0])
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
		if len(args) > 0 && args[0] == "--" { // end of options, as coreutils'
			args = args[1:]
		}
		for _, p := range args {
			b, err := n.files.ReadFile(p)
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

// chownBelow is chown -R's walk: every path below dir (links not
// followed) gets owner.
func (n *Node) chownBelow(dir, owner string) {
	ents, err := n.files.ReadDir(dir)
	if err != nil {
		return
	}
	for _, en := range ents {
		p := path.Join(dir, en.Name())
		n.owners[p] = owner
		if en.IsDir() {
			n.chownBelow(p, owner)
		}
	}
}

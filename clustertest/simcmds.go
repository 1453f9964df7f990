package clustertest

import (
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"github.com/chefha/chefha/internal/ecmodel"
)

func (n *Node) cat(argv []string, e shellIO) int {
	status := 0
	for _, p := range argv[1:] {
		if p == "--" {
			continue
		}
		b, err := n.ReadFile(p)
		if err != nil {
			fmt.Fprintf(e.Stderr, "cat: %s: No such file or directory\n", p)
			status = 1
			continue
		}
		e.Stdout.Write(b)
	}
	return status
}

// stat -c FORMAT PATH…, for the formats chefha uses (runit.StatFormat).
func (n *Node) stat(argv []string, e shellIO) int {
	if len(argv) < 4 || argv[1] != "-c" {
		return notEmulated(argv, e)
	}
	format, status := argv[2], 0
	for _, p := range argv[3:] {
		if p == "--" {
			continue
		}
		st, err := n.files.Lstat(p)
		if err != nil {
			fmt.Fprintf(e.Stderr, "stat: cannot statx '%s': No such file or directory\n", p)
			status = 1
			continue
		}
		kind := "regular file"
		switch {
		case st.IsDir():
			kind = "directory"
		case st.Mode()&fs.ModeSymlink != 0:
			kind = "symbolic link"
		case st.Size() == 0:
			kind = "regular empty file"
		}
		u, g, _ := strings.Cut(n.owner(p), ":")
		out := format
		for k, v := range map[string]string{
			"%a": strconv.FormatUint(uint64(unixPerm(st.Mode())), 8), "%U": u, "%G": g, "%u": simID(u), "%g": simID(g),
			"%s": strconv.FormatInt(st.Size(), 10), "%Y": strconv.FormatInt(st.ModTime().Unix(), 10), "%F": kind, "%n": p,
		} {
			out = strings.ReplaceAll(out, k, v)
		}
		fmt.Fprintln(e.Stdout, out)
	}
	return status
}

// unixPerm is the mode as stat's %a prints it, special bits included.
func unixPerm(m fs.FileMode) uint32 {
	p := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		p |= 04000
	}
	if m&fs.ModeSetgid != 0 {
		p |= 02000
	}
	if m&fs.ModeSticky != 0 {
		p |= 01000
	}
	return p
}

// simID is the id a simulated node gives a user or group name: root is 0,
// the packaging's users and groups system ids (as useradd -r and
// groupadd -r pick them: opscode, 1.x's opscode-pgsql and opscode-nagios),
// any other name an ordinary one.
func simID(name string) string {
	if id, ok := simKnownID(name); ok {
		return id
	}
	return "1000"
}

// simKnownID is the id of a name every simulated node has, false for
// any other: chown refuses those, as on a node without that user.
func simKnownID(name string) (string, bool) {
	switch name {
	case "root":
		return "0", true
	case "opscode":
		return "498", true
	case "opscode-pgsql":
		return "497", true
	case "opscode-nagios":
		return "496", true
	}
	return "", false
}

// simName is the name of a simulated id (simKnownID's inverse), the id
// itself when no name has it.
func simName(id uint32) string {
	for _, name := range []string{"root", "opscode", "opscode-pgsql", "opscode-nagios"} {
		if known, _ := simKnownID(name); known == strconv.FormatUint(uint64(id), 10) {
			return name
		}
	}
	return strconv.FormatUint(uint64(id), 10)
}

func (n *Node) owner(p string) string {
	o, _ := n.Owner(p)
	return o
}

func (n *Node) df(argv []string, e shellIO) int {
	if len(argv) == 4 && argv[1] == "-P" && argv[2] == "-k" {
		return n.dfData(argv[3], e)
	}
	if len(argv) < 3 || (argv[1] != "-P" && argv[1] != "-Pi") {
		return notEmulated(argv, e)
	}
	if argv[1] == "-P" {
		fmt.Fprintln(e.Stdout, "Filesystem     1024-blocks     Used Available Capacity Mounted on")
		if n.diskFull {
			fmt.Fprintln(e.Stdout, "/dev/sda3         20511356 20511356         0     100% /var/log")
		} else {
			fmt.Fprintln(e.Stdout, "/dev/sda3         20511356  4102271  15344121      22% /var/log")
		}
		return 0
	}
	fmt.Fprintln(e.Stdout, "Filesystem      Inodes  IUsed   IFree IUse% Mounted on")
	fmt.Fprintln(e.Stdout, "/dev/sda3      1310720  48211 1262509    4% /var/log")
	return 0
}

// find DIR -mindepth 1 -maxdepth 1 -printf FORMAT (runit.LinkFormat).
func (n *Node) find(argv []string, e shellIO) int {
	if len(argv) != 8 || argv[2] != "-mindepth" || argv[4] != "-maxdepth" || argv[6] != "-printf" {
		return notEmulated(argv, e)
	}
	dir := argv[1]
	ents, err := n.files.ReadDir(dir) // sorted by name, as find's output is sorted here
	if err != nil {
		fmt.Fprintf(e.Stderr, "find: '%s': No such file or directory\n", dir)
		return 1
	}
	for _, en := range ents {
		name, full := en.Name(), path.Join(dir, en.Name())
		kind, target, tkind := "f", "", "f"
		switch {
		case en.IsDir():
			kind, tkind = "d", "d"
		case en.Type()&fs.ModeSymlink != 0:
			kind = "l"
			target, _ = n.files.Readlink(full)
			tst, err := n.files.Stat(full)
			switch {
			case err != nil:
				tkind = "N"
			case tst.IsDir():
				tkind = "d"
			}
		}
		out := strings.NewReplacer("%f", name, "%y", kind, "%l", target, "%Y", tkind, `\t`, "\t", `\n`, "\n").Replace(argv[7])
		fmt.Fprint(e.Stdout, out)
	}
	return 0
}

// date is `date +%s`, on the node's clock.
func (n *Node) date(argv []string, e shellIO) int {
	if len(argv) != 2 || argv[1] != "+%s" {
		return notEmulated(argv, e)
	}
	fmt.Fprintln(e.Stdout, n.Now().Unix())
	return 0
}

// uname is `uname -m`: x86_64 unless a knob made the node another.
func (n *Node) uname(argv []string, e shellIO) int {
	if len(argv) == 2 && argv[1] == "-n" {
		// The node name, which DRBD matches its on sections against.
		fmt.Fprintln(e.Stdout, n.Hostname())
		return 0
	}
	if len(argv) != 2 || argv[1] != "-m" {
		return notEmulated(argv, e)
	}
	machine := "x86_64"
	if b, err := n.files.ReadFile(ecmodel.MachinePath); err == nil {
		machine = strings.TrimSpace(string(b))
	}
	fmt.Fprintln(e.Stdout, machine)
	return 0
}

func (n *Node) test(argv []string, e shellIO) int {
	if len(argv) != 3 || argv[1] != "-e" {
		return notEmulated(argv, e)
	}
	if _, err := n.files.Lstat(argv[2]); err != nil {
		return 1
	}
	return 0
}

// tail -n N FILE and tail -c N FILE.
func (n *Node) tail(argv []string, e shellIO) int {
	if len(argv) != 4 || argv[1] != "-n" && argv[1] != "-c" {
		return notEmulated(argv, e)
	}
	k, err := strconv.Atoi(argv[2])
	if err != nil {
		return notEmulated(argv, e)
	}
	b, err := n.files.ReadFile(argv[3])
	if err != nil {
		fmt.Fprintf(e.Stderr, "tail: cannot open '%s' for reading: No such file or directory\n", argv[3])
		return 1
	}
	if argv[1] == "-c" {
		e.Stdout.Write(b[max(0, len(b)-k):])
		return 0
	}
	lines := strings.SplitAfter(string(b), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	fmt.Fprint(e.Stdout, strings.Join(lines[max(0, len(lines)-k):], ""))
	return 0
}

// ip -o -4 addr show: the node's addresses, the VIP on eth0 when it holds it.
func (n *Node) ip(argv []string, e shellIO) int {
	if strings.Join(argv[1:], " ") != "-o -4 addr show" {
		return notEmulated(argv, e)
	}
	fmt.Fprintln(e.Stdout, "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever")
	fmt.Fprintln(e.Stdout, "2: eth0    inet 192.168.4.250/24 brd 192.168.4.255 scope global eth0\\       valid_lft forever preferred_lft forever")
	if n.hasVIP && n.VIP != "" {
		fmt.Fprintf(e.Stdout, "2: eth0    inet %s/24 scope global secondary eth0\\       valid_lft forever preferred_lft forever\n", n.VIP)
	}
	return 0
}

// printf FORMAT ARG…, for %s, %d, %% and the escapes \n and \t.
func (n *Node) printf(argv []string, e shellIO) int {
	if len(argv) < 2 {
		return notEmulated(argv, e)
	}
	format, args := argv[1], argv[2:]
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		switch {
		case c == '\\' && i+1 < len(format):
			i++
			switch format[i] {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			default:
				b.WriteByte(format[i])
			}
		case c == '%' && i+1 < len(format):
			i++
			switch format[i] {
			case '%':
				b.WriteByte('%')
			case 's', 'd':
				if len(args) > 0 {
					b.WriteString(args[0])
					args = args[1:]
				}
			default:
				return notEmulated(argv, e)
			}
		default:
			b.WriteByte(c)
		}
	}
	fmt.Fprint(e.Stdout, b.String())
	return 0
}

package drbd

import (
	"errors"
	"fmt"
	"strings"
)

// ErrUnconfigured is `drbdadm role` or `drbdadm dstate` answering
// "Unconfigured": the resource's minor is StandAlone and Diskless, i.e.
// down (drbdsetup's role_scmd and dstate_scmd). ParseCState returns the
// Unconfigured state instead, as /proc/drbd does.
var ErrUnconfigured = errors.New("drbd: the resource is unconfigured (down): run `drbdadm up` on it, or find out why it was taken down")

// AdmErrorKind is what drbdadm, or the drbdsetup it runs, complained of.
type AdmErrorKind string

const (
	// NotInConfig: "'pc0' not defined in your config (for this host)."
	// (8.4; 8.3 omits the parenthesis): no such resource in
	// /etc/drbd.conf, or no "on <hostname>" section for this host.
	NotInConfig AdmErrorKind = "resource not defined in drbd.conf for this host"
	// MinorNotAllocated: "0: Failure: (127) Device minor not allocated":
	// DRBD 8.4 has no such minor, the resource is down.
	MinorNotAllocated AdmErrorKind = "device minor not allocated (resource down)"
	// UnknownResource: "(158) Unknown resource" from the kernel.
	UnknownResource AdmErrorKind = "resource unknown to the kernel (resource down)"
	// NoSuchResource: "pc0: No such resource", drbd-utils 8.9+ on a DRBD 9
	// kernel.
	NoSuchResource AdmErrorKind = "no such resource"
	// ModuleNotLoaded: "do you need to load the module?" / "try: modprobe
	// drbd", or "Could not connect to 'drbd' generic netlink family".
	ModuleNotLoaded AdmErrorKind = "drbd kernel module not loaded"
	// CommandFailed: "Command 'drbdsetup role 0' terminated with exit code
	// 10" (or "did not terminate within N seconds") without a more
	// specific line.
	CommandFailed AdmErrorKind = "drbdsetup failed"
)

// AdmError is drbdadm refusing a status query. Line is the line that
// says why, as printed.
type AdmError struct {
	Cmd  string // "role", "cstate" or "dstate"
	Kind AdmErrorKind
	Line string
}

func (e *AdmError) Error() string {
	fix := ""
	switch e.Kind {
	case NotInConfig:
		fix = ": check /etc/drbd.conf (on Enterprise Chef a link to /var/opt/opscode/drbd/etc/drbd.conf) and that its 'on' sections name this host's `uname -n`"
	case MinorNotAllocated, UnknownResource, NoSuchResource:
		fix = ": bring it up with `drbdadm up` once you know why it is down"
	case ModuleNotLoaded:
		fix = ": `modprobe drbd`, then `drbdadm up`"
	}
	return fmt.Sprintf("drbdadm %s: %s%s (%q)", e.Cmd, e.Kind, fix, e.Line)
}

// ParseRole reads `drbdadm role RES`: "Primary/Secondary", this node's
// role first. DRBD 8.3 and 8.4 print both roles; a bare "Primary" is
// DRBD 9's answer and an error here.
func ParseRole(out []byte) (local, peer Role, err error) {
	line, err := admLine("role", out)
	if err != nil {
		return "", "", err
	}
	a, b, ok := strings.Cut(line, "/")
	local, peer = Role(a), Role(b)
	if !ok || !local.Valid() || !peer.Valid() {
		return "", "", fmt.Errorf("drbdadm role: %q is not ROLE/PEER-ROLE (Primary, Secondary or Unknown)", line)
	}
	return local, peer, nil
}

// ParseCState reads `drbdadm cstate RES`: one connection state, or
// "Unconfigured" (returned as the Unconfigured state).
func ParseCState(out []byte) (ConnState, error) {
	line, err := admLine("cstate", out)
	if err != nil {
		return "", err
	}
	if c := ConnState(line); c.Valid() {
		return c, nil
	}
	return "", fmt.Errorf("drbdadm cstate: %q is not a DRBD connection state", line)
}

// ParseDState reads `drbdadm dstate RES`: "UpToDate/UpToDate", this
// node's disk first.
func ParseDState(out []byte) (local, peer DiskState, err error) {
	line, err := admLine("dstate", out)
	if err != nil {
		return "", "", err
	}
	a, b, ok := strings.Cut(line, "/")
	local, peer = DiskState(a), DiskState(b)
	if !ok || !local.Valid() || !peer.Valid() {
		return "", "", fmt.Errorf("drbdadm dstate: %q is not DISK/PEER-DISK", line)
	}
	return local, peer, nil
}

// admLine returns the one line drbdadm printed, or the error its output
// (stdout and stderr together, in any order) reports.
func admLine(cmd string, out []byte) (string, error) {
	var lines []string
	var generic *AdmError
	for l := range strings.SplitSeq(string(out), "\n") {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if k := admErrorKind(l); k == CommandFailed {
			if generic == nil {
				generic = &AdmError{Cmd: cmd, Kind: k, Line: l}
			}
		} else if k != "" {
			return "", &AdmError{Cmd: cmd, Kind: k, Line: l}
		}
		lines = append(lines, l)
	}
	switch {
	case generic != nil:
		return "", generic
	case len(lines) == 0:
		return "", fmt.Errorf("drbdadm %s printed nothing", cmd)
	case len(lines) > 1:
		return "", fmt.Errorf("drbdadm %s printed %d lines, want one (a resource with several volumes, or a warning?): %q", cmd, len(lines), strings.Join(lines, " | "))
	case lines[0] == "Unconfigured" && cmd != "cstate":
		return "", ErrUnconfigured
	}
	return lines[0], nil
}

// admErrorKind classifies one line of drbdadm/drbdsetup output; "" is not
// an error line. The texts are drbdadm_main.c and drbdsetup.c's (LINBIT/drbd
// drbd-8.4.3, user/ and user/legacy/ for 8.3; drbd-utils v8.9.0).
func admErrorKind(l string) AdmErrorKind {
	switch {
	case strings.Contains(l, "not defined in your config"):
		return NotInConfig
	case strings.HasSuffix(l, "Device minor not allocated"):
		return MinorNotAllocated
	case strings.HasSuffix(l, ") Unknown resource"):
		return UnknownResource
	case strings.HasSuffix(l, ": No such resource"):
		return NoSuchResource
	case l == "do you need to load the module?", l == "try: modprobe drbd",
		l == "Could not connect to 'drbd' generic netlink family":
		return ModuleNotLoaded
	case strings.HasPrefix(l, "Command '") &&
		(strings.Contains(l, "' terminated with exit code ") || strings.Contains(l, "' did not terminate within ")):
		return CommandFailed
	}
	return ""
}

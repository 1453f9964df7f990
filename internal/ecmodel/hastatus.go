package ecmodel

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// HAStatus is `private-chef-ctl ha-status` (private-chef-ctl-commands/ha.rb
// at 11.1.8; 1.4.6 and 11.0.2 differ in one message and in how they find
// the HA services). Early exits print no verdict and exit 1; otherwise
// codes are set in the order 2, 3, 8, 4, 5, 6, 7 and the last one wins.
func (n *Node) HAStatus(ctx context.Context, io IO) int {
	out := func(s string) { fmt.Fprintln(io.Stdout, s) }
	var rc running
	b, err := n.H.ReadFile(RunningJSON)
	if err != nil || json.Unmarshal(b, &rc) != nil {
		out("[ERROR] cannot check HA status if you haven't completed a reconfigure")
		return 1
	}
	p := rc.PrivateChef
	if !p.Keepalived.Enable {
		out("[ERROR] keepalived HA services not enabled, please configure keepalived according to documentation.")
		return 1
	}
	out("[OK] keepalived HA services enabled.")
	if !p.DRBD.Enable {
		out("[ERROR] DRBD disk replication services not enabled, please configure DRBD according to documentation.")
		return 1
	}
	out("[OK] DRBD disk replication enabled.")
	for _, f := range []struct{ what, path string }{{"partition", p.DRBD.Disk}, {"device", p.DRBD.Device}} {
		if _, err := n.H.Stat(f.path); err != nil {
			out(fmt.Sprintf("[ERROR] DRBD %s %s not found, please FIXME.", f.what, f.path))
			return 1
		}
		out(fmt.Sprintf("[OK] DRBD %s %s found.", f.what, f.path))
	}
	code := 0
	// ha.rb File.reads both status files: a missing one raises, and Ruby
	// exits 1 with the uncaught Errno::ENOENT, no verdict.
	for _, f := range []string{RequestedPath, CurrentPath} {
		if _, err := n.H.ReadFile(f); err != nil {
			fmt.Fprintf(io.Stderr, "ha.rb: No such file or directory - %s (Errno::ENOENT)\n", f)
			return 1
		}
	}
	req, cur := n.Status(RequestedPath), n.Status(CurrentPath)
	master := cur == "master"
	if req != cur {
		out(fmt.Sprintf("[WARN] inconsistent cluster status, requested: %s, current: %s, failover running?", req, cur))
		code = 2
	} else {
		out("[OK] cluster status = " + cur)
	}
	addrs, _ := n.H.Addresses(p.Keepalived.Dev)
	// ha.rb matches `ip a show dev DEV` against the VIP as an unescaped,
	// unanchored regular expression (the stricter OC-11499 pattern is in
	// the 11.1.7+ changelogs but not in their ha.rb): its dots match any
	// character, and a VIP that is no valid pattern raises.
	vip, err := regexp.Compile(p.Keepalived.IPAddress)
	if err != nil {
		fmt.Fprintf(io.Stderr, "ha.rb: %v (RegexpError)\n", err)
		return 1
	}
	hasVIP := vip.MatchString(addrs)
	switch {
	case hasVIP && master:
		out("[OK] found VIP IP address and I am master")
	case hasVIP:
		out("[ERROR] found VRRP address and I am not master")
		code = 3
	case master:
		out("[ERROR] did not find VIP IP address and I am master")
		code = 3
	default:
		out("[OK] did not find VIP IP address and I am not master")
	}
	if _, ok := n.H.Addresses(p.Keepalived.Interface); ok {
		out("[OK] found VRRP communications interface " + p.Keepalived.Interface)
	} else if n.Installed.Version >= "11.1" {
		out("[ERROR] VRRP communications interface " + p.Keepalived.Interface + " not found.")
		code = 8
	} else {
		out("[ERROR] VRRP communications interface " + p.Keepalived.Interface + " not found, is heartbeat_device set correctly in private-chef.rb?")
		code = 8
	}
	proc, _ := n.H.ReadFile("/proc/drbd")
	drbd := ""
	for _, l := range strings.Split(string(proc), "\n") {
		if strings.Contains(l, "cs:") { // `cat /proc/drbd | egrep cs:`
			drbd = l
		}
	}
	switch {
	case master && strings.Contains(drbd, "cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate"):
		out("[OK] my DRBD status is Connected/Primary/UpToDate and I am master")
	case master:
		out("[ERROR] my DRBD status is: " + drbd)
		code = 4
	case strings.Contains(drbd, "cs:Connected ro:Secondary/Primary ds:UpToDate/UpToDate"):
		out("[OK] my DRBD status is Connected/Secondary/UpToDate and I am not master")
	default:
		out("[ERROR] my DRBD status is " + drbd)
		code = 4
	}
	mounts, _ := n.H.ReadFile("/proc/mounts")
	mounted := false
	for _, l := range strings.Split(string(mounts), "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[1] == p.DRBD.DataDir {
			mounted = true
		}
	}
	switch {
	case master && mounted:
		out("[OK] my DRBD partition is mounted and I am master")
	case master:
		out("[ERROR] my DRBD partition is not mounted and I am master")
		code = 5
	case mounted:
		out("[ERROR] my DRBD partition is mounted and I am not master")
		code = 5
	default:
		out("[OK] my DRBD partition is not mounted and I am not master")
	}
	for _, pr := range []struct{ which, ip string }{{"primary", p.DRBD.Primary.IP}, {"secondary", p.DRBD.Secondary.IP}} {
		if n.H.Ping(pr.ip) {
			out("[OK] DRBD " + pr.which + " IP address pings")
		} else {
			out("[ERROR] DRBD " + pr.which + " IP address does not ping")
			code = 6
		}
	}
	ha := n.haServices()
	if attr, ok := n.Installed.haStatusByAttribute(); ok {
		ha = attr
	}
	for _, s := range n.svNames() {
		if !n.linked(s) {
			continue
		}
		_, st := n.H.Sv(ctx, "status", s, 0, true)
		up := st == 0
		switch isHA := contains(ha, s); {
		case isHA && master && up:
			out("[OK] " + s + " is running correctly, and I am master.")
		case isHA && master:
			out("[ERROR] " + s + " is not running correctly, and I am master. ")
			code = 7
		case isHA && up:
			out("[ERROR] " + s + " is running, and I am not master.")
			code = 7
		case isHA:
			out("[OK] " + s + " is not running, and I am not master.")
		case up:
			out("[OK] " + s + " is running.")
		default:
			out("[ERROR] " + s + " is not running.")
			code = 7
		}
	}
	if code != 0 {
		fmt.Fprint(io.Stdout, "\n[ERROR] ERRORS WERE DETECTED.\n\n")
	} else {
		fmt.Fprint(io.Stdout, "\n[OK] all checks passed.\n\n")
	}
	return code
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

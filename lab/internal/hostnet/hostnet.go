// Package hostnet reads which networks a Linux host already uses, from
// iproute2's own listings (`ip -o addr show`, `ip route show table all`),
// so that a lab picks a subnet that no interface holds and no route
// reaches.
package hostnet

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/netip"
	"os/exec"
	"strings"
)

// ParseError reports a line of ip's output that could not be read.
type ParseError struct {
	What string // "ip -o addr" or "ip route"
	Line int    // 1-based
	Text string
	Err  string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("%s line %d: %s: %q", e.What, e.Line, e.Err, e.Text)
}

// ParseAddrs reads `ip -o addr show`: one address a line, "IDX: IFNAME
// FAMILY ADDR/LEN …". It returns the network of every inet and inet6
// address (192.0.2.2/24 gives 192.0.2.0/24).
func ParseAddrs(r io.Reader) ([]netip.Prefix, error) {
	var out []netip.Prefix
	err := eachLine(r, func(n int, line string) error {
		f := strings.Fields(line)
		if len(f) == 0 {
			return nil
		}
		if len(f) < 4 || !strings.HasSuffix(f[0], ":") {
			return &ParseError{What: "ip -o addr", Line: n, Text: line, Err: "want IDX: IFNAME FAMILY ADDRESS/LEN"}
		}
		if f[2] != "inet" && f[2] != "inet6" {
			return nil
		}
		p, err := netip.ParsePrefix(f[3])
		if err != nil {
			return &ParseError{What: "ip -o addr", Line: n, Text: line, Err: err.Error()}
		}
		out = append(out, p.Masked())
		return nil
	})
	return out, err
}

// routeTypes are the words `ip route` may put before a destination
// (ip-route(8), "TYPE").
var routeTypes = map[string]bool{"unicast": true, "local": true, "broadcast": true, "multicast": true, "throw": true,
	"unreachable": true, "prohibit": true, "blackhole": true, "nat": true, "anycast": true}

// ParseRoutes reads `ip route show` (any table, either family): the
// destination of every route, a bare address read as a host route. Default
// routes are left out (they reach everything: a lab's own route is more
// specific, and so is 0.0.0.0/0), and so are a multipath route's indented nexthop lines.
func ParseRoutes(r io.Reader) ([]netip.Prefix, error) {
	var out []netip.Prefix
	err := eachLine(r, func(n int, line string) error {
		if strings.TrimSpace(line) == "" || line[0] == ' ' || line[0] == '\t' {
			return nil
		}
		f := strings.Fields(line)
		dst := f[0]
		if routeTypes[dst] {
			if len(f) < 2 {
				return &ParseError{What: "ip route", Line: n, Text: line, Err: "a route type without a destination"}
			}
			dst = f[1]
		}
		if dst == "default" {
			return nil
		}
		p, err := parseDest(dst)
		if err != nil {
			return &ParseError{What: "ip route", Line: n, Text: line, Err: err.Error()}
		}
		if p.Bits() > 0 { // 0.0.0.0/0 and ::/0 are "default" spelt out
			out = append(out, p)
		}
		return nil
	})
	return out, err
}

func parseDest(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func eachLine(r io.Reader, f func(n int, line string) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		if err := f(n, strings.TrimRight(sc.Text(), "\r")); err != nil {
			return err
		}
	}
	return sc.Err()
}

// Used returns every network the host's interfaces hold or its routes
// reach, by running ip.
func Used(ctx context.Context) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, c := range []struct {
		args  []string
		parse func(io.Reader) ([]netip.Prefix, error)
	}{
		{[]string{"-o", "addr", "show"}, ParseAddrs},
		{[]string{"route", "show", "table", "all"}, ParseRoutes},
	} {
		b, err := exec.CommandContext(ctx, "ip", c.args...).Output()
		if err != nil {
			return nil, fmt.Errorf("ip %s: %w", strings.Join(c.args, " "), err)
		}
		ps, err := c.parse(bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		out = append(out, ps...)
	}
	return out, nil
}

// Overlap returns the first of used that shares an address with p.
func Overlap(p netip.Prefix, used []netip.Prefix) (netip.Prefix, bool) {
	for _, u := range used {
		if u.Overlaps(p) {
			return u, true
		}
	}
	return netip.Prefix{}, false
}

package cluster

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// checkHostName says why s is not a host name: RFC 1123 labels (letters,
// digits and hyphens, 1–63 of them, not starting or ending with a hyphen)
// joined by dots, 253 characters at most. A server's name is how chefha
// reaches it and what it prints, so nothing else may hide in it: no user@,
// no :port, no path, space or control character.
func checkHostName(s string) error {
	const want = "a host name is letters, digits and hyphens in dot-separated labels"
	switch {
	case s == "":
		return errors.New(`"" is not a host name`)
	case len(s) > 253:
		return fmt.Errorf("host name of %d characters (at most 253)", len(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '.':
		case c < 0x20 || c == 0x7f:
			return fmt.Errorf("%q is not a host name: it holds a control character (%q); %s", s, c, want)
		case c >= 0x80:
			return fmt.Errorf("%q is not a host name: non-ASCII characters (write an IDN in its xn-- form); %s", s, want)
		default:
			return fmt.Errorf("%q is not a host name: %q is not allowed; %s", s, c, want)
		}
	}
	for _, l := range strings.Split(s, ".") {
		switch {
		case l == "":
			return fmt.Errorf("%q is not a host name: empty label (a leading, trailing or doubled dot)", s)
		case len(l) > 63:
			return fmt.Errorf("%q is not a host name: label %q is longer than 63 characters", s, l)
		case l[0] == '-' || l[len(l)-1] == '-':
			return fmt.Errorf("%q is not a host name: label %q starts or ends with a hyphen", s, l)
		}
	}
	return nil
}

// checkAddress says why s is not an IP address. With prefixOK it may
// carry a prefix length ("192.168.4.7/24"), as backend_vip's may.
func checkAddress(s string, prefixOK bool) error {
	if strings.Contains(s, "/") {
		if !prefixOK {
			return fmt.Errorf("%q: a server's address takes no prefix length (private-chef.rb gives it to keepalived and DRBD as written; only backend_vip's :ipaddress may be addr/NN)", s)
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return fmt.Errorf("%q is not an IP address with a prefix length (like 192.168.4.7/24): %v", s, err)
		}
		if p.Addr().Zone() != "" {
			return fmt.Errorf("%q: an address with a zone (%%%s) is not supported", s, p.Addr().Zone())
		}
		return nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return fmt.Errorf("%q is not an IP address", s)
	}
	if a.Zone() != "" {
		return fmt.Errorf("%q: an address with a zone (%%%s) is not supported", s, a.Zone())
	}
	return nil
}

// checkServer checks what a server entry says, wherever it came from.
func checkServer(s Server) error {
	if err := checkHostName(s.Name); err != nil {
		return fmt.Errorf("server name %w", err)
	}
	switch s.Role {
	case RoleBackend, RoleFrontend:
	case "":
		return fmt.Errorf("server %q has no role (want backend or frontend)", s.Name)
	default:
		return fmt.Errorf("server %q: unknown role %q (want backend or frontend)", s.Name, s.Role)
	}
	if s.Bootstrap && s.Role != RoleBackend {
		return fmt.Errorf("server %q: only a back end can be the bootstrap", s.Name)
	}
	if s.IPAddress != "" {
		if err := checkAddress(s.IPAddress, false); err != nil {
			return fmt.Errorf("server %q: :ipaddress %w", s.Name, err)
		}
	}
	if s.ClusterIPAddress != "" {
		if err := checkAddress(s.ClusterIPAddress, false); err != nil {
			return fmt.Errorf("server %q: :cluster_ipaddress %w", s.Name, err)
		}
	}
	return nil
}

// checkVIP checks the backend_vip entry.
func checkVIP(v VIP) error {
	if err := checkHostName(v.Name); err != nil {
		return fmt.Errorf("backend_vip name %w", err)
	}
	if v.IPAddress != "" {
		if err := checkAddress(v.IPAddress, true); err != nil {
			return fmt.Errorf("backend_vip %q: :ipaddress %w", v.Name, err)
		}
	}
	return nil
}

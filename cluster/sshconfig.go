package cluster

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/kevinburke/ssh_config"
)

// LoadSSHConfig resolves alias the way `ssh alias` would, from an OpenSSH
// client config file (default ~/.ssh/config when file is ""): HostName,
// User, Port, IdentityFile, UserKnownHostsFile, StrictHostKeyChecking
// (yes or accept-new; "no" is refused, use InsecureIgnoreHostKey knowingly)
// and ProxyJump, whose hops are resolved through the same file and may chain.
// A ProxyCommand is refused: it would be ignored.
//
// alias is a host name or an IP address, matched against the file's Host
// lines; unlike ssh's command line it never carries a user@ or a :port
// (those come from User and Port lines, or SSHConfig's fields), so a
// name from private-chef.rb cannot choose who logs in or where.
func LoadSSHConfig(file, alias string) (SSHConfig, error) {
	if err := checkAlias(alias); err != nil {
		return SSHConfig{}, fmt.Errorf("ssh config: %w", err)
	}
	cfg, file, err := readSSHConfig(file)
	if err != nil {
		return SSHConfig{}, err
	}
	return resolveAlias(cfg, file, "", alias, 0, 0)
}

// readSSHConfig parses an OpenSSH client config file (default
// ~/.ssh/config); a missing file gives an error matching fs.ErrNotExist.
func readSSHConfig(file string) (*ssh_config.Config, string, error) {
	if file == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, "", err
		}
		file = filepath.Join(home, ".ssh", "config")
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, file, fmt.Errorf("ssh config: %w", err)
	}
	defer f.Close()
	cfg, err := ssh_config.Decode(f)
	if err != nil {
		return nil, file, fmt.Errorf("ssh config %s: %w", file, err)
	}
	return cfg, file, nil
}

// checkAlias says why alias is neither a host name nor an IP address.
func checkAlias(alias string) error {
	if _, err := netip.ParseAddr(alias); err == nil {
		return nil
	}
	if err := checkHostName(alias); err != nil {
		return fmt.Errorf("%w (give a login user as SSHConfig.User or a User line, a port as Port)", err)
	}
	return nil
}

// namedIn reports whether a Host (or Match host) line of cfg names host
// by more than a bare "*": whether the file says how to reach it.
func namedIn(cfg *ssh_config.Config, host string) bool {
	for _, h := range cfg.Hosts {
		if !h.Matches(host) {
			continue
		}
		for _, p := range h.Patterns {
			if ps := p.String(); ps != "*" && !strings.HasPrefix(ps, "!") {
				return true
			}
		}
	}
	return false
}

// maxJumpDepth stops ProxyJump loops (a → b → a).
const maxJumpDepth = 8

// parseHop reads a ProxyJump hop: [user@]host[:port], host a name, an IP
// address or a [bracketed] IPv6 address.
func parseHop(hop string) (user, host string, port int, err error) {
	host = hop
	if u, h, ok := strings.Cut(host, "@"); ok {
		user, host = u, h
		if user == "" || strings.ContainsFunc(user, func(r rune) bool { return r <= ' ' || r == 0x7f || strings.ContainsRune("@:/", r) }) {
			return "", "", 0, fmt.Errorf("ProxyJump hop %q: bad user name", hop)
		}
	}
	if h, p, serr := net.SplitHostPort(host); serr == nil {
		n, perr := strconv.Atoi(p)
		if perr != nil || n <= 0 || n > 65535 {
			return "", "", 0, fmt.Errorf("ProxyJump hop %q: bad port", hop)
		}
		host, port = h, n
	}
	if err := checkAlias(host); err != nil {
		return "", "", 0, fmt.Errorf("ProxyJump hop %q: %w", hop, err)
	}
	return user, host, port, nil
}

func resolveAlias(cfg *ssh_config.Config, file, user, host string, port, depth int) (SSHConfig, error) {
	if depth > maxJumpDepth {
		return SSHConfig{}, fmt.Errorf("ssh config %s: ProxyJump chain deeper than %d at %s (a loop?)", file, maxJumpDepth, host)
	}
	get := func(key string) string {
		v, _ := cfg.Get(host, key)
		return v
	}
	out := SSHConfig{Name: host, Host: host, User: user, Port: port}
	bad := func(err error) (SSHConfig, error) {
		return SSHConfig{}, fmt.Errorf("ssh config %s: Host %s: %w", file, host, err)
	}
	if v := get("HostName"); v != "" {
		h, err := expandTokens(v, "HostName", "h", map[byte]string{'h': host})
		if err != nil {
			return bad(err)
		}
		if err := checkAlias(h); err != nil {
			return bad(fmt.Errorf("HostName %w", err))
		}
		out.Host = h
	}
	if out.User == "" {
		out.User = get("User")
	}
	if out.Port == 0 {
		if v := get("Port"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 || n > 65535 {
				return bad(fmt.Errorf("bad Port %q", v))
			}
			out.Port = n
		}
	}
	tk := clientTokens(host, out)
	paths := func(keyword string, values []string) ([]string, error) {
		var res []string
		for _, v := range values {
			p, err := expandPath(v, keyword, tk)
			if err != nil {
				return nil, err
			}
			res = append(res, p)
		}
		return res, nil
	}
	var err error
	ids, _ := cfg.GetAll(host, "IdentityFile")
	if out.IdentityFiles, err = paths("IdentityFile", ids); err != nil {
		return bad(err)
	}
	certs, _ := cfg.GetAll(host, "CertificateFile")
	if out.CertificateFiles, err = paths("CertificateFile", certs); err != nil {
		return bad(err)
	}
	if v := get("UserKnownHostsFile"); v != "" {
		if out.KnownHostsFiles, err = paths("UserKnownHostsFile", strings.Fields(v)); err != nil {
			return bad(err)
		}
	}
	switch strings.ToLower(get("StrictHostKeyChecking")) {
	case "", "yes", "ask":
	case "accept-new":
		out.HostKeyPolicy = HostKeyAcceptNew
	default:
		return SSHConfig{}, fmt.Errorf("ssh config %s: Host %s: StrictHostKeyChecking %s is not honoured: chefha checks host keys (use yes or accept-new)", file, host, get("StrictHostKeyChecking"))
	}
	// A ProxyCommand ignored would connect straight to a host the file
	// says to reach another way: past a bastion, or to a different host.
	if v := get("ProxyCommand"); v != "" && !strings.EqualFold(v, "none") {
		return bad(fmt.Errorf("ProxyCommand is not supported: chefha's SSH client runs no command to reach a host (say ProxyJump, which it follows, or ProxyCommand none)"))
	}
	if v := get("IdentityAgent"); v != "" && v != "SSH_AUTH_SOCK" {
		if strings.EqualFold(v, "none") {
			out.NoAgent = true
		} else if out.AgentSocket, err = expandPath(v, "IdentityAgent", tk); err != nil {
			return bad(err)
		}
	}
	if v := get("ProxyJump"); v != "" && !strings.EqualFold(v, "none") {
		if v, err = expandTokens(v, "ProxyJump", "hnpr", tk); err != nil {
			return bad(err)
		}
		for _, hop := range strings.Split(v, ",") {
			hu, hh, hp, err := parseHop(strings.TrimSpace(hop))
			if err != nil {
				return bad(err)
			}
			h, err := resolveAlias(cfg, file, hu, hh, hp, depth+1)
			if err != nil {
				return SSHConfig{}, err
			}
			// A hop with its own ProxyJump is reached through that first.
			out.ProxyJump = append(out.ProxyJump, h.ProxyJump...)
			h.ProxyJump = nil
			out.ProxyJump = append(out.ProxyJump, h)
		}
	}
	return out, nil
}

// ServerConfigs returns how to reach each server of a topology, the usual
// argument to Dial. A server is reached
//
//  1. by its name, as `ssh NAME` would, when a Host (or Match host) line of
//     the OpenSSH config file (default ~/.ssh/config) names it by more than
//     a bare "*": its HostName, User, Port, keys and ProxyJump apply;
//  2. otherwise at its :ipaddress from private-chef.rb, with what the file
//     says for that address (Host * defaults, Host 192.168.4.* lines);
//  3. otherwise, with no address, by its name through DNS.
//
// A missing config file is not an error: rules 2 and 3 apply alone. The
// name is only ever matched as a host name: one that is not (say
// "deploy@10.0.0.9:2222") is an error, never a login user or port.
// acceptNew opts into recording unknown host keys (never changed ones).
func ServerConfigs(file string, acceptNew bool) func(Server) (SSHConfig, error) {
	return func(s Server) (SSHConfig, error) {
		if err := checkHostName(s.Name); err != nil {
			return SSHConfig{}, fmt.Errorf("server name %w", err)
		}
		conf, path, err := readSSHConfig(file)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return SSHConfig{}, fmt.Errorf("%s: %w", s.Name, err)
		}
		alias := s.Name
		if s.IPAddress != "" && (conf == nil || !namedIn(conf, s.Name)) {
			alias = s.Host()
			if err := checkAlias(alias); err != nil {
				return SSHConfig{}, fmt.Errorf("%s: :ipaddress %w", s.Name, err)
			}
		}
		cfg := SSHConfig{Host: alias}
		if conf != nil {
			if cfg, err = resolveAlias(conf, path, "", alias, 0, 0); err != nil {
				return SSHConfig{}, fmt.Errorf("%s: %w", s.Name, err)
			}
		}
		cfg.Name = s.Name
		if acceptNew {
			cfg.HostKeyPolicy = HostKeyAcceptNew
		}
		return cfg, nil
	}
}

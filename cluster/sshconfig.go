package cluster

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
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
func LoadSSHConfig(file, alias string) (SSHConfig, error) {
	if file == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return SSHConfig{}, err
		}
		file = filepath.Join(home, ".ssh", "config")
	}
	f, err := os.Open(file)
	if err != nil {
		return SSHConfig{}, fmt.Errorf("ssh config: %w", err)
	}
	defer f.Close()
	cfg, err := ssh_config.Decode(f)
	if err != nil {
		return SSHConfig{}, fmt.Errorf("ssh config %s: %w", file, err)
	}
	return resolveAlias(cfg, file, alias, 0)
}

// maxJumpDepth stops ProxyJump loops (a → b → a).
const maxJumpDepth = 8

func resolveAlias(cfg *ssh_config.Config, file, alias string, depth int) (SSHConfig, error) {
	if depth > maxJumpDepth {
		return SSHConfig{}, fmt.Errorf("ssh config %s: ProxyJump chain deeper than %d at %s (a loop?)", file, maxJumpDepth, alias)
	}
	// "user@host:port" as ProxyJump hops are written.
	user, host, port := "", alias, 0
	if u, h, ok := strings.Cut(host, "@"); ok {
		user, host = u, h
	}
	if h, p, err := net.SplitHostPort(host); err == nil {
		n, err := strconv.Atoi(p)
		if err != nil {
			return SSHConfig{}, fmt.Errorf("ssh config: bad port in %q", alias)
		}
		host, port = h, n
	}
	get := func(key string) string {
		v, _ := cfg.Get(host, key)
		return v
	}
	out := SSHConfig{Name: host, Host: host, User: user, Port: port}
	if v := get("HostName"); v != "" {
		out.Host = strings.ReplaceAll(v, "%h", host)
	}
	if out.User == "" {
		out.User = get("User")
	}
	if out.Port == 0 {
		if v := get("Port"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return SSHConfig{}, fmt.Errorf("ssh config %s: Host %s: bad Port %q", file, host, v)
			}
			out.Port = n
		}
	}
	ids, _ := cfg.GetAll(host, "IdentityFile")
	for _, id := range ids {
		out.IdentityFiles = append(out.IdentityFiles, expandTilde(id))
	}
	if v := get("UserKnownHostsFile"); v != "" {
		for _, kh := range strings.Fields(v) {
			out.KnownHostsFiles = append(out.KnownHostsFiles, expandTilde(kh))
		}
	}
	switch strings.ToLower(get("StrictHostKeyChecking")) {
	case "", "yes", "ask":
	case "accept-new":
		out.HostKeyPolicy = HostKeyAcceptNew
	default:
		return SSHConfig{}, fmt.Errorf("ssh config %s: Host %s: StrictHostKeyChecking %s is not honoured: chefha checks host keys (use yes or accept-new)", file, host, get("StrictHostKeyChecking"))
	}
	if v := get("IdentityAgent"); v != "" && v != "SSH_AUTH_SOCK" {
		if strings.EqualFold(v, "none") {
			out.NoAgent = true
		} else {
			out.AgentSocket = expandTilde(v)
		}
	}
	if v := get("ProxyJump"); v != "" && !strings.EqualFold(v, "none") {
		for _, hop := range strings.Split(v, ",") {
			h, err := resolveAlias(cfg, file, strings.TrimSpace(hop), depth+1)
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

func expandTilde(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, p[1:])
		}
	}
	return p
}

// ServerConfigs returns how to reach each server of a topology: by its
// name through the OpenSSH config file (default ~/.ssh/config), or at its
// private-chef.rb address when there is no config file. acceptNew opts
// into recording unknown host keys (never changed ones). It is the usual
// argument to Dial.
func ServerConfigs(file string, acceptNew bool) func(Server) (SSHConfig, error) {
	return func(s Server) (SSHConfig, error) {
		cfg, err := LoadSSHConfig(file, s.Name)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			cfg = SSHConfig{Name: s.Name, Host: s.Host()}
		case err != nil:
			return cfg, err
		}
		if acceptNew {
			cfg.HostKeyPolicy = HostKeyAcceptNew
		}
		return cfg, nil
	}
}

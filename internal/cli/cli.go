// Package cli is what the example commands (examples/preflight,
// examples/upgrade) share: the flags that name a cluster and say how to
// reach it, with one meaning in both, and the terminal they print on. It
// is internal: the commands show how to use the library, they are not an
// API of their own.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/upgrade"
)

// Cluster holds the flags that name a cluster and how it is reached.
type Cluster struct {
	Config            string        // -config: private-chef.rb
	Hosts             string        // -hosts: name=role[:bootstrap],…
	SSHConfig         string        // -ssh-config: OpenSSH client config
	AcceptNewHostKeys bool          // -accept-new-host-keys
	Ignore            string        // -ignore: checks to skip, comma-separated
	Timeout           time.Duration // -timeout: reaching and reading the cluster
}

// Register defines the flags on fl. timeoutDoc says what -timeout bounds
// in the command.
func (c *Cluster) Register(fl *flag.FlagSet, timeoutDoc string) {
	fl.StringVar(&c.Config, "config", "", "private-chef.rb of the cluster (its servers are reached by name through the SSH config)")
	fl.StringVar(&c.Hosts, "hosts", "", "instead of -config: name=role[:bootstrap],… (roles backend, frontend; e.g. be1=backend:bootstrap,be2=backend,fe1=frontend)")
	fl.StringVar(&c.SSHConfig, "ssh-config", "", "OpenSSH client config (default ~/.ssh/config)")
	fl.BoolVar(&c.AcceptNewHostKeys, "accept-new-host-keys", false, "record unknown host keys in known_hosts (never accepts a changed key)")
	fl.StringVar(&c.Ignore, "ignore", "", "pre-flight checks to skip, comma-separated (case-insensitive; all = every non-mandatory check)")
	fl.DurationVar(&c.Timeout, "timeout", 2*time.Minute, timeoutDoc)
}

// Named reports whether a cluster was named (-config or -hosts).
func (c *Cluster) Named() bool { return c.Config != "" || c.Hosts != "" }

// Topology reads -config, or builds the topology from -hosts with
// cluster.ParseHosts: a name holding a blank or a control character is
// refused, never read as another name.
func (c *Cluster) Topology() (cluster.Topology, error) {
	switch {
	case c.Config != "" && c.Hosts != "":
		return cluster.Topology{}, errors.New("give -config or -hosts, not both")
	case c.Hosts != "":
		t, err := cluster.ParseHosts(c.Hosts)
		if err != nil {
			return t, fmt.Errorf("-hosts: %w", err)
		}
		return t, nil
	case c.Config != "":
		f, err := os.Open(c.Config)
		if err != nil {
			return cluster.Topology{}, fmt.Errorf("-config: %w", err)
		}
		defer f.Close()
		return cluster.ParseTopology(f)
	}
	return cluster.Topology{}, errors.New("no cluster named: give -config or -hosts")
}

// Dial reaches every node of the named cluster. As cluster.Dial, it
// returns a usable cluster (to be closed) beside a *cluster.DialError
// naming the nodes it could not reach; a nil cluster means the topology
// itself was refused.
func (c *Cluster) Dial(ctx context.Context) (*cluster.Cluster, error) {
	top, err := c.Topology()
	if err != nil {
		return nil, err
	}
	return cluster.Dial(ctx, top, cluster.ServerConfigs(c.SSHConfig, c.AcceptNewHostKeys))
}

// Reaching is what a command says before Dial: over SSH, a slow or
// unreachable node takes up to the timeout, and an operator must not wait
// that long on a silent terminal.
func (c *Cluster) Reaching() string {
	top, err := c.Topology()
	if err != nil {
		return "" // Dial says why
	}
	return fmt.Sprintf("reaching the %d nodes over SSH and reading them (giving up after %s)…", len(top.Servers), c.Timeout)
}

// IgnoreNames are the checks -ignore names, checked: an unknown check is
// an *upgrade.UnknownCheckError, a mandatory one an *upgrade.IgnoreError.
func (c *Cluster) IgnoreNames() ([]string, error) {
	var names []string
	for _, n := range strings.Split(c.Ignore, ",") {
		if n = strings.TrimSpace(n); n != "" {
			names = append(names, n)
		}
	}
	checks := map[string]upgrade.Check{}
	for _, ch := range upgrade.Checks() {
		checks[strings.ToLower(ch.Name())] = ch
	}
	var mandatory []string
	for _, n := range names {
		if strings.EqualFold(n, "all") {
			continue
		}
		ch, ok := checks[strings.ToLower(n)]
		if !ok {
			return nil, &upgrade.UnknownCheckError{Name: n}
		}
		if ch.Mandatory() {
			mandatory = append(mandatory, ch.Name())
		}
	}
	if len(mandatory) > 0 {
		return nil, &upgrade.IgnoreError{Names: mandatory}
	}
	return names, nil
}

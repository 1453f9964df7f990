package cluster

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// TopologyPath is where Private Chef and Enterprise Chef keep the topology.
const TopologyPath = "/etc/opscode/private-chef.rb"

// Topology kinds private-chef.rb accepts.
const (
	TopologyStandalone = "standalone"
	TopologyManual     = "manual"
	TopologyHA         = "ha"
	TopologyTier       = "tier"
)

// Server roles.
const (
	RoleBackend  = "backend"
	RoleFrontend = "frontend"
)

// Topology is what /etc/opscode/private-chef.rb declares.
type Topology struct {
	Kind       string // topology "ha"
	Servers    []Server
	BackendVIP *VIP
	APIFQDN    string
	// Settings are the other directives, in file order, as raw key and value
	// text: `nginx['non_ssl_port'] = false` is {Key: "nginx['non_ssl_port']",
	// Value: "false"}; `notification_email "a@b"` is {Key:
	// "notification_email", Value: `"a@b"`}.
	Settings []Setting
}

// Server is one `server "fqdn", :ipaddress => ..., :role => ...` entry.
//
// Name is a host name (RFC 1123 labels joined by dots). IPAddress and
// ClusterIPAddress are bare IPv4 or IPv6 addresses, or empty when not
// given: the packaging hands a server's :ipaddress to keepalived
// (unicast_srcip, unicast_peer) and DRBD ("address IP:7788") as written,
// so a prefix length there cannot work, and chefha refuses it (only the
// VIP's address may be addr/NN). Sources: chef-boneyard/opscode-omnibus
// 11.1.8 libraries/private_chef.rb gen_keepalived, gen_drbd and
// templates/default/keepalived.conf.erb, pc0.res.erb.
type Server struct {
	Name             string
	IPAddress        string
	Role             string
	Bootstrap        bool
	ClusterIPAddress string
	Options          map[string]string // every option as written, values unquoted
	Line             int
}

// IsBackend reports whether the server is a back end.
func (s Server) IsBackend() bool { return s.Role == RoleBackend }

// Host is the address to reach the server at when the SSH config does not
// name it: its IP address, or its name when no address is set. (A prefix
// length, which ParseTopology refuses, is dropped.)
func (s Server) Host() string {
	if s.IPAddress == "" {
		return s.Name
	}
	ip, _, _ := strings.Cut(s.IPAddress, "/")
	return ip
}

// VIP is the `backend_vip` entry: the address keepalived moves to the
// master. Name is a host name; IPAddress an IP address that may carry a
// prefix length ("192.168.4.7/24"; EC 11's backend_vip requires one for
// IPv6), or empty when not known.
type VIP struct {
	Name            string
	IPAddress       string
	Device          string
	HeartbeatDevice string
	Options         map[string]string
	Line            int
}

// Setting is a directive chefha does not model, kept raw.
type Setting struct {
	Key   string
	Value string
	Line  int
}

// Setting returns the raw value of the last setting with key (later lines
// override earlier ones, as Ruby does).
func (t Topology) Setting(key string) (string, bool) {
	for i := len(t.Settings) - 1; i >= 0; i-- {
		if t.Settings[i].Key == key {
			return t.Settings[i].Value, true
		}
	}
	return "", false
}

// Backends returns the back-end servers in file order.
func (t Topology) Backends() []Server { return t.withRole(RoleBackend) }

// Frontends returns the front-end servers in file order.
func (t Topology) Frontends() []Server { return t.withRole(RoleFrontend) }

func (t Topology) withRole(role string) []Server {
	var out []Server
	for _, s := range t.Servers {
		if s.Role == role {
			out = append(out, s)
		}
	}
	return out
}

// Bootstrap returns the back end with `:bootstrap => true`.
func (t Topology) Bootstrap() (Server, bool) {
	for _, s := range t.Servers {
		if s.Bootstrap {
			return s, true
		}
	}
	return Server{}, false
}

// Secondary returns the non-bootstrap back end of an HA pair: the one the
// runbook stops keepalived on first and upgrades after the bootstrap.
func (t Topology) Secondary() (Server, bool) {
	for _, s := range t.Backends() {
		if !s.Bootstrap {
			return s, true
		}
	}
	return Server{}, false
}

// Server returns the server named name.
func (t Topology) Server(name string) (Server, bool) {
	for _, s := range t.Servers {
		if s.Name == name {
			return s, true
		}
	}
	return Server{}, false
}

// SyntaxError is a line of private-chef.rb that could not be read.
type SyntaxError struct {
	Line int
	Msg  string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("private-chef.rb line %d: %s", e.Line, e.Msg)
}

// ParseTopology reads private-chef.rb. It understands the subset of Ruby the
// file uses (method calls with string/symbol/boolean/number arguments and
// `:key => value` or `key: value` options, assignments, comments, statements
// continued over lines after a comma, a backslash or an open bracket) and
// checks the topology it declares: an HA file needs two back ends, exactly
// one of them the bootstrap, and a backend_vip.
func ParseTopology(r io.Reader) (Topology, error) {
	var t Topology
	stmts, err := statements(r)
	if err != nil {
		return t, err
	}
	for _, st := range stmts {
		if err := t.apply(st); err != nil {
			return Topology{}, err
		}
	}
	if err := t.validate(true); err != nil {
		return Topology{}, err
	}
	return t, nil
}

func (t *Topology) apply(st statement) error {
	fail := func(format string, a ...any) error {
		return &SyntaxError{Line: st.line, Msg: fmt.Sprintf(format, a...)}
	}
	if key, val, ok := assignment(st.text); ok {
		t.Settings = append(t.Settings, Setting{Key: key, Value: val, Line: st.line})
		return nil
	}
	name, rest := splitIdent(st.text)
	if name == "" {
		return fail("expected a directive, got %s", abbrev(st.text))
	}
	switch name {
	case "topology", "api_fqdn", "server", "backend_vip":
	default:
		t.Settings = append(t.Settings, Setting{Key: name, Value: strings.TrimSpace(rest), Line: st.line})
		return nil
	}
	args, opts, err := parseArgs(rest)
	if err != nil {
		return fail("%s: %v", name, err)
	}
	first := func() (string, error) {
		if len(args) != 1 {
			return "", fmt.Errorf("%s takes one string argument, got %d", name, len(args))
		}
		return args[0], nil
	}
	switch name {
	case "topology":
		v, err := first()
		if err != nil {
			return fail("%v", err)
		}
		switch v {
		case TopologyStandalone, TopologyManual, TopologyHA, TopologyTier:
		default:
			return fail("unknown topology %q (want standalone, manual, ha or tier)", v)
		}
		if t.Kind != "" && t.Kind != v {
			return fail("topology set twice: %q, then %q", t.Kind, v)
		}
		t.Kind = v
	case "api_fqdn":
		v, err := first()
		if err != nil {
			return fail("%v", err)
		}
		if err := checkHostName(v); err != nil {
			return fail("api_fqdn %v", err)
		}
		t.APIFQDN = v
	case "server":
		v, err := first()
		if err != nil {
			return fail("%v", err)
		}
		if old, dup := t.sameHost(v); dup {
			return fail("server %q declared twice (as %q too: host names are not case-sensitive)", v, old.Name)
		}
		s := Server{Name: v, Options: opts, Line: st.line,
			IPAddress: opts["ipaddress"], Role: opts["role"], ClusterIPAddress: opts["cluster_ipaddress"]}
		switch opts["bootstrap"] {
		case "", "false", "nil":
		case "true":
			s.Bootstrap = true
		default:
			return fail("server %q: :bootstrap must be true or false, got %s", v, opts["bootstrap"])
		}
		switch s.Role {
		case RoleBackend, RoleFrontend:
		case "":
			return fail("server %q has no :role", v)
		default:
			return fail("server %q: unknown role %q (want backend or frontend)", v, s.Role)
		}
		if s.Bootstrap && s.Role != RoleBackend {
			return fail("server %q: only a back end can be the bootstrap", v)
		}
		if err := checkServer(s); err != nil {
			return fail("%v", err)
		}
		t.Servers = append(t.Servers, s)
	case "backend_vip":
		v, err := first()
		if err != nil {
			return fail("%v", err)
		}
		if t.BackendVIP != nil {
			return fail("backend_vip declared twice (first on line %d)", t.BackendVIP.Line)
		}
		vip := &VIP{Name: v, IPAddress: opts["ipaddress"], Device: opts["device"],
			HeartbeatDevice: opts["heartbeat_device"], Options: opts, Line: st.line}
		if err := checkVIP(*vip); err != nil {
			return fail("%v", err)
		}
		t.BackendVIP = vip
	}
	return nil
}

// TopologyError is a topology that parses but does not describe a usable
// cluster.
type TopologyError struct {
	Msg string
	// Source is where the topology came from: "" for private-chef.rb,
	// "topology" for one built by NewTopology or ParseHosts.
	Source string
}

func (e *TopologyError) Error() string {
	if e.Source == "" {
		return "private-chef.rb: " + e.Msg
	}
	return e.Source + ": " + e.Msg
}

// ErrNoTopology is returned for a file without a topology directive.
var ErrNoTopology = errors.New(`private-chef.rb: no topology directive (want e.g. topology "ha")`)

// validate checks the shape of an HA topology; a file must also declare
// its backend_vip (needVIP).
func (t *Topology) validate(needVIP bool) error {
	if t.Kind == "" {
		return ErrNoTopology
	}
	if t.Kind != TopologyHA {
		return nil
	}
	be := t.Backends()
	var boot []string
	for _, s := range be {
		if s.Bootstrap {
			boot = append(boot, s.Name)
		}
	}
	switch {
	case len(boot) == 0:
		return &TopologyError{Msg: `HA topology has no bootstrap back end: exactly one back end needs :bootstrap => true`}
	case len(boot) > 1:
		return &TopologyError{Msg: fmt.Sprintf("HA topology has %d bootstrap back ends (%s): exactly one may have :bootstrap => true", len(boot), strings.Join(boot, ", "))}
	case len(be) != 2:
		return &TopologyError{Msg: fmt.Sprintf("HA topology needs exactly two back ends, found %d", len(be))}
	case needVIP && t.BackendVIP == nil:
		return &TopologyError{Msg: "HA topology has no backend_vip"}
	}
	return nil
}

// sameHost returns the server whose name is name's host, in any case:
// DNS names BE1 and be1 one machine.
func (t Topology) sameHost(name string) (Server, bool) {
	for _, s := range t.Servers {
		if strings.EqualFold(s.Name, name) {
			return s, true
		}
	}
	return Server{}, false
}

package cluster

import (
	"fmt"
	"strings"
)

// NewTopology builds an HA topology — the kind chefha upgrades — from
// servers and the backend VIP, without private-chef.rb text. It applies
// the checks ParseTopology applies: names are host names, addresses are
// IP addresses (the VIP's may carry /NN), roles are backend or frontend,
// and there are exactly two back ends, one of them the bootstrap. vip may
// be nil when its address is not known; the pre-flight then compares the
// back ends' master/backup states only. Options and Line of the servers
// are ignored: Options is filled from the fields.
func NewTopology(servers []Server, vip *VIP) (Topology, error) {
	t := Topology{Kind: TopologyHA}
	fail := func(format string, a ...any) (Topology, error) {
		return Topology{}, &TopologyError{Source: "topology", Msg: fmt.Sprintf(format, a...)}
	}
	for i, s := range servers {
		if err := checkServer(s); err != nil {
			return fail("server %d: %v", i+1, err)
		}
		if old, dup := t.sameHost(s.Name); dup {
			return fail("server %q given twice (as %q too: host names are not case-sensitive)", s.Name, old.Name)
		}
		s.Line = 0
		s.Options = map[string]string{"role": s.Role}
		if s.IPAddress != "" {
			s.Options["ipaddress"] = s.IPAddress
		}
		if s.ClusterIPAddress != "" {
			s.Options["cluster_ipaddress"] = s.ClusterIPAddress
		}
		if s.Bootstrap {
			s.Options["bootstrap"] = "true"
		}
		t.Servers = append(t.Servers, s)
	}
	if vip != nil {
		if err := checkVIP(*vip); err != nil {
			return fail("%v", err)
		}
		v := *vip
		v.Line = 0
		v.Options = map[string]string{}
		for k, val := range map[string]string{"ipaddress": v.IPAddress, "device": v.Device, "heartbeat_device": v.HeartbeatDevice} {
			if val != "" {
				v.Options[k] = val
			}
		}
		t.BackendVIP = &v
	}
	if err := t.validate(false); err != nil {
		if te, ok := err.(*TopologyError); ok {
			te.Source = "topology"
		}
		return Topology{}, err
	}
	return t, nil
}

// ParseHosts builds an HA topology from a host list of the form
// "be1=backend:bootstrap,be2=backend,fe1=frontend": comma-separated
// name=role entries, the bootstrap back end marked ":bootstrap". Spaces
// around an entry are ignored; any other blank or control character in a
// name is an error (never quietly another name). The servers have no
// addresses, so each is reached by its name (see ServerConfigs), and there
// is no VIP.
func ParseHosts(list string) (Topology, error) {
	fail := func(format string, a ...any) (Topology, error) {
		return Topology{}, &TopologyError{Source: "hosts", Msg: fmt.Sprintf(format, a...)}
	}
	if strings.Trim(list, " ") == "" {
		return fail("no hosts given (want name=role entries such as be1=backend:bootstrap,be2=backend,fe1=frontend)")
	}
	var servers []Server
	for i, entry := range strings.Split(list, ",") {
		entry = strings.Trim(entry, " ")
		name, spec, ok := strings.Cut(entry, "=")
		if !ok {
			return fail("entry %d %q is not name=role (role backend, backend:bootstrap or frontend)", i+1, entry)
		}
		role, flag, _ := strings.Cut(spec, ":")
		s := Server{Name: name, Role: role}
		switch flag {
		case "":
		case "bootstrap":
			s.Bootstrap = true
		default:
			return fail("entry %d %q: unknown flag %q (only :bootstrap)", i+1, entry, flag)
		}
		if err := checkServer(s); err != nil {
			return fail("entry %d: %v", i+1, err)
		}
		servers = append(servers, s)
	}
	t, err := NewTopology(servers, nil)
	if te, ok := err.(*TopologyError); ok {
		te.Source = "hosts"
	}
	return t, err
}

package cluster

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseHosts(t *testing.T) {
	t.Parallel()
	top, err := ParseHosts("be1.example.com=backend:bootstrap, be2.example.com=backend,fe1=frontend ,fe2=frontend")
	require.NoError(t, err)
	assert.Equal(t, TopologyHA, top.Kind)
	boot, ok := top.Bootstrap()
	require.True(t, ok)
	assert.Equal(t, "be1.example.com", boot.Name)
	sec, _ := top.Secondary()
	assert.Equal(t, "be2.example.com", sec.Name)
	assert.Equal(t, []string{"fe1", "fe2"}, []string{top.Frontends()[0].Name, top.Frontends()[1].Name})
	assert.Nil(t, top.BackendVIP)
	assert.Equal(t, "fe1", top.Frontends()[0].Host(), "no address: reached by name")
	assert.Equal(t, "true", boot.Options["bootstrap"])

	for _, tt := range []struct{ in, msg string }{
		{"", "no hosts given"},
		{"be1=backend:bootstrap,be2", `entry 2 "be2" is not name=role`},
		{"be1=backend:bootstrap,be2=database", `unknown role "database"`},
		{"be1=backend:primary,be2=backend", `unknown flag "primary"`},
		{"be1=backend:bootstrap,be2=backend,fe1=frontend:bootstrap", "only a back end can be the bootstrap"},
		{"be1\n=backend:bootstrap,be2=backend", `entry 1: server name "be1\n" is not a host name: it holds a control character`},
		{"be1\tx=backend:bootstrap,be2=backend", `"be1\tx" is not a host name`},
		{"attacker@127.0.0.1:2224=backend:bootstrap,be2=backend", `"attacker@127.0.0.1:2224" is not a host name: '@' is not allowed`},
		{"be1=backend:bootstrap,be1=backend", `server "be1" given twice`},
		{"BE1=backend:bootstrap,be1=backend,fe1=frontend", `server "be1" given twice (as "BE1" too`},
		{"be1=backend:bootstrap,fe1=frontend", "exactly two back ends, found 1"},
		{"be1=backend,be2=backend", "no bootstrap back end"},
	} {
		_, err := ParseHosts(tt.in)
		require.Error(t, err, tt.in)
		assert.Contains(t, err.Error(), tt.msg, "%q", tt.in)
		assert.True(t, strings.HasPrefix(err.Error(), "hosts: "), "%q: %v", tt.in, err)
		assert.NotContains(t, err.Error(), "-hosts", "a library error names no flag")
		assert.NotContains(t, err.Error(), "private-chef.rb", "no file was read")
		var te *TopologyError
		assert.True(t, errors.As(err, &te), "%q: %T", tt.in, err)
	}
}

func TestNewTopology(t *testing.T) {
	t.Parallel()
	servers := []Server{
		{Name: "be1.example.com", Role: RoleBackend, Bootstrap: true, IPAddress: "192.168.4.1", ClusterIPAddress: "10.1.2.10"},
		{Name: "be2.example.com", Role: RoleBackend, IPAddress: "192.168.4.6"},
		{Name: "fe1.example.com", Role: RoleFrontend, IPAddress: "fd00::2"},
	}
	vip := &VIP{Name: "be.example.com", IPAddress: "192.168.4.7/24", Device: "eth0"}
	top, err := NewTopology(servers, vip)
	require.NoError(t, err)
	assert.Equal(t, "192.168.4.7/24", top.BackendVIP.IPAddress)
	assert.Equal(t, "eth0", top.BackendVIP.Options["device"])
	assert.Equal(t, "fd00::2", top.Frontends()[0].Host())

	bad := func(mutate func(s []Server, v *VIP), msg string) {
		t.Helper()
		s := append([]Server(nil), servers...)
		v := *vip
		mutate(s, &v)
		_, err := NewTopology(s, &v)
		require.Error(t, err)
		assert.Contains(t, err.Error(), msg)
		assert.True(t, strings.HasPrefix(err.Error(), "topology: "), err.Error())
	}
	bad(func(s []Server, _ *VIP) { s[2].Name = "fe1\nfe9" }, `server 3: server name "fe1\nfe9" is not a host name`)
	bad(func(s []Server, _ *VIP) { s[0].IPAddress = "192.168.4.1/24" }, "takes no prefix length")
	bad(func(s []Server, _ *VIP) { s[1].ClusterIPAddress = "x" }, `:cluster_ipaddress "x" is not an IP address`)
	bad(func(_ []Server, v *VIP) { v.IPAddress = "192.168.4.777" }, `backend_vip "be.example.com": :ipaddress "192.168.4.777"`)
	bad(func(_ []Server, v *VIP) { v.Name = "" }, `backend_vip name "" is not a host name`)
	bad(func(s []Server, _ *VIP) { s[1].Bootstrap = true }, "2 bootstrap back ends")
}

func FuzzParseHosts(f *testing.F) {
	f.Add("be1=backend:bootstrap,be2=backend,fe1=frontend")
	f.Add("be1\n=backend:bootstrap,be2=backend")
	f.Fuzz(func(t *testing.T, s string) {
		top, err := ParseHosts(s)
		if err != nil {
			return
		}
		for _, sv := range top.Servers {
			if checkHostName(sv.Name) != nil || strings.ContainsAny(sv.Name, "@:/ \t\n") {
				t.Fatalf("accepted name %q", sv.Name)
			}
		}
		if b, ok := top.Bootstrap(); !ok || len(top.Backends()) != 2 || !b.IsBackend() {
			t.Fatalf("accepted %q without one bootstrap of two back ends", s)
		}
	})
}

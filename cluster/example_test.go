package cluster_test

import (
	"fmt"
	"strings"

	"github.com/chefha/chefha/cluster"
)

func ExampleParseTopology() {
	top, err := cluster.ParseTopology(strings.NewReader(`topology "ha"
server "be1.example.com", :ipaddress => "192.168.4.1", :role => "backend", :bootstrap => true
server "be2.example.com", :ipaddress => "192.168.4.6", :role => "backend"
backend_vip "be.example.com", :ipaddress => "192.168.4.7/24", :device => "eth0"
server "fe1.example.com", :ipaddress => "192.168.4.2", :role => "frontend"
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	boot, _ := top.Bootstrap()
	sec, _ := top.Secondary()
	fmt.Println("bootstrap", boot.Name, "at", boot.Host(), "then", sec.Name)
	_, err = cluster.ParseTopology(strings.NewReader("topology \"tier\"\nserver \"deploy@be1:2222\", :role => \"backend\"\n"))
	fmt.Println(err)
	// Output:
	// bootstrap be1.example.com at 192.168.4.1 then be2.example.com
	// private-chef.rb line 2: server name "deploy@be1:2222" is not a host name: '@' is not allowed; a host name is letters, digits and hyphens in dot-separated labels
}

func ExampleParseHosts() {
	top, err := cluster.ParseHosts("be1=backend:bootstrap,be2=backend,fe1=frontend")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range top.Servers {
		fmt.Println(s.Name, s.Role, s.Bootstrap)
	}
	// Output:
	// be1 backend true
	// be2 backend false
	// fe1 frontend false
}

func ExampleRedactSecrets() {
	out := cluster.RedactSecrets([]byte(`postgresql['sql_password'] = "s3cret"
nginx['non_ssl_port'] = false
ldap['bind_password'] = 'hunter2'
`))
	fmt.Print(string(out))
	// Output:
	// postgresql['sql_password'] = "[REDACTED]"
	// nginx['non_ssl_port'] = false
	// ldap['bind_password'] = '[REDACTED]'
}

// A host list is checked where it enters: a name holding a newline is an
// error, never a second server.
func ExampleParseHosts_refused() {
	_, err := cluster.ParseHosts("be1=backend:bootstrap,be2\nserver=backend")
	fmt.Println(err)
	// Output:
	// hosts: entry 2: server name "be2\nserver" is not a host name: it holds a control character ('\n'); a host name is letters, digits and hyphens in dot-separated labels
}

func ExampleNewTopology() {
	top, err := cluster.NewTopology([]cluster.Server{
		{Name: "be1.example.com", Role: cluster.RoleBackend, Bootstrap: true, IPAddress: "192.168.4.1"},
		{Name: "be2.example.com", Role: cluster.RoleBackend, IPAddress: "192.168.4.6"},
		{Name: "fe1.example.com", Role: cluster.RoleFrontend, IPAddress: "192.168.4.2"},
	}, &cluster.VIP{Name: "be.example.com", IPAddress: "192.168.4.7/24", Device: "eth0"})
	if err != nil {
		fmt.Println(err)
		return
	}
	boot, _ := top.Bootstrap()
	sec, _ := top.Secondary()
	fmt.Println(top.Kind, "bootstrap", boot.Name, "secondary", sec.Name, "VIP", top.BackendVIP.IPAddress, "front ends", len(top.Frontends()))

	_, err = cluster.NewTopology([]cluster.Server{
		{Name: "be1.example.com", Role: cluster.RoleBackend},
		{Name: "be2.example.com", Role: cluster.RoleBackend},
	}, nil)
	fmt.Println(err)
	// Output:
	// ha bootstrap be1.example.com secondary be2.example.com VIP 192.168.4.7/24 front ends 1
	// topology: HA topology has no bootstrap back end: exactly one back end needs :bootstrap => true
}

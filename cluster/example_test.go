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

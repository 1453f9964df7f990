package cluster

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func parseFixture(t *testing.T, name string) (Topology, error) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return ParseTopology(strings.NewReader(string(b)))
}

func TestParseTopologyHA(t *testing.T) {
	t.Parallel()
	for _, file := range []string{"ha.rb", "ha-ec11-operator.rb"} {
		t.Run(file, func(t *testing.T) {
			top, err := parseFixture(t, file)
			require.NoError(t, err)
			assert.Equal(t, TopologyHA, top.Kind)
			boot, ok := top.Bootstrap()
			require.True(t, ok)
			assert.Equal(t, "be1.example.com", boot.Name)
			assert.Equal(t, "192.168.4.1", boot.Host())
			assert.Equal(t, "10.1.2.10", boot.ClusterIPAddress)
			sec, ok := top.Secondary()
			require.True(t, ok)
			assert.Equal(t, "be2.example.com", sec.Name)
			assert.Equal(t, "192.168.4.6", sec.IPAddress)
			assert.Len(t, top.Backends(), 2)
			require.NotEmpty(t, top.Frontends())
			assert.Equal(t, "fe1.example.com", top.Frontends()[0].Name)
			require.NotNil(t, top.BackendVIP)
			vip, _, _ := strings.Cut(top.BackendVIP.IPAddress, "/")
			assert.Equal(t, "192.168.4.7", vip)
			assert.Equal(t, "eth0", top.BackendVIP.Device)
			assert.Equal(t, "chef.example.com", top.APIFQDN)
		})
	}
}

func TestParseTopologySettings(t *testing.T) {
	t.Parallel()
	top, err := parseFixture(t, "ha-ec11-operator.rb")
	require.NoError(t, err)
	v, ok := top.Setting("nginx['non_ssl_port']")
	require.True(t, ok, "OC-11540 reads this setting")
	assert.Equal(t, "false", v)
	v, _ = top.Setting("opscode_erchef['max_request_size']")
	assert.Equal(t, "2000000", v)
	v, _ = top.Setting("notification_email")
	assert.Equal(t, `"ops@example.com"`, v, "the comment after it is gone")
	v, _ = top.Setting("ldap['bind_dn']")
	assert.Equal(t, `"CN=chef,OU=svc,DC=example,DC=com # not a comment"`, v, "a # inside a string is not a comment")
	assert.Equal(t, "192.168.4.1", top.Servers[0].IPAddress)
	assert.Equal(t, "192.168.4.7/24", top.BackendVIP.IPAddress, "the VIP may carry a prefix length")
	assert.Equal(t, 5, top.Servers[0].Line)
	assert.Len(t, top.Frontends(), 2)
}

func TestParseTopologyOthers(t *testing.T) {
	t.Parallel()
	top, err := parseFixture(t, "tier.rb")
	require.NoError(t, err)
	assert.Equal(t, TopologyTier, top.Kind)
	assert.Len(t, top.Backends(), 1)
	top, err = parseFixture(t, "standalone.rb")
	require.NoError(t, err)
	assert.Equal(t, TopologyStandalone, top.Kind)
	assert.Empty(t, top.Servers)
	_, ok := top.Bootstrap()
	assert.False(t, ok)
}

func TestParseTopologyErrors(t *testing.T) {
	t.Parallel()
	const be1 = "server \"be1\", :ipaddress => \"10.0.0.1\", :role => \"backend\", :bootstrap => true\n"
	const be2 = "server \"be2\", :ipaddress => \"10.0.0.2\", :role => \"backend\"\n"
	const vip = "backend_vip \"be\", :ipaddress => \"10.0.0.3\", :device => \"eth0\"\n"
	tests := []struct {
		name, in string
		line     int    // 0: not a syntax error
		msg      string // substring of the error
	}{
		{"no topology", "api_fqdn \"x\"\n", 0, "no topology directive"},
		{"unknown topology", "topology \"cluster\"\n", 1, "unknown topology"},
		{"no bootstrap", "topology \"ha\"\n" + be2 + "server \"be3\", :role => \"backend\"\n" + vip, 0, "no bootstrap back end"},
		{"two bootstraps", "topology \"ha\"\n" + be1 + strings.Replace(be1, "be1", "be9", 1) + vip, 0, "2 bootstrap back ends (be1, be9)"},
		{"one backend", "topology \"ha\"\n" + be1 + vip, 0, "exactly two back ends"},
		{"no vip", "topology \"ha\"\n" + be1 + be2, 0, "no backend_vip"},
		{"unterminated string", "topology \"ha\"\nserver \"be1, :role => \"backend\"\n", 2, "unterminated"},
		{"unfinished statement", "topology \"ha\"\nserver \"be1\",\n", 2, "not finished"},
		{"bad role", "topology \"ha\"\nserver \"x\", :role => \"database\"\n", 2, "unknown role"},
		{"no role", "topology \"ha\"\nserver \"x\", :ipaddress => \"1.2.3.4\"\n", 2, "no :role"},
		{"frontend bootstrap", "topology \"ha\"\nserver \"x\", :role => \"frontend\", :bootstrap => true\n", 2, "only a back end"},
		{"duplicate server", "topology \"tier\"\n" + be1 + be1, 3, "declared twice"},
		{"duplicate server in another case", "topology \"tier\"\n" + be1 + strings.Replace(be1, "be1", "BE1", 1), 3, "declared twice"},
		{"interpolation", "topology \"tier\"\nserver \"#{host}\", :role => \"backend\"\n", 2, "interpolation"},
		{"ruby code", "topology \"tier\"\nserver ENV['HOST'], :role => \"backend\"\n", 2, "cannot read value"},
		{"bad bootstrap", "topology \"tier\"\nserver \"x\", :role => \"backend\", :bootstrap => \"yes\"\n", 2, ":bootstrap must be true or false"},
		{"closing bracket", "topology \"ha\")\n", 1, "unbalanced"},
		{"user@host:port as a name", "topology \"tier\"\nserver \"attacker@127.0.0.1:2224\", :role => \"backend\"\n", 2, `server name "attacker@127.0.0.1:2224" is not a host name: '@' is not allowed`},
		{"newline in a name", "topology \"tier\"\nserver \"be1\\nbe2\", :role => \"backend\"\n", 2, `"be1\nbe2" is not a host name: it holds a control character`},
		{"tab in a name", "topology \"tier\"\nserver \"be1\\t\", :role => \"backend\"\n", 2, `"be1\t" is not a host name`},
		{"space in a name", "topology \"tier\"\nserver 'be 1', :role => \"backend\"\n", 2, `"be 1" is not a host name: ' ' is not allowed`},
		{"slash in a name", "topology \"tier\"\nserver 'be1/x', :role => \"backend\"\n", 2, `'/' is not allowed`},
		{"empty label", "topology \"tier\"\nserver 'be1..example.com', :role => \"backend\"\n", 2, "empty label"},
		{"hyphen label", "topology \"tier\"\nserver '-be1', :role => \"backend\"\n", 2, "starts or ends with a hyphen"},
		{"not an address", "topology \"tier\"\nserver 'be1', :role => 'backend', :ipaddress => '10.0.0.999'\n", 2, `:ipaddress "10.0.0.999" is not an IP address`},
		{"a name as the address", "topology \"tier\"\nserver 'be1', :role => 'backend', :ipaddress => 'be1.example.com'\n", 2, `:ipaddress "be1.example.com" is not an IP address`},
		{"server address with a prefix", "topology \"tier\"\nserver 'be1', :role => 'backend', :ipaddress => '10.0.0.1/24'\n", 2, `:ipaddress "10.0.0.1/24": a server's address takes no prefix length`},
		{"bad cluster address", "topology \"tier\"\nserver 'be1', :role => 'backend', :cluster_ipaddress => '10.1.2.10:7788'\n", 2, `:cluster_ipaddress "10.1.2.10:7788" is not an IP address`},
		{"bad vip name", "topology \"ha\"\nbackend_vip 'be@vip', :ipaddress => '10.0.0.3'\n", 2, `backend_vip name "be@vip" is not a host name`},
		{"bad vip address", "topology \"ha\"\nbackend_vip 'be', :ipaddress => '10.0.0.3/40'\n", 2, `backend_vip "be": :ipaddress "10.0.0.3/40" is not an IP address with a prefix length`},
		{"bad api_fqdn", "topology \"ha\"\napi_fqdn 'chef example'\n", 2, `api_fqdn "chef example" is not a host name`},
		{"single quotes keep a backslash", "topology \"tier\"\nserver 'be\\1', :role => \"backend\"\n", 2, `"be\\1" is not a host name: '\\' is not allowed`},
		{"unicode escape", "topology \"tier\"\nserver \"be\\u0031\", :role => \"backend\"\n", 2, `escape \u`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseTopology(strings.NewReader(tt.in))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.msg)
			var se *SyntaxError
			if tt.line > 0 {
				require.ErrorAs(t, err, &se)
				assert.Equal(t, tt.line, se.Line)
			} else {
				assert.False(t, errors.As(err, &se), "a file-level error, not a line: %v", err)
			}
		})
	}
}

func TestParseTopologyAddressesAndQuotes(t *testing.T) {
	t.Parallel()
	top, err := ParseTopology(strings.NewReader(`topology "ha"
server "be1.example.com", :ipaddress => "fd00::1", :role => "backend", :bootstrap => true, :cluster_ipaddress => "fd01::1"
server 'be2.example.com', :ipaddress => '192.168.4.6', :role => 'backend'
backend_vip "be.example.com", :ipaddress => "fd00::7/64", :device => "eth0"
server "fe1.example.com", :role => "frontend"
`))
	require.NoError(t, err)
	assert.Equal(t, "fd00::1", top.Servers[0].Host())
	assert.Equal(t, "fd00::7/64", top.BackendVIP.IPAddress)
}

func FuzzParseTopology(f *testing.F) {
	for _, name := range []string{"ha.rb", "ha-ec11-operator.rb", "tier.rb", "standalone.rb"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, s string) {
		top, err := ParseTopology(strings.NewReader(s))
		if err != nil {
			return
		}
		for _, sv := range top.Servers {
			if err := checkHostName(sv.Name); err != nil {
				t.Fatalf("accepted a server name that is not a host name: %v", err)
			}
			if sv.IPAddress != "" && checkAddress(sv.IPAddress, false) != nil {
				t.Fatalf("accepted server address %q", sv.IPAddress)
			}
		}
		if top.Kind == TopologyHA {
			boot, ok := top.Bootstrap()
			if !ok || !boot.IsBackend() || len(top.Backends()) != 2 {
				t.Fatalf("accepted an HA topology without one bootstrap back end of two: %+v", top)
			}
		}
	})
}

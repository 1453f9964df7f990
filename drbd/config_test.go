package drbd

import (
	"bytes"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The rendered packaging files, read whole: their first line, a "#"
// comment naming the source, is drbd.conf syntax too.
func TestResourceHostsFixtures(t *testing.T) {
	ap := netip.MustParseAddrPort
	tests := []struct {
		file string
		want []Host
	}{
		{"pc0.res-11.1.8.txt", []Host{
			{Names: []string{"be1.chefha.test"}, Family: "ipv4", Addr: ap("10.1.2.10:7788"), Line: 7},
			{Names: []string{"be2.chefha.test"}, Family: "ipv4", Addr: ap("10.1.2.12:7788"), Line: 14}}},
		{"pc0.res-11.1.8-ipv6.txt", []Host{
			{Names: []string{"be1.chefha.test"}, Family: "ipv6", Addr: ap("[fd00:1:2::10]:7788"), Line: 7},
			{Names: []string{"be2.chefha.test"}, Family: "ipv6", Addr: ap("[fd00:1:2::12]:7788"), Line: 14}}},
		{"pc0.res-1.4.6.txt", []Host{
			{Names: []string{"be1.chefha.test"}, Family: "ipv4", Addr: ap("192.168.4.1:7788"), Line: 7},
			{Names: []string{"be2.chefha.test"}, Family: "ipv4", Addr: ap("192.168.4.6:7788"), Line: 14}}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", tt.file))
			require.NoError(t, err)
			defer f.Close()
			got, err := ResourceHosts(f, "pc0")
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

// drbd.conf itself only includes pc0.res: the resource is not there.
func TestResourceHostsNotInDRBDConf(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "drbd.conf-11.1.8.txt"))
	require.NoError(t, err)
	_, err = ResourceHosts(bytes.NewReader(b), "pc0")
	require.ErrorIs(t, err, ErrNoResource)
	assert.EqualError(t, err, "drbd.conf: no such resource: pc0")
}

func TestResourceHosts(t *testing.T) {
	ap := netip.MustParseAddrPort
	tests := []struct {
		name, in string
		want     []Host
	}{
		{"one line", `resource pc0 { on a { address 10.0.0.1:7788; } on b { address 10.0.0.2:7789; } }`,
			[]Host{{Names: []string{"a"}, Family: "ipv4", Addr: ap("10.0.0.1:7788"), Line: 1}, {Names: []string{"b"}, Family: "ipv4", Addr: ap("10.0.0.2:7789"), Line: 1}}},
		// drbdadm dump (8.4) nests the disk in a volume section and names
		// the family.
		{"8.4 volumes", "resource pc0 {\n    on be1 {\n        volume 0 {\n            device minor 0;\n            disk /dev/opscode/drbd;\n            meta-disk internal;\n        }\n" +
			"        address ipv4 10.1.2.10:7788;\n    }\n    on be2 {\n        volume 0 {\n            device minor 0;\n        }\n        address ipv4 10.1.2.12:7788;\n    }\n    disk {\n        resync-rate 40M;\n    }\n}\n",
			[]Host{{Names: []string{"be1"}, Family: "ipv4", Addr: ap("10.1.2.10:7788"), Line: 2}, {Names: []string{"be2"}, Family: "ipv4", Addr: ap("10.1.2.12:7788"), Line: 10}}},
		{"other resources and sections passed over", "global { usage-count no; }\nresource r0 { on x { address 1.1.1.1:1; } }\nskip { resource pc0 { } }\n" +
			"include \"/etc/drbd.d/*.res\";\nresource pc0 { on \"a b\" { address sdp 10.0.0.1:7788; } on c d { address ssocks 10.0.0.2:7788; } }\n",
			[]Host{{Names: []string{"a b"}, Family: "sdp", Addr: ap("10.0.0.1:7788"), Line: 5}, {Names: []string{"c", "d"}, Family: "ssocks", Addr: ap("10.0.0.2:7788"), Line: 5}}},
		{"comments and escapes", "# pc0.res\nresource pc0 { # the pair\n on \"q\\\"x\" { address 10.0.0.1:7788; # here\n }\n}\n",
			[]Host{{Names: []string{`q"x`}, Family: "ipv4", Addr: ap("10.0.0.1:7788"), Line: 3}}},
		{"CRLF", "resource pc0 {\r\n on a {\r\n address 10.0.0.1:7788;\r\n }\r\n}\r\n",
			[]Host{{Names: []string{"a"}, Family: "ipv4", Addr: ap("10.0.0.1:7788"), Line: 2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ResourceHosts(strings.NewReader(tt.in), "pc0")
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestResourceHostsErrors(t *testing.T) {
	tests := []struct{ name, in, err string }{
		{"empty", "", "drbd.conf: no such resource: pc0"},
		{"unclosed", "resource pc0 {\n on a { address 10.0.0.1:7788; }\n", "drbd.conf line 1: the section opened here is not closed: the text ends inside it"},
		{"stray brace", "resource pc0 { on a { address 10.0.0.1:7788; } } }", "drbd.conf line 1: a } closes no section"},
		{"no semicolon", "resource pc0 {\n on a {\n address 10.0.0.1:7788\n }\n}", `drbd.conf line 4: "address 10.0.0.1:7788" is not ended by ; before the }`},
		{"trailing words", "resource pc0 { on a { address 10.0.0.1:7788; } }\nstray", `drbd.conf line 2: "stray" is not ended by ;`},
		{"stray semicolon", "resource pc0 { ; }", "drbd.conf line 1: a ; ends no parameter"},
		{"brace without keyword", "{ }", "drbd.conf line 1: a section has no keyword before its {"},
		{"unclosed string", "resource pc0 { on \"a { address 10.0.0.1:7788; } }", "drbd.conf line 1: a string is not closed on its line"},
		{"control character", "resource pc0 {\x00}", `drbd.conf line 1: control character '\x00'`},
		{"resource without name", "resource { }", "drbd.conf line 1: a resource is `resource NAME { … }`"},
		{"resource parameter", "resource pc0;", "drbd.conf line 1: a resource is `resource NAME { … }`"},
		{"twice", "resource pc0 { on a { address 10.0.0.1:7788; } }\nresource pc0 { on b { address 10.0.0.2:7788; } }", "drbd.conf line 2: resource pc0 defined again (first on line 1)"},
		{"no on", "resource pc0 {\n syncer { rate 40M; }\n}", "drbd.conf line 1: resource pc0 has no `on HOST { … }` section"},
		{"on without name", "resource pc0 { on { address 10.0.0.1:7788; } }", "drbd.conf line 1: an `on` section is `on HOSTNAME { … }`"},
		{"on parameter", "resource pc0 { on a; }", "drbd.conf line 1: an `on` section is `on HOSTNAME { … }`"},
		{"same host twice", "resource pc0 {\n on a { address 10.0.0.1:7788; }\n on A { address 10.0.0.2:7788; }\n}", "drbd.conf line 3: host A has a second `on` section (first on line 2)"},
		{"no address", "resource pc0 { on a { device /dev/drbd0; } }", "drbd.conf line 1: no address for a"},
		{"two addresses", "resource pc0 { on a {\n address 10.0.0.1:7788;\n address 10.0.0.2:7788; } }", "drbd.conf line 3: a second address for a"},
		{"address section", "resource pc0 { on a { address { } } }", "drbd.conf line 1: address is a parameter, not a section"},
		// What pc0.res.erb renders for a server with neither
		// :cluster_ipaddress nor :ipaddress.
		{"empty ip", "resource pc0 { on a { address :7788; } }", `drbd.conf line 1: address of a: ":7788" is not IP:PORT`},
		{"no port", "resource pc0 { on a { address 10.0.0.1; } }", `drbd.conf line 1: address of a: "10.0.0.1" is not IP:PORT`},
		{"port 0", "resource pc0 { on a { address 10.0.0.1:0; } }", `drbd.conf line 1: address of a: "10.0.0.1:0" has port 0`},
		{"host name", "resource pc0 { on a { address be2.example.com:7788; } }", `drbd.conf line 1: address of a: "be2.example.com:7788" is not IP:PORT`},
		{"unknown family", "resource pc0 { on a { address ipx 10.0.0.1:7788; } }", `drbd.conf line 1: address of a: unknown address family "ipx" (ipv4, ipv6, ssocks, sdp)`},
		{"ipv6 without family", "resource pc0 { on a { address [fd00::1]:7788; } }", "drbd.conf line 1: address of a: fd00::1 is not an ipv4 address"},
		{"ipv4 as ipv6", "resource pc0 { on a { address ipv6 10.0.0.1:7788; } }", "drbd.conf line 1: address of a: 10.0.0.1 is not an ipv6 address"},
		{"three words", "resource pc0 { on a { address ipv4 10.0.0.1 7788; } }", `drbd.conf line 1: address of a: "ipv4 10.0.0.1 7788" is not [FAMILY] IP:PORT`},
		{"too deep", "resource pc0 " + strings.Repeat("x {", 20) + strings.Repeat("}", 21), "drbd.conf line 1: sections nested deeper than 16"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hosts, err := ResourceHosts(strings.NewReader(tt.in), "pc0")
			require.Error(t, err, "%+v", hosts)
			assert.EqualError(t, err, tt.err)
			var ce *ConfigError
			assert.Equal(t, !errors.Is(err, ErrNoResource), errors.As(err, &ce), "a syntax or content fault is a *ConfigError")
		})
	}
}

func TestResourceHostsTooLong(t *testing.T) {
	_, err := ResourceHosts(strings.NewReader(strings.Repeat("#", maxConfig+1)), "pc0")
	assert.EqualError(t, err, "drbd.conf: longer than 1048576 bytes")
	_, err = ResourceHosts(strings.NewReader("resource pc0 { on a { address 10.0.0.1:7788; } }"+strings.Repeat(" ", maxConfig-48)), "pc0")
	assert.NoError(t, err, "a long line within the limit is read")
}

func TestHostIs(t *testing.T) {
	h := Host{Names: []string{"be1.chefha.test", "be1"}}
	assert.True(t, h.Is("BE1.chefha.test"))
	assert.True(t, h.Is("be1"))
	assert.False(t, h.Is("be2"))
}

func FuzzResourceHosts(f *testing.F) {
	entries, err := os.ReadDir("testdata")
	require.NoError(f, err)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "pc0.res-") || strings.HasPrefix(e.Name(), "drbd.conf-") {
			b, err := os.ReadFile(filepath.Join("testdata", e.Name()))
			require.NoError(f, err)
			f.Add(b)
		}
	}
	f.Add([]byte(`resource pc0 { on "a" b { volume 0 { device minor 0; } address ipv6 [fe80::1%eth1]:7788; } }`))
	f.Fuzz(func(t *testing.T, in []byte) {
		hosts, err := ResourceHosts(bytes.NewReader(in), "pc0")
		if err != nil {
			return
		}
		if len(hosts) == 0 {
			t.Fatal("no hosts and no error")
		}
		for _, h := range hosts {
			if len(h.Names) == 0 || !h.Addr.IsValid() || h.Addr.Port() == 0 || h.Line < 1 {
				t.Fatalf("accepted a host without a name, address or line: %+v", h)
			}
			if (h.Family == "ipv6") != (h.Addr.Addr().Is6() && !h.Addr.Addr().Is4In6()) {
				t.Fatalf("family %s for %s", h.Family, h.Addr)
			}
		}
	})
}

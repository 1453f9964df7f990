package hostnet

import (
	"context"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/chefha/chefha/internal/peer"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func prefixes(s ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range s {
		out = append(out, netip.MustParsePrefix(p))
	}
	return out
}

func TestParseFixtures(t *testing.T) {
	for _, tc := range []struct {
		file  string
		parse func(r *os.File) ([]netip.Prefix, error)
		want  []netip.Prefix
	}{
		{"ip-o-addr.txt", func(r *os.File) ([]netip.Prefix, error) { return ParseAddrs(r) },
			prefixes("127.0.0.0/8", "::1/128", "192.0.2.0/24", "fd00::/64", "fe80::/64", "10.231.0.0/24", "fe80::/64", "fe80::/64", "fe80::/64", "fe80::/64")},
		{"ip-route-types.txt", func(r *os.File) ([]netip.Prefix, error) { return ParseRoutes(r) },
			prefixes("10.9.0.0/16", "10.200.0.0/16", "10.201.0.0/16", "10.202.0.0/16", "10.203.0.0/16", "10.204.7.9/32", "239.1.0.0/16", "2001:db8::/32")},
	} {
		t.Run(tc.file, func(t *testing.T) {
			f, err := os.Open("testdata/" + tc.file)
			require.NoError(t, err)
			defer f.Close()
			got, err := tc.parse(f)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestParseRoutesTableAll(t *testing.T) {
	f, err := os.Open("testdata/ip-route-table-all.txt")
	require.NoError(t, err)
	defer f.Close()
	got, err := ParseRoutes(f)
	require.NoError(t, err)
	assert.Contains(t, got, netip.MustParsePrefix("10.231.0.0/24"), "the lab bridge's route")
	assert.Contains(t, got, netip.MustParsePrefix("10.231.0.254/32"), "a local route is a host route")
	assert.Contains(t, got, netip.MustParsePrefix("ff00::/8"))
	for _, p := range got {
		assert.NotEqual(t, 0, p.Bits(), "no default route")
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		parse    func(string) error
	}{
		{"addr: short", "4: eth0 inet\n", func(s string) error { _, err := ParseAddrs(strings.NewReader(s)); return err }},
		{"addr: no index", "eth0 inet 10.0.0.1/24 scope global\n", func(s string) error { _, err := ParseAddrs(strings.NewReader(s)); return err }},
		{"addr: bad prefix", "4: eth0 inet 10.0.0.300/24 scope global\n", func(s string) error { _, err := ParseAddrs(strings.NewReader(s)); return err }},
		{"route: bad dest", "10.0.0.0/33 dev eth0\n", func(s string) error { _, err := ParseRoutes(strings.NewReader(s)); return err }},
		{"route: word", "dev eth0 scope link\n", func(s string) error { _, err := ParseRoutes(strings.NewReader(s)); return err }},
		{"route: lone type", "blackhole\n", func(s string) error { _, err := ParseRoutes(strings.NewReader(s)); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.parse(tc.in)
			var pe *ParseError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, 1, pe.Line)
		})
	}
}

func TestOverlap(t *testing.T) {
	used := prefixes("192.0.2.0/24", "10.0.0.0/8", "fd00::/64")
	u, ok := Overlap(netip.MustParsePrefix("10.231.4.0/24"), used)
	assert.True(t, ok)
	assert.Equal(t, netip.MustParsePrefix("10.0.0.0/8"), u)
	_, ok = Overlap(netip.MustParsePrefix("172.20.0.0/24"), used)
	assert.False(t, ok)
	_, ok = Overlap(netip.MustParsePrefix("192.0.2.128/25"), used)
	assert.True(t, ok, "inside a used network")
}

// The real ip on this host: its output parses, and its own addresses are in it.
func TestUsedLive(t *testing.T) {
	peer.Need(t, "ip", "iproute2")
	used, err := Used(context.Background())
	require.NoError(t, err)
	_, ok := Overlap(netip.MustParsePrefix("127.0.0.1/32"), used)
	assert.True(t, ok, "loopback among %v", used)
}

func FuzzParseAddrs(f *testing.F) {
	for _, name := range []string{"ip-o-addr.txt"} {
		b, err := os.ReadFile("testdata/" + name)
		require.NoError(f, err)
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, s string) {
		ps, err := ParseAddrs(strings.NewReader(s))
		if err == nil {
			for _, p := range ps {
				if !p.IsValid() || p != p.Masked() {
					t.Fatalf("invalid or unmasked %v", p)
				}
			}
		}
	})
}

func FuzzParseRoutes(f *testing.F) {
	for _, name := range []string{"ip-route-table-all.txt", "ip-route-types.txt"} {
		b, err := os.ReadFile("testdata/" + name)
		require.NoError(f, err)
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, s string) {
		ps, err := ParseRoutes(strings.NewReader(s))
		if err == nil {
			for _, p := range ps {
				if !p.IsValid() || p != p.Masked() || p.Bits() == 0 {
					t.Fatalf("invalid, unmasked or default %v", p)
				}
			}
		}
	})
}

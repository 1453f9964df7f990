package lab

import (
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func pfx(s ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range s {
		out = append(out, netip.MustParsePrefix(p))
	}
	return out
}

func TestPick(t *testing.T) {
	for _, tc := range []struct {
		name       string
		want       string
		used, live []netip.Prefix
		got        string
		err        string
	}{
		{name: "first of the pool", got: "10.231.0.0/24"},
		{name: "skips the host's and other labs'", used: pfx("10.231.0.0/24", "10.231.2.128/25"), live: pfx("10.231.1.0/24"), got: "10.231.3.0/24"},
		{name: "a route over the whole pool", used: pfx("10.0.0.0/8"), err: "no free /24 left"},
		{name: "asked for, free", want: "192.168.77.0/29", used: pfx("10.231.0.0/24"), got: "192.168.77.0/29"},
		{name: "asked for, another lab's", want: "10.231.1.0/24", live: pfx("10.231.1.0/25"), err: "another lab's"},
		{name: "asked for, the host's", want: "10.231.1.0/24", used: pfx("10.231.0.0/16"), err: "interfaces or routes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var want netip.Prefix
			if tc.want != "" {
				want = netip.MustParsePrefix(tc.want)
			}
			got, err := pick(want, 3, tc.used, tc.live)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.got, got.String())
		})
	}
}

func TestCheckSubnet(t *testing.T) {
	for s, errText := range map[string]string{
		"10.231.7.0/24":  "",
		"10.231.7.8/29":  "too small",
		"10.231.7.8/30":  "too small",
		"10.231.7.1/24":  "host bits",
		"fd00:1::/64":    "IPv4",
		"10.231.7.16/28": "",
	} {
		err := checkSubnet(netip.MustParsePrefix(s), 4)
		if errText == "" {
			assert.NoError(t, err, s)
		} else {
			assert.ErrorContains(t, err, errText, s)
		}
	}
	assert.NoError(t, checkSubnet(netip.MustParsePrefix("10.231.7.8/29"), 2), "2 nodes, 2 replication addresses, a VIP and the host fit 8")
	assert.ErrorContains(t, checkSubnet(netip.MustParsePrefix("10.231.7.16/28"), 11), "too small", "11 nodes, 2 replication addresses, a VIP and the host need 17 addresses")
}

// Every address derives from the subnet; the names fit Linux's 15
// characters for an interface.
func TestAddressesAndNames(t *testing.T) {
	s := netip.MustParsePrefix("10.231.7.0/24")
	assert.Equal(t, "10.231.7.1", addr(s, 1).String())
	assert.Equal(t, "10.231.7.253", addr(s, vipIndex(s)).String())
	assert.Equal(t, "10.231.7.254", addr(s, hostIndex(s)).String())
	assert.Equal(t, "10.231.7.252", addr(s, clusterIndex(s, 0)).String())
	assert.Equal(t, "10.231.7.251", addr(s, clusterIndex(s, 1)).String())
	s = netip.MustParsePrefix("10.231.7.8/29")
	assert.Equal(t, "10.231.7.9", addr(s, 1).String())
	assert.Equal(t, "10.231.7.13", addr(s, vipIndex(s)).String())
	assert.Equal(t, "10.231.7.14", addr(s, hostIndex(s)).String())
	assert.Equal(t, "10.231.255.0", addr(pool, 255<<8).String())
	for _, n := range []string{bridgeName("a1b2c3"), vethName("a1b2c3", 999), netnsName("a1b2c3", 999)} {
		assert.LessOrEqual(t, len(n), 15, n)
		assert.Regexp(t, labName, n)
	}
	assert.NotRegexp(t, labName, "chlb12345", "the old PID-named bridge")
	assert.NotRegexp(t, labName, "chl-123456-0", "the old PID-named namespace")
}

// make test installs every package the lab needs (a fresh machine lacked
// iputils-ping, and every lab test then stopped at lab.Check).
func TestMakefileInstallsTheLabsPackages(t *testing.T) {
	b, err := os.ReadFile("../Makefile")
	require.NoError(t, err)
	var peers []string
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "PEERS := "); ok {
			for _, p := range strings.Fields(rest) {
				pkg, _, _ := strings.Cut(p, ":")
				peers = append(peers, pkg)
			}
		}
	}
	require.NotEmpty(t, peers, "the Makefile's PEERS line")
	for _, r := range Requirements() {
		assert.Contains(t, peers, r.Package, "%s's package", r.Program)
	}
}

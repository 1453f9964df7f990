package ecmodel

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/drbd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// drbdTopology is the private-chef.rb drbd's pc0.res fixtures were
// rendered for (clustertest's default back ends), kept beside them.
func drbdTopology(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../drbd/testdata/private-chef.rb")
	require.NoError(t, err)
	return string(b)
}

func drbdNode(t *testing.T, version, rb string) *Node {
	t.Helper()
	top, err := cluster.ParseTopology(strings.NewReader(rb))
	require.NoError(t, err)
	rel, ok := Releases()[version]
	require.True(t, ok, version)
	return &Node{H: newMemHost(), Topology: top, Me: top.Servers[0], Installed: rel, Configured: rel}
}

// renderedFixture is a drbd testdata file without its "# rendered: …"
// line.
func renderedFixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../../drbd/testdata/" + name)
	require.NoError(t, err)
	_, rest, _ := bytes.Cut(b, []byte("\n"))
	return string(rest)
}

// The model writes what the template renders, byte for byte: the same
// text the drbd package's fixtures hold, rendered from the tags.
func TestPC0ResRendersTheTemplate(t *testing.T) {
	assert.Equal(t, renderedFixture(t, "pc0.res-11.1.8.txt"), drbdNode(t, "11.1.8", drbdTopology(t)).pc0Res())
	assert.Equal(t, renderedFixture(t, "pc0.res-11.1.8.txt"), drbdNode(t, "1.4.6", drbdTopology(t)).pc0Res(), "the two template generations render IPv4 alike")

	v6 := strings.NewReplacer("10.1.2.10", "fd00:1:2::10", "10.1.2.12", "fd00:1:2::12").Replace(drbdTopology(t)) + "use_ipv6 true\n"
	assert.Equal(t, renderedFixture(t, "pc0.res-11.1.8-ipv6.txt"), drbdNode(t, "11.1.8", v6).pc0Res())
	assert.NotContains(t, drbdNode(t, "11.0.2", v6).pc0Res(), "ipv6 [", "11.0.2's template has no use_ipv6 branch")

	noCluster := strings.NewReplacer("  :cluster_ipaddress => \"10.1.2.10\"\n", "", ",\n  :cluster_ipaddress => \"10.1.2.12\"", "", ":bootstrap => true,", ":bootstrap => true").Replace(drbdTopology(t))
	assert.Equal(t, renderedFixture(t, "pc0.res-1.4.6.txt"), drbdNode(t, "1.4.6", noCluster).pc0Res(), ":ipaddress when there is no :cluster_ipaddress")
}

// What the model writes reads back as the pair, each back end at its
// replication address.
func TestPC0ResReadsBack(t *testing.T) {
	n := drbdNode(t, "11.2.0", drbdTopology(t))
	n.writeDRBDConfig()
	b, err := n.H.ReadFile(DRBDResFile)
	require.NoError(t, err)
	st, err := n.H.Stat(DRBDResFile)
	require.NoError(t, err)
	assert.Equal(t, "-rw-r-xr-x", st.Mode().String(), "the recipe's mode 0655")
	hosts, err := drbd.ResourceHosts(bytes.NewReader(b), DRBDResource)
	require.NoError(t, err)
	require.Len(t, hosts, 2)
	assert.Equal(t, []string{"be1.chefha.test"}, hosts[0].Names)
	assert.Equal(t, "10.1.2.10:7788", hosts[0].Addr.String())
	assert.Equal(t, []string{"be2.chefha.test"}, hosts[1].Names)
	assert.Equal(t, "10.1.2.12:7788", hosts[1].Addr.String())
}

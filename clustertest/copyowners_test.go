package clustertest_test

import (
	"context"
	"errors"
	"testing"

	"github.com/chefha/chefha/cluster"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// CopyTree by owner name between simulated nodes, whose shell runs no
// scripts: the walk names the source's owners with stat and chowns by
// name on the destination, which refuses a name it does not have.
func TestCopyTreeOwnersByNameSimulated(t *testing.T) {
	t.Parallel()
	s := start(t, "11.1.8")
	ctx := context.Background()
	from, _ := s.cl.Node(be1)
	to, _ := s.cl.Node(be2)
	tw, ok := to.(cluster.TreeWriter)
	require.True(t, ok)
	// be2's copy from the start is root's, as a copy by the writing user
	// leaves it.
	require.NoError(t, s.Node(be2).Chown("/etc/opscode/webui_priv.pem", "root:root"))
	_, err := cluster.CopyTree(ctx, from, "/etc/opscode", tw, "/etc/opscode", cluster.CopyOptions{OwnersByName: true})
	require.NoError(t, err)
	out, _, _ := s.run(t, be2, "stat", "-c", "%U %G %a", "/etc/opscode/webui_priv.pem")
	assert.Equal(t, "opscode root 600\n", out)

	require.NoError(t, s.Node(be1).Chown("/etc/opscode/pivotal.pem", "nosuch:root"))
	_, err = cluster.CopyTree(ctx, from, "/etc/opscode", tw, "/etc/opscode", cluster.CopyOptions{OwnersByName: true})
	var oe *cluster.OwnerError
	require.True(t, errors.As(err, &oe), "%v", err)
	assert.Equal(t, "/etc/opscode/pivotal.pem", oe.Path)
	assert.Equal(t, "nosuch:root", oe.Owner)
	assert.Contains(t, oe.Reason, "invalid user")
}

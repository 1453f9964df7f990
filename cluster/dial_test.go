package cluster_test

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/clustertest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
)

// TestDialKeepsGoing: one node refusing connections (and one with a
// changed host key) does not abort the cluster; they answer with typed
// errors while the others work.
func TestDialKeepsGoing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newSSHEnv(t)
	be2, err := clustertest.NewSSHServer(clustertest.SSHServerConfig{AuthorizedKeys: []ssh.PublicKey{e.key.PublicKey()}, Exec: clustertest.ShellExec(nil)})
	require.NoError(t, err)
	t.Cleanup(func() { be2.Close() })
	e.trust(t, be2)
	stranger, err := clustertest.NewSSHServer(clustertest.SSHServerConfig{AuthorizedKeys: []ssh.PublicKey{e.key.PublicKey()}})
	require.NoError(t, err)
	t.Cleanup(func() { stranger.Close() })
	// fe1's port refuses connections: nothing listens there any more.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	refused := ln.Addr().(*net.TCPAddr).Port
	ln.Close()

	top, err := cluster.NewTopology([]cluster.Server{
		{Name: "be1", Role: cluster.RoleBackend, Bootstrap: true},
		{Name: "be2", Role: cluster.RoleBackend},
		{Name: "fe1", Role: cluster.RoleFrontend},
		{Name: "fe2", Role: cluster.RoleFrontend},
	}, nil)
	require.NoError(t, err)
	ports := map[string]int{"be1": e.srv.Port(), "be2": be2.Port(), "fe1": refused, "fe2": stranger.Port()}
	cl, err := cluster.Dial(ctx, top, func(s cluster.Server) (cluster.SSHConfig, error) {
		cfg := e.config("root")
		cfg.Port = ports[s.Name]
		return cfg, nil
	})
	require.NotNil(t, cl, "a cluster even when some nodes are unreachable")
	defer cl.Close()

	var de *cluster.DialError
	require.ErrorAs(t, err, &de)
	assert.Equal(t, 4, de.Total)
	require.Len(t, de.Unreachable, 2)
	assert.Equal(t, "fe1", de.Unreachable[0].Node)
	assert.Equal(t, "fe2", de.Unreachable[1].Node)
	var he *cluster.HostKeyError
	assert.ErrorAs(t, err, &he, "the cause is still there to branch on")
	assert.ErrorContains(t, err, "2 of 4 nodes not reached")
	assert.ErrorContains(t, err, "fe1: not reached at 127.0.0.1:"+strconv.Itoa(refused))
	assert.ErrorContains(t, err, "connection refused")

	// The reachable nodes work.
	rs := cluster.Each(ctx, cl.All(), 0, func(ctx context.Context, n cluster.Node) (string, error) {
		res, err := n.Run(ctx, cluster.Command("echo", n.Name()))
		return string(res.Stdout), err
	})
	assert.Equal(t, "be1\n", rs[0].Value)
	assert.Equal(t, "be2\n", rs[1].Value)
	// The others answer every call with an *UnreachableError naming them.
	fe1, ok := cl.Node("fe1")
	require.True(t, ok)
	assert.Equal(t, "fe1", fe1.Name())
	var ue *cluster.UnreachableError
	require.ErrorAs(t, rs[2].Err, &ue)
	assert.Equal(t, "fe1", ue.Node)
	assert.Equal(t, "127.0.0.1:"+strconv.Itoa(refused), ue.Addr)
	require.ErrorAs(t, rs[3].Err, &ue)
	assert.Equal(t, "fe2", ue.Node)
	assert.True(t, errors.As(ue, &he))
	calls := []error{}
	_, err = fe1.ReadFile(ctx, "/etc/opscode/private-chef.rb")
	calls = append(calls, err)
	_, err = fe1.Stat(ctx, "/etc")
	calls = append(calls, err)
	_, err = fe1.ReadDir(ctx, "/etc")
	calls = append(calls, err)
	calls = append(calls, fe1.WriteFile(ctx, filepath.Join(t.TempDir(), "x"), nil, 0o600))
	tw, ok := fe1.(cluster.TreeWriter)
	require.True(t, ok, "CopyTree gets the same error, not a missing method")
	calls = append(calls, tw.Rename(ctx, "/tmp/x", "/tmp/y"), tw.RemoveAll(ctx, "/tmp/x"))
	for i, err := range calls {
		assert.ErrorAs(t, err, &ue, "call %d", i)
	}

	// Every node reached: no error.
	top2, err := cluster.NewTopology(top.Servers[:2], nil)
	require.NoError(t, err)
	cl2, err := cluster.Dial(ctx, top2, func(s cluster.Server) (cluster.SSHConfig, error) {
		cfg := e.config("root")
		cfg.Port = ports[s.Name]
		return cfg, nil
	})
	require.NoError(t, err)
	cl2.Close()
}

package upgrade

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chefha/chefha/clustertest"
)

// The heartbeat never writes over a lock another run took: it reports the
// lock lost and leaves the other run's owner file as it is.
func TestRenewLeavesATakenLockAlone(t *testing.T) {
	t.Parallel()
	sim, err := clustertest.New(clustertest.Options{Version: "11.1.8", Frontends: 1})
	require.NoError(t, err)
	t.Cleanup(func() { sim.Close() })
	ctx := context.Background()
	cl, err := sim.Dial(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { cl.Close() })
	l, err := lockAll(ctx, cl.All(), newLockOwner("plan", time.Now()), nil)
	require.NoError(t, err)
	require.NoError(t, l.renew(ctx, time.Now()), "all its own")

	be1, _ := cl.Node(sim.Bootstrap().Name)
	thief, _ := json.Marshal(LockOwner{Host: "laptop-b", PID: 4242, Nonce: "feedfacefeedface"})
	require.NoError(t, be1.WriteFile(ctx, lockOwnerFile, thief, 0o600))
	err = l.renew(ctx, time.Now())
	var lost *LockLostError
	require.True(t, errors.As(err, &lost), "%v", err)
	assert.Equal(t, be1.Name(), lost.Node)
	b, err := be1.ReadFile(ctx, lockOwnerFile)
	require.NoError(t, err)
	assert.Equal(t, string(thief), string(b), "not written over")
	require.NoError(t, l.release(ctx))
	b, err = be1.ReadFile(ctx, lockOwnerFile)
	require.NoError(t, err)
	assert.Equal(t, string(thief), string(b), "nor released")
}

package lab_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/chefha/chefha/internal/peer"
	"github.com/chefha/chefha/lab"
	"github.com/chefha/chefha/upgrade"
	"github.com/stretchr/testify/require"
)

func startLab(t *testing.T, spec lab.Spec) *lab.Lab {
	t.Helper()
	if err := lab.Check(); errors.Is(err, lab.ErrUnsupported) {
		peer.Missing(t, err.Error()+" (make test as root installs them)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	l, err := lab.Start(ctx, spec)
	require.NoError(t, err)
	t.Logf("lab of %d nodes up in %s", len(l.Nodes), time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range l.Nodes {
				b, _ := os.ReadFile(n.Root("/var/log/opscode/keepalived/cluster.log"))
				t.Logf("%s cluster.log:\n%s", n.Name, b)
			}
		}
		l.Close()
	})
	return l
}

func TestLabPreflight(t *testing.T) {
	l := startLab(t, lab.Spec{Version: "1.4.6", Frontends: 1})
	ctx := context.Background()
	cl, err := l.Dial(ctx)
	require.NoError(t, err)
	defer cl.Close()
	rep, err := upgrade.Preflight(ctx, cl, upgrade.WithTarget(semver.MustParse("11.1.8")))
	require.NoError(t, err)
	var b bytes.Buffer
	rep.WriteTable(&b)
	t.Log("\n" + b.String())
	require.False(t, rep.Failed(), b.String())
}

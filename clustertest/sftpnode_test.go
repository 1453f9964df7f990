package clustertest_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"testing"

	"github.com/chefha/chefha/cluster"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The node's SFTP server answers from its tree in memory as a real one
// would the calls the cluster package makes: WriteFile's temporary file
// renamed over the name, a large upload's concurrent writes, links read
// as links, a chown seen by stat, RemoveAll.
func TestSFTPServesTheNodeTree(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := start(t, "1.4.6")
	node, _ := s.cl.Node(fe1)
	n, ok := node.(*cluster.SSH)
	require.True(t, ok, "%T", node)
	sim := s.Node(fe1)

	require.NoError(t, n.WriteFile(ctx, "/etc/opscode/secret.rb", []byte("secret\n"), 0o600))
	st, err := sim.Stat("/etc/opscode/secret.rb")
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o600), st.Mode())
	names, err := fs.Glob(sim.FS(), "etc/opscode/.*")
	require.NoError(t, err)
	assert.Empty(t, names, "no temporary file left beside it")
	require.NoError(t, n.WriteFile(ctx, "/etc/opscode/secret.rb", []byte("again\n"), 0o640), "over the file")
	b, err := sim.ReadFile("/etc/opscode/secret.rb")
	require.NoError(t, err)
	assert.Equal(t, "again\n", string(b))

	// A package-sized upload: pkg/sftp writes its chunks at once.
	big := bytes.Repeat([]byte("chefha"), 1<<20)
	require.NoError(t, n.WriteFileFrom(ctx, "/tmp/big.deb", bytes.NewReader(big), 0o644))
	out, stderr, code := s.run(t, fe1, "sha256sum", "/tmp/big.deb")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, fmt.Sprintf("%x  /tmp/big.deb\n", sha256.Sum256(big)), out)

	fi, err := n.Stat(ctx, "/opt/opscode/service/nginx")
	require.NoError(t, err)
	assert.Equal(t, fs.ModeSymlink, fi.Mode.Type())
	assert.Equal(t, "/opt/opscode/sv/nginx", fi.Target)
	_, err = n.Stat(ctx, "/opt/opscode/service/nosuch")
	assert.ErrorIs(t, err, fs.ErrNotExist)

	require.NoError(t, n.Mkdir(ctx, "/tmp/stage", 0o700))
	require.NoError(t, n.Mkdir(ctx, "/tmp/stage/sub", 0o755))
	require.NoError(t, n.Symlink(ctx, "../secret", "/tmp/stage/link"))
	require.NoError(t, n.Chown(ctx, "/tmp/stage/sub", 498, 498))
	out, _, _ = s.run(t, fe1, "stat", "-c", "%a %U:%G %F", "/tmp/stage", "/tmp/stage/sub", "/tmp/stage/link")
	assert.Equal(t, "700 root:root directory\n755 opscode:opscode directory\n777 root:root symbolic link\n", out)
	require.NoError(t, n.Rename(ctx, "/tmp/stage", "/tmp/done"))
	require.NoError(t, n.RemoveAll(ctx, "/tmp/done"))
	_, err = sim.Lstat("/tmp/done")
	assert.ErrorIs(t, err, fs.ErrNotExist)
}

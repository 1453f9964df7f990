package upgrade_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/upgrade"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Saved facts hold private-chef.rb as read: its secrets are redacted, and
// the file is written 0600.
func TestSavedFactsRedactSecretsAndArePrivate(t *testing.T) {
	f := fixture(t, "facts-healthy.json", "1.4.6", healthy())
	rb, err := os.ReadFile("../cluster/testdata/ha-secrets.rb")
	require.NoError(t, err)
	f.Nodes[0].Sections["topology"] = upgrade.Section{Output: string(rb)}
	path := filepath.Join(t.TempDir(), "facts", "f.json")
	require.NoError(t, f.SaveFile(path))
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Contains(t, string(b), cluster.Redacted)
	assert.Contains(t, string(b), "sql_password", "the setting stays, its value goes")
	assert.NotContains(t, string(b), "FAKE", "every fake secret of the test file is redacted")
	require.NoError(t, os.Chmod(path, 0o644))
	var me *cluster.ModeError
	require.ErrorAs(t, f.SaveFile(path), &me, "a file others can read is refused")
}

// Loaded facts are checked: no nodes, two bootstraps, names that are not
// the topology's are refused with a clear error.
func TestLoadFactsValidates(t *testing.T) {
	f := fixture(t, "facts-healthy.json", "1.4.6", healthy())
	save := func(f upgrade.Facts) *bytes.Buffer {
		var b bytes.Buffer
		require.NoError(t, f.Save(&b))
		return &b
	}
	_, err := upgrade.LoadFacts(save(f))
	require.NoError(t, err)

	empty := f
	empty.Nodes = nil
	_, err = upgrade.LoadFacts(save(empty))
	assert.ErrorContains(t, err, "no node was read")

	two := f
	two.Topology.Servers = append([]cluster.Server(nil), f.Topology.Servers...)
	for i := range two.Topology.Servers {
		two.Topology.Servers[i].Bootstrap = two.Topology.Servers[i].Role == cluster.RoleBackend
	}
	_, err = upgrade.LoadFacts(save(two))
	assert.ErrorContains(t, err, "2 bootstraps")

	stranger := f
	stranger.Nodes = append([]upgrade.NodeFacts(nil), f.Nodes...)
	stranger.Nodes[2].Node = "evil.example.com"
	_, err = upgrade.LoadFacts(save(stranger))
	assert.ErrorContains(t, err, `"evil.example.com" is not a server of the topology`)
}

func FuzzLoadFacts(f *testing.F) {
	for _, name := range []string{"facts-healthy.json", "facts-broken.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"nodes":[{"node":"a"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		facts, err := upgrade.LoadFacts(bytes.NewReader(b))
		if err != nil {
			return
		}
		if len(facts.Nodes) == 0 {
			t.Fatal("facts without nodes accepted")
		}
		// Whatever loads can be judged without a panic.
		upgrade.Preflight(nil, nil, upgrade.WithFacts(facts))
	})
}

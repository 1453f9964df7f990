package stockhome

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The written home is private, holds Debian's dotfiles when the machine
// has them, and a shell that reads them gets nothing of the developer's
// environment: bash -i with HOME there says no more than bash --norc.
func TestWrite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "root")
	require.NoError(t, Write(dir))
	st, err := os.Stat(dir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), st.Mode().Perm())
	for _, f := range files {
		got, err := os.ReadFile(filepath.Join(dir, f))
		require.NoError(t, err)
		want, err := os.ReadFile(filepath.Join(Skeleton, "dot"+f[1:]))
		if err != nil {
			want = nil
		}
		assert.Equal(t, string(want), string(got), f)
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash here: nothing reads the dotfiles")
	}
	env := func(args ...string) string {
		cmd := exec.Command(bash, args...)
		cmd.Env = []string{"HOME=" + dir, "PATH=/usr/bin:/bin"}
		out, err := cmd.Output()
		require.NoError(t, err, "%v", args)
		return strings.TrimSpace(string(out))
	}
	assert.Equal(t, env("--norc", "-c", "env | sort"), env("-c", "[ -f ~/.bashrc ] && . ~/.bashrc; env | sort"))
	// Writing again keeps it so (a lab node's home is made fresh, a test
	// sshd's once per test).
	require.NoError(t, Write(dir))
}

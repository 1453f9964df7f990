package proc

import (
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStart(t *testing.T) {
	me := Start(os.Getpid())
	assert.NotEmpty(t, me)
	assert.Equal(t, me, Start(os.Getpid()), "the same process, the same start")
	gone := exec.Command("true")
	require.NoError(t, gone.Run())
	assert.Empty(t, Start(gone.Process.Pid), "a process that exited")
	assert.Empty(t, Start(0))
}

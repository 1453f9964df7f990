package runit_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/chefha/chefha/runit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseStatusDisabled(t *testing.T) {
	b, err := os.ReadFile("testdata/pcc-status-disabled.txt")
	require.NoError(t, err)
	_, body, _ := bytes.Cut(b, []byte("\n"))
	st, err := runit.ParseStatus(bytes.NewReader(body))
	require.NoError(t, err)
	require.Len(t, st, 6)
	assert.Equal(t, runit.ServiceStatus{Service: "nginx", Name: "nginx", State: runit.StateDisabled}, st[0])
	assert.False(t, st[0].Up())
	assert.Equal(t, runit.StateRun, st[1].State)
	for _, bad := range []string{" disabled", "a b disabled", "x: disabled"} {
		_, err := runit.ParseStatusLine(bad)
		assert.Error(t, err, bad)
	}
}

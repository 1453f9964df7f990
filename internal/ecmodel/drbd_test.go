package ecmodel

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// A held resync stands still, for its target and its peer alike, and
// goes on from where it stood once released; holding a node that is not
// the target changes nothing.
func TestDRBDHoldSync(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	d := NewDRBDPair("be1", "be2")
	d.Role["be1"] = "Primary"
	// Half done at 100 MiB/s: 6.88 s to go.
	assert.NoError(t, d.Fault(DRBDFault{Kind: "resync", Done: 50, Speed: 100 * 1024}, "be2", t0))
	assert.False(t, d.HoldSync("be1", true, t0), "be1 is the source")
	assert.True(t, d.HoldSync("be2", true, t0.Add(time.Second)))
	assert.False(t, d.HoldSync("be2", true, t0.Add(time.Second)), "held already")
	late := t0.Add(time.Hour)
	assert.Equal(t, "SyncTarget", d.cstate("be2", late))
	assert.Equal(t, "SyncSource", d.cstate("be1", late))
	assert.Equal(t, "Inconsistent/UpToDate", d.dstates("be2", late))
	assert.True(t, d.HoldSync("be2", false, late))
	assert.Equal(t, "SyncTarget", d.cstate("be2", late.Add(5*time.Second)), "5.88 s left after the release")
	assert.Equal(t, "UpToDate/UpToDate", d.dstates("be2", late.Add(6*time.Second)))
	assert.Nil(t, d.Sync)
	assert.False(t, d.HoldSync("be2", true, late.Add(7*time.Second)), "no resync to hold")
}

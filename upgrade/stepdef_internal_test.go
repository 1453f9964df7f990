package upgrade

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// A step is done only from facts actually read: one of its nodes
// unreadable, it is not done, whatever its check says of the others.
func TestDoneNeedsItsNodesRead(t *testing.T) {
	always := stepDef{done: func(*stepRun) (bool, string) { return true, "" }}
	facts := Facts{Nodes: []NodeFacts{{Node: "be1"}, {Node: "be2", Err: "be2 unreadable: the read timed out after 10s"}}}
	sr := func(nodes ...string) *stepRun {
		return &stepRun{step: Step{ID: "hop1/x", Nodes: nodes}, in: Input{Facts: facts}}
	}
	ok, _ := always.doneOn(sr("be1"))
	assert.True(t, ok)
	ok, why := always.doneOn(sr("be1", "be2"))
	assert.False(t, ok)
	assert.Contains(t, why, "be2 could not be read")
	ok, _ = stepDef{}.doneOn(sr("be1"))
	assert.False(t, ok, "a step with no done check is never done by the cluster's word")
}

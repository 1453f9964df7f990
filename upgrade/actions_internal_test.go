package upgrade

import (
	"testing"

	"github.com/chefha/chefha/cluster"
	"github.com/stretchr/testify/assert"
)

// An sv timeout is OC-11657 only under sv's 7 s default: under chefha's
// SVWAIT=30 it is a service slower than that, and said so.
func TestNameIssueOfAnSvTimeout(t *testing.T) {
	out := "timeout: run: opscode-expander: (pid 1234) 35s, normally up\n"
	for _, tt := range []struct {
		cmd, want, not string
	}{
		{"private-chef-ctl stop", "this is OC-11657", "chefha's wait"},
		{cluster.ShellJoin(ctl("stop")), "within 30 s (chefha's wait, not OC-11657's 7 s default)", "this is OC-11657"},
	} {
		err := nameIssue(&cluster.ExitError{Node: "be1", Cmd: tt.cmd, Result: cluster.Result{Stdout: []byte(out), ExitCode: 1}})
		assert.Contains(t, err.Error(), tt.want)
		assert.NotContains(t, err.Error(), tt.not)
		assert.Contains(t, err.Error(), "not in the state asked for: timeout: run: opscode-expander")
	}
}

// 11.1.7+'s reconfigure after 1.x fails on a back end without its level
// (recipes/partybus.rb:54-77 @11.1.8): the error names OC-11297.
func TestNameIssueOfAMissingLevel(t *testing.T) {
	stderr := "RuntimeError\n------------\nERROR:\nThe /var/opt/opscode/upgrades/migration-level file is missing or corrupt!  Please read …\n"
	err := nameIssue(&cluster.ExitError{Node: "be1", Cmd: "private-chef-ctl reconfigure", Result: cluster.Result{Stderr: []byte(stderr), ExitCode: 1}})
	assert.Contains(t, err.Error(), "this is OC-11297")
}

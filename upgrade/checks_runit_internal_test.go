package upgrade

import (
	"testing"

	"github.com/chefha/chefha/runit"
	"github.com/stretchr/testify/assert"
)

// After the 11.x job swap a runsv may go on failing to lock the
// supervise/lock of a service EC 11 removed (nagios: its link stays until
// cleanup, the old job's runsv still holding it): on an EC 11 node that is
// a warning pointing at cleanup, not a failed post-flight. The same lock
// message on a service the node runs, or on a 1.x node, fails the
// pre-flight; a gate waits for runsvdir to start that service's runsv
// again (the lab met it after the job swap under load).
func TestRemovedServiceLockIsForCleanup(t *testing.T) {
	ps := func(service string) string {
		return "  PID  PPID USER     STAT COMMAND\n" +
			"  700     1 root     S    runsvdir -P /opt/opscode/service log: ........runsv " + service + ": fatal: unable to lock supervise/lock: temporary failure?\n" +
			"  701   700 root     Ss   runsv opscode-account\n"
	}
	for _, tc := range []struct {
		name, version, service string
		want                   map[string]Severity // symptom → severity
	}{
		{"EC 11, a removed service", "11.1.8", "nagios", map[string]Severity{"removed-service-lock": Warn}},
		{"EC 11, a service it runs", "11.1.8", "opscode-erchef", map[string]Severity{"runsvdir-errors": Fail}},
		{"1.4.6, nagios is its own", "1.4.6", "nagios", map[string]Severity{"runsvdir-errors": Fail}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := NodeFacts{Node: "be2.chefha.test", Role: "backend", Sections: map[string]Section{
				"manifest": {Output: "private-chef " + tc.version + "\n"},
				"ps":       {Output: ps(tc.service)},
			}}
			in := newInput(Facts{Nodes: []NodeFacts{n}}, nil, Backup{}, ModePostFlight)
			got := map[string]Severity{}
			for _, f := range checkRunitProcesses(in) {
				got[f.Symptom] = f.Severity
			}
			assert.Equal(t, tc.want, got)

			// The gates judge the runsvdir by the same rule.
			v := &nodeView{NodeFacts: n}
			procs, err := v.Processes()
			assert.NoError(t, err)
			for _, rd := range runit.FindRunsvdirs(procs) {
				faults, relocking := gateRunsvdirErrors(v, rd)
				assert.Empty(t, faults, "the gate's faults")
				if tc.want["runsvdir-errors"] == Fail {
					assert.Equal(t, []string{tc.service}, relocking, "the gate waits")
				} else {
					assert.Empty(t, relocking)
				}
			}
		})
	}
}

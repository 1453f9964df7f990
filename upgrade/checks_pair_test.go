package upgrade_test

import (
	"strings"
	"testing"

	"github.com/Masterminds/semver/v3"
	"github.com/chefha/chefha/keepalived"
	"github.com/chefha/chefha/upgrade"
	"github.com/stretchr/testify/assert"
)

// A back end without a readable requested_cluster_status is not judged
// healthy: ha-status File.reads it and stops there (ha.rb:67, exit 1),
// so the pair check cannot vouch for the node, and says which file.
func TestPairWithoutARequestedStatus(t *testing.T) {
	for _, sec := range []upgrade.Section{
		{Output: "cat: " + keepalived.RequestedPath + ": No such file or directory\n", RC: 1},
		{Output: "", RC: 0},
	} {
		f := fixture(t, "facts-healthy.json", "1.4.6", healthy())
		for i, n := range f.Nodes {
			if n.Node == be2 {
				f.Nodes[i].Sections["requested"] = sec
			}
		}
		rep := judge(t, f, semver.MustParse("11.1.8"), upgrade.WithBackup(upgrade.Backup{Description: "LVM snapshot"}))
		assert.True(t, has(rep, want{"keepalived-pair", be2, upgrade.Fail, ""}), table(rep))
		assert.True(t, rep.Failed(), "%q: %s", sec.Output, table(rep))
		var ev []string
		for _, fd := range findingsOf(rep, "keepalived-pair") {
			ev = append(ev, fd.Evidence...)
		}
		assert.Contains(t, strings.Join(ev, "\n"), keepalived.RequestedPath)
	}
}

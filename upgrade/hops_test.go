package upgrade

import (
	"errors"
	"testing"

	"github.com/Masterminds/semver/v3"
	"github.com/chefha/chefha/migration"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPlanHops(t *testing.T) {
	v := semver.MustParse
	tests := []struct {
		from, to  string
		hops      []string // "from→to"
		levels    [][2]migration.Level
		mandatory string
		skippable string
	}{
		{from: "1.2.8", to: "11.1.8", hops: []string{"1.2.8→1.4.6", "1.4.6→11.1.8"},
			levels: [][2]migration.Level{{lv(1, 4), lv(1, 7)}, {lv(1, 7), lv(1, 13)}}},
		{from: "1.2.8", to: "1.4.6", hops: []string{"1.2.8→1.4.6"}},
		{from: "1.2.8", to: "1.4.9", hops: []string{"1.2.8→1.4.6", "1.4.6→1.4.9"}},
		{from: "1.4.6", to: "11.1.3", hops: []string{"1.4.6→11.1.3"}, levels: [][2]migration.Level{{lv(1, 7), lv(1, 13)}}},
		{from: "1.4.6", to: "11.1.8", hops: []string{"1.4.6→11.1.8"}},
		{from: "1.4.7", to: "11.1.8", hops: []string{"1.4.7→11.1.8"}},
		{from: "11.0.2", to: "11.1.8", hops: []string{"11.0.2→11.1.8"}, levels: [][2]migration.Level{{lv(1, 12), lv(1, 13)}}},
		{from: "11.1.3", to: "11.1.8", hops: []string{"11.1.3→11.1.8"}},
		{from: "11.1.8", to: "11.1.8"},
		{from: "1.4.6", to: "11.0.2", hops: []string{"1.4.6→11.0.2"}, skippable: "missing hop 1.4.6 → 11.1.3+"},
		{from: "1.4.6", to: "11.1.2", hops: []string{"1.4.6→11.1.2"}, skippable: "11.1.3+"},
		{from: "11.1.8", to: "1.4.6", mandatory: "downgrade"},
		{from: "1.4.5", to: "11.1.8", mandatory: "installed version 1.4.5 has no known migration level"},
		{from: "1.2.6", to: "11.1.8", mandatory: "installed version 1.2.6"},
		{from: "1.4.6", to: "12.0.0", mandatory: "target 12.0.0 has no known migration level"},
		{from: "11.1.8", to: "11.4.0", mandatory: "target 11.4.0"},
	}
	for _, tt := range tests {
		t.Run(tt.from+"→"+tt.to, func(t *testing.T) {
			hops, err := PlanHops(v(tt.from), v(tt.to))
			var pe *PlanError
			switch {
			case tt.mandatory != "":
				require.True(t, errors.As(err, &pe), "%v", err)
				assert.False(t, pe.OnlySkippable())
				assert.Contains(t, err.Error(), tt.mandatory)
				assert.Empty(t, hops)
				return
			case tt.skippable != "":
				require.True(t, errors.As(err, &pe), "%v", err)
				assert.True(t, pe.OnlySkippable())
				assert.Contains(t, err.Error(), tt.skippable)
			default:
				require.NoError(t, err)
			}
			var got []string
			for _, h := range hops {
				got = append(got, h.From.String()+"→"+h.To.String())
			}
			assert.Equal(t, tt.hops, got)
			for i, l := range tt.levels {
				assert.Equal(t, l[0], hops[i].LevelBefore)
				assert.Equal(t, l[1], hops[i].LevelAfter)
			}
		})
	}
	_, err := PlanHops(nil, v("11.1.8"))
	assert.Error(t, err)
}

func lv(major, minor int) migration.Level { return migration.Level{Major: major, Minor: minor} }

// A hop to 11.2.0 is skippable, for what the packaging says its
// reconfigure does to the Upstart jobs: a job whose pre-stop runs a
// command the package lacks, and, from 11.x, the old job left running.
func TestPlanHopsTo1120(t *testing.T) {
	v := semver.MustParse
	_, err := PlanHops(v("11.1.8"), v("11.2.0"))
	var pe *PlanError
	require.ErrorAs(t, err, &pe)
	require.Len(t, pe.Skippable, 1)
	assert.Contains(t, pe.Skippable[0], "private_chef-runsvdir, whose pre-stop runs /usr/bin/private_chef-ctl")
	assert.Contains(t, pe.Skippable[0], "it leaves 11.1.8's job private-chef-runsvdir running beside it")
	_, err = PlanHops(v("1.4.6"), v("11.2.0"))
	require.ErrorAs(t, err, &pe)
	assert.NotContains(t, pe.Skippable[0], "beside it", "1.4.6's job is stopped and deleted")
	_, err = PlanHops(v("11.1.6"), v("11.1.8"))
	assert.NoError(t, err)
}

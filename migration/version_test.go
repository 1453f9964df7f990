package migration

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The runbook's table, plus the packaging sources' rows around it.
func TestExpected(t *testing.T) {
	tests := []struct {
		version string
		want    Level
		unknown bool
	}{
		{version: "1.2.8.3", want: Level{1, 4}},
		{version: "1.4.6", want: Level{1, 7}},
		{version: "1.4.9-1", want: Level{1, 7}},
		{version: "11.0.0", want: Level{1, 12}},
		{version: "11.0.2-1.el6", want: Level{1, 12}},
		{version: "11.1.3", want: Level{1, 13}},
		{version: "11.1.8-1", want: Level{1, 13}},
		{version: "11.3.2", want: Level{1, 13}},
		{version: "1.2.6", unknown: true},
		{version: "1.4.5", unknown: true},
		{version: "11.4.0", unknown: true},
		{version: "12.0.0", unknown: true},
		{version: "0.9.0", unknown: true},
	}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			v, err := ParseVersion(tt.version)
			require.NoError(t, err)
			got, err := Expected(v)
			if tt.unknown {
				var uv *UnknownVersionError
				require.ErrorAs(t, err, &uv)
				assert.Contains(t, err.Error(), tt.version[:4])
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
	_, err := Expected(nil)
	assert.Error(t, err)
}

func TestParseVersion(t *testing.T) {
	v, err := ParseVersion("1.2.8.3")
	require.NoError(t, err)
	assert.Equal(t, "1.2.8+3", v.String())
	for _, bad := range []string{"", "11", "11.1", "eleven", "11.1.x", "99999999999.0.0"} {
		_, err := ParseVersion(bad)
		assert.Error(t, err, bad)
	}
}

func TestTableHasNoOverlap(t *testing.T) {
	rows := Table()
	for i := 1; i < len(rows); i++ {
		assert.False(t, rows[i].Min.LessThan(rows[i-1].Max), "%s overlaps %s", rows[i], rows[i-1])
		assert.True(t, rows[i-1].Level.Less(rows[i].Level), "levels rise with releases")
	}
}

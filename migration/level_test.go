package migration

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseFixtures(t *testing.T) {
	tests := []struct {
		file    string
		want    Level
		empty   bool
		corrupt string // substring of the CorruptError's reason
	}{
		{file: "pc1.4.6-1.7.json", want: Level{1, 7}},
		{file: "ec11.0-1.12.json", want: Level{1, 12}},
		{file: "ec11.1-1.13.json", want: Level{1, 13}},
		{file: "pretty-1.13.json", want: Level{1, 13}},
		{file: "empty.json", empty: true},
		{file: "truncated.json", corrupt: "not a JSON object"},
		{file: "zeroed.json", corrupt: "not a JSON object"},
		{file: "missing-minor.json", corrupt: "required"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", tt.file))
			require.NoError(t, err)
			got, err := Parse(b)
			switch {
			case tt.empty:
				assert.ErrorIs(t, err, ErrEmpty)
			case tt.corrupt != "":
				var ce *CorruptError
				require.ErrorAs(t, err, &ce)
				assert.Contains(t, ce.Reason, tt.corrupt)
			default:
				require.NoError(t, err)
				assert.Equal(t, tt.want, got)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	for _, in := range []string{
		`   `,
		`{"major":1,"minor":13}{"major":1,"minor":7}`,
		`{"major":1.5,"minor":13}`,
		`{"major":1,"minor":"13"}`,
		`{"major":-1,"minor":13}`,
		`{"major":null,"minor":13}`,
		`[1,13]`,
		`1.13`,
		`{"major":1,"minor":99999999999999999999999}`,
	} {
		_, err := Parse([]byte(in))
		assert.Error(t, err, "input %q", in)
	}
}

func TestFormatRoundTrip(t *testing.T) {
	for _, l := range []Level{{1, 4}, {1, 7}, {1, 12}, {1, 13}, {0, 0}} {
		b := Format(l)
		assert.Equal(t, byte('\n'), b[len(b)-1])
		got, err := Parse(b)
		require.NoError(t, err)
		assert.Equal(t, l, got)
	}
	want, err := os.ReadFile("testdata/ec11.1-1.13.json")
	require.NoError(t, err)
	assert.Equal(t, string(want), string(Format(Level{1, 13})))
}

func TestOrdering(t *testing.T) {
	assert.True(t, Level{1, 7}.Less(Level{1, 12}), "minor compares numerically, not as text")
	assert.True(t, Level{1, 13}.Less(Level{2, 0}))
	assert.Equal(t, 0, Level{1, 13}.Compare(Level{1, 13}))
	assert.Equal(t, 1, Level{2, 1}.Compare(Level{1, 99}))
	assert.Equal(t, "1.13", Level{1, 13}.String())
}

func TestCorruptErrorUnwraps(t *testing.T) {
	_, err := Parse([]byte(`{"major":`))
	var ce *CorruptError
	require.ErrorAs(t, err, &ce)
	assert.NotNil(t, errors.Unwrap(err), "the JSON error stays reachable")
	assert.Contains(t, err.Error(), `{\"major\":`)
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{`{"major":1,"minor":13}`, ``, `{"major":1,"mi`, `{"major":1,"minor":7}` + "\n", `null`, `{}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := Parse(b)
		if err != nil {
			return
		}
		if l.Major < 0 || l.Minor < 0 {
			t.Fatalf("Parse(%q) = %v: negative level accepted", b, l)
		}
		// A level that parsed must survive a round trip through Format.
		again, err := Parse(Format(l))
		if err != nil || again != l {
			t.Fatalf("round trip of %v: %v, %v", l, again, err)
		}
	})
}

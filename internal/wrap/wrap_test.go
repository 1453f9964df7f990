package wrap

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
)

func TestHanging(t *testing.T) {
	for _, tt := range []struct {
		name, in   string
		width, ind int
		want       string
	}{
		{"fits", "[    0.1s] ▶ hop1/backup", 80, 13, "[    0.1s] ▶ hop1/backup"},
		{"cut under its stamp, spacing kept", "[    0.1s]     wait until be1 is master and stable", 30, 13,
			"[    0.1s]     wait until be1\n             is master and\n             stable"},
		{"each line on its own", "refused: a b c\n  be1: d e f", 10, 4, "refused: a\n    b c\n  be1: d e\n    f"},
		{"a word longer than the room stays whole", "see /a/very/long/path/that/does/not/fit here", 12, 2, "see\n  /a/very/long/path/that/does/not/fit\n  here"},
		{"empty", "", 10, 2, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := Hanging(tt.in, tt.width, tt.ind)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, strings.Join(strings.Fields(tt.in), " "), strings.Join(strings.Fields(got), " "), "no word lost or added")
		})
	}
}

func TestLinesAndCommand(t *testing.T) {
	assert.Equal(t, []string{"abc", "defg", "h"}, Lines("abcdefgh", 3, 4), "a word longer than a line is cut")
	cmd := Command("go run ./examples/upgrade -backup-waived 'a VM snapshot' -config /etc/opscode/private-chef.rb -apply", 40)
	for _, l := range strings.Split(strings.TrimSuffix(cmd, "\n"), "\n") {
		assert.LessOrEqual(t, utf8.RuneCountInString(l), 40, l)
	}
	assert.Contains(t, cmd, "'a VM snapshot'", "never cut inside quotes")
	assert.Equal(t, "go run ./examples/upgrade -backup-waived 'a VM snapshot' -config /etc/opscode/private-chef.rb -apply",
		strings.Join(strings.Fields(strings.ReplaceAll(cmd, " \\\n", " ")), " "), "pastes as the command")
}

func FuzzHanging(f *testing.F) {
	f.Add("[    0.1s] ✗ step hop1/verify: two\n  be1: x", 20, 4)
	f.Fuzz(func(t *testing.T, s string, width, indent int) {
		if width < 1 || width > 200 || indent < 0 || indent >= width || !utf8.ValidString(s) || strings.ContainsAny(s, "\t\r") {
			return
		}
		got := Hanging(s, width, indent)
		if strings.Join(strings.Fields(got), " ") != strings.Join(strings.Fields(s), " ") {
			t.Fatalf("words changed: %q → %q", s, got)
		}
	})
}

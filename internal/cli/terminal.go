package cli

import (
	"bytes"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/term"

	"github.com/chefha/chefha/internal/wrap"
	"github.com/chefha/chefha/upgrade"
)

// fder is an *os.File, or anything else with a descriptor.
type fder interface{ Fd() uintptr }

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(fder)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Width is the width to print on w: override when positive, else the
// terminal's columns when w is a terminal that says, else
// upgrade.DefaultWidth (80): a pipe or a file gets the traditional width.
func Width(w io.Writer, override int) int {
	if override > 0 {
		return override
	}
	// COLUMNS, as the shell exports it (or the user sets it for a pipe),
	// wins over asking the terminal.
	if cols, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && cols > 0 {
		return cols
	}
	if f, ok := w.(fder); ok && term.IsTerminal(int(f.Fd())) {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 0 {
			return cols
		}
	}
	return upgrade.DefaultWidth
}

// MarkSimulation adds "simulation": true as the first field of a JSON
// object (one line of JSON Lines, or an indented document), so that a
// program reading the output of a simulated run cannot take it for a real
// cluster's. Anything but an object is returned unchanged.
func MarkSimulation(obj []byte) []byte {
	trimmed := bytes.TrimLeft(obj, " \t\r\n")
	if len(trimmed) < 2 || trimmed[0] != '{' {
		return obj
	}
	rest := bytes.TrimLeft(trimmed[1:], " \t\r\n")
	if len(rest) == 0 {
		return obj
	}
	out := []byte(`{"simulation":true`)
	if rest[0] != '}' {
		out = append(out, ',')
	}
	return append(out, trimmed[1:]...)
}

// Wrap breaks text at spaces into lines of at most width runes (a longer
// word keeps its own line), each ending in a newline: one paragraph,
// fitted as wrap.Hanging fits a line.
func Wrap(text string, width int) string {
	return wrap.Hanging(strings.Join(strings.Fields(text), " "), width, 0) + "\n"
}

// Package wrap fits text to a terminal's width: prose cut at blanks with
// a hanging indent, and shell commands cut so that they still paste (each
// cut line ends in " \").
package wrap

import (
	"strings"
	"unicode/utf8"
)

// Lines breaks s at blanks into lines of at most firstWidth runes, then
// restWidth; a word longer than a line is cut.
func Lines(s string, firstWidth, restWidth int) []string {
	var lines []string
	avail := max(firstWidth, 1)
	var cur []rune
	flush := func() {
		lines = append(lines, strings.TrimRight(string(cur), " "))
		cur = cur[:0]
		avail = max(restWidth, 1)
	}
	for _, word := range strings.Fields(s) {
		wr := []rune(word)
		if len(cur) > 0 && len(cur)+1+len(wr) > avail {
			flush()
		}
		if len(cur) > 0 {
			cur = append(cur, ' ')
		}
		for len(cur)+len(wr) > avail { // a word longer than the line: cut it
			n := avail - len(cur)
			cur = append(cur, wr[:n]...)
			wr = wr[n:]
			flush()
		}
		cur = append(cur, wr...)
	}
	if len(cur) > 0 || len(lines) == 0 {
		flush()
	}
	return lines
}

// Hanging fits each line of text to width runes, cutting at the last
// blank that fits; the lines it adds are indented by indent blanks. It
// keeps a line's own spacing (aligned columns, a padded time stamp), and
// leaves whole a word longer than the room.
func Hanging(text string, width, indent int) string {
	pad := strings.Repeat(" ", indent)
	var out []string
	for _, line := range strings.Split(text, "\n") {
		r, prefix, room := []rune(line), "", width
		for len(r) > room {
			lead := 0
			for lead < len(r) && r[lead] == ' ' {
				lead++
			}
			cut := -1
			for i := min(room, len(r)-1); i > lead; i-- {
				if r[i] == ' ' {
					cut = i
					break
				}
			}
			for i := room + 1; cut < 0 && i < len(r); i++ { // a long word: after it
				if r[i] == ' ' {
					cut = i
				}
			}
			if cut < 0 {
				break
			}
			out = append(out, prefix+strings.TrimRight(string(r[:cut]), " "))
			r = []rune(strings.TrimLeft(string(r[cut:]), " "))
			prefix, room = pad, max(width-indent, 1)
		}
		out = append(out, prefix+string(r))
	}
	return strings.Join(out, "\n")
}

// Command writes a shell command to copy and paste, indented by two
// spaces: cut at blanks outside single quotes, each cut line ending in
// " \" and the next indented by six.
func Command(cmd string, width int) string {
	var words []string
	start, quoted := 0, false
	for i := 0; i < len(cmd); i++ {
		switch {
		case cmd[i] == '\'':
			quoted = !quoted
		case cmd[i] == ' ' && !quoted:
			if i > start {
				words = append(words, cmd[start:i])
			}
			start = i + 1
		}
	}
	if start < len(cmd) {
		words = append(words, cmd[start:])
	}
	var b strings.Builder
	line, indent := "  ", "  "
	for i, w := range words {
		if i > 0 && utf8.RuneCountInString(line)+1+utf8.RuneCountInString(w)+2 > width {
			b.WriteString(line + " \\\n")
			line, indent = "      ", "      "
		}
		if line != indent {
			line += " "
		}
		line += w
	}
	b.WriteString(line + "\n")
	return b.String()
}

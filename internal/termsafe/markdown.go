package termsafe

import "strings"

// markdownEscaper backslash-escapes what Markdown would read as markup.
var markdownEscaper = strings.NewReplacer(`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`,
	"<", "&lt;", ">", "&gt;", "&", "&amp;", "|", `\|`, "#", `\#`, "!", `\!`)

// MarkdownCell is Line for prose in a Markdown table cell: text from a
// node, a file or the runner, with what Markdown would read as markup
// escaped, so that a rendered report shows it as written (on a terminal
// the escapes show). Line already escaped the line breaks a cell cannot
// hold. A value an operator copies (a file name, a digest) goes in
// MarkdownCode instead.
func MarkdownCell(s string) string { return markdownEscaper.Replace(Line(s)) }

// MarkdownCode is Line as a Markdown code span for a table cell: copied
// from a terminal or a rendered page it is the value as written, but for
// the | a table cell needs escaped even there. The fence is one backtick
// longer than the longest run in s.
func MarkdownCode(s string) string {
	s = strings.ReplaceAll(Line(s), "|", `\|`)
	fence := strings.Repeat("`", backticks(s)+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		s = " " + s + " "
	}
	return fence + s + fence
}

// MarkdownBlock is String as a fenced code block of the language lang
// (text, sh): the fence is longer than any run of backticks in s, and
// three at least.
func MarkdownBlock(s, lang string) string {
	s = String(strings.TrimRight(s, "\n"))
	fence := strings.Repeat("`", max(3, backticks(s)+1))
	return fence + lang + "\n" + s + "\n" + fence
}

// backticks is the longest run of backticks in s.
func backticks(s string) int {
	run, longest := 0, 0
	for _, c := range s {
		if c == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return longest
}

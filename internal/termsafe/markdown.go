package termsafe

import "strings"

// markdownEscaper backslash-escapes what Markdown would read as markup.
var markdownEscaper = strings.NewReplacer(`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`,
	"<", "&lt;", ">", "&gt;", "&", "&amp;", "|", `\|`, "#", `\#`, "!", `\!`)

// MarkdownCell is Line for a Markdown table cell: text from a node, a file
// or the runner, with what Markdown would read as markup escaped, so that
// the report or plan shows it as written whether read on a terminal or
// rendered. Line already escaped the line breaks a cell cannot hold.
func MarkdownCell(s string) string { return markdownEscaper.Replace(Line(s)) }

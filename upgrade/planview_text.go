package upgrade

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/chefha/chefha/internal/termsafe"
	"github.com/chefha/chefha/internal/wrap"
)

// WriteJSON writes the view as one JSON object on one line (the schema is
// PlanView's), so that it sits among the runner's events, one per line.
func (v PlanView) WriteJSON(w io.Writer) error {
	return json.NewEncoder(w).Encode(v)
}

// WriteText writes the plan for a terminal width columns wide (0:
// DefaultWidth): the hops, a table of the nodes (role, installed → target,
// migration level now → after), the known issues and what chefha does
// about each, the stops of service, the steps one line each, and the
// command to run next. Prose is wrapped and long step lines cut to the
// width; only the node table may be wider, when node names are. Text read
// from nodes, files and flags is escaped for the terminal (termsafe).
func (v PlanView) WriteText(w io.Writer, width int) error {
	if width <= 0 {
		width = DefaultWidth
	}
	width = max(width, minWidth)
	b := &strings.Builder{}
	writeWrapped(b, "", "", fmt.Sprintf("%s plan %s → %s: %s, %s (plan %s)", termsafe.Line(string(v.Phase)),
		termsafe.Line(v.From), termsafe.Line(v.To), count(len(v.Hops), "hop"), count(len(v.Steps), "step"), termsafe.Line(v.Plan)), width)
	for i, h := range v.Hops {
		writeWrapped(b, fmt.Sprintf("  hop %d: ", i+1), "         ", h.String(), width)
	}
	for _, p := range v.Packages {
		writeWrapped(b, "  package: ", "           ", termsafe.Line(fmt.Sprintf("%s (%s %s, sha256 %s)", p.File, p.Family, p.Version, clip(p.SHA256, 13))), width)
	}

	b.WriteString("\n")
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tROLE\tVERSION\tMIGRATION LEVEL")
	var problems []string
	for _, n := range v.Nodes {
		role := termsafe.Line(n.Role)
		if n.Bootstrap {
			role += ", bootstrap"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s → %s\t%s → %s\n", termsafe.Line(n.Node), role, orQuery(termsafe.Line(n.Installed)), termsafe.Line(n.Target),
			orQuery(termsafe.Line(n.LevelNow)), termsafe.Line(n.LevelAfter))
		if n.Problem != "" {
			problems = append(problems, termsafe.Line(n.Node)+": "+termsafe.Line(n.Problem))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, p := range problems {
		writeWrapped(b, "  ? ", "    ", p, width)
	}

	if len(v.Issues) > 0 {
		b.WriteString("\n")
		writeWrapped(b, "", "", "known issues on this path, and what chefha does about each:", width)
		for _, k := range v.Issues {
			id := termsafe.Line(string(k.ID))
			pad := strings.Repeat(" ", len(id)+4)
			writeWrapped(b, "  "+id+"  ", pad, termsafe.Line(k.Title), width)
			writeWrapped(b, pad+"→ ", pad+"  ", termsafe.Line(string(k.Mitigation)+": "+k.Action), width)
			if len(k.Steps) > 0 {
				writeWrapped(b, pad+"  in ", pad+"     ", termsafe.Line(strings.Join(k.Steps, ", ")), width)
			}
		}
	}

	if len(v.Outages) > 0 {
		b.WriteString("\n")
		writeWrapped(b, "", "", "stops of service:", width)
		for _, o := range v.Outages {
			span := "during " + o.FromStep
			if o.UntilStep != o.FromStep {
				span = "from " + o.FromStep + " until " + o.UntilStep
			}
			if o.Measured > 0 {
				span += fmt.Sprintf(", %s in the rehearsal", roughly(o.Measured))
			}
			writeWrapped(b, "  - ", "    ", termsafe.Line(fmt.Sprintf("%s (%s) %s: %s", o.Kind, strings.Join(o.Nodes, ", "), span, o.Effect)), width)
		}
	}

	if len(v.Steps) > 0 {
		b.WriteString("\n")
		n := 0
		for _, s := range v.Steps {
			n = max(n, len(termsafe.Line(s.ID)))
		}
		writeWrapped(b, "", "", "steps:", width)
		if 2+2+2+n+2+20 > width { // no room for a title column: the title under the id
			for i, s := range v.Steps {
				writeWrapped(b, fmt.Sprintf("  %2d  ", i+1), "      ", termsafe.Line(s.ID), width)
				writeWrapped(b, "        ", "        ", termsafe.Line(s.Title), width)
			}
		} else {
			pad := strings.Repeat(" ", 2+2+2+n+2)
			for i, s := range v.Steps {
				writeWrapped(b, fmt.Sprintf("  %2d  %-*s  ", i+1, n, termsafe.Line(s.ID)), pad, termsafe.Line(s.Title), width)
			}
		}
	}
	for _, w := range v.Warnings {
		b.WriteString("\n")
		writeWrapped(b, "warning: ", "         ", termsafe.Line(w), width)
	}
	if v.Next != "" {
		b.WriteString("\n")
		b.WriteString("next:\n")
		writeCommand(b, termsafe.Line(v.Next), width)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeCommand writes a shell command to copy and paste (wrap.Command).
func writeCommand(b *strings.Builder, cmd string, width int) { b.WriteString(wrap.Command(cmd, width)) }

// WriteMarkdown writes the plan as a Markdown document (GitHub tables),
// for a change ticket or a review. Text read from nodes, files and flags
// is escaped as for a terminal, and | in table cells.
func (v PlanView) WriteMarkdown(w io.Writer) error {
	b := &strings.Builder{}
	fmt.Fprintf(b, "# chefha %s plan: %s → %s\n\n", md(string(v.Phase)), md(v.From), md(v.To))
	fmt.Fprintf(b, "Plan %s: %s, %s.\n\n", termsafe.MarkdownCode(v.Plan), count(len(v.Hops), "hop"), count(len(v.Steps), "step"))
	if len(v.Hops) > 0 {
		b.WriteString("| hop | from | to | migration level |\n|---|---|---|---|\n")
		for i, h := range v.Hops {
			fmt.Fprintf(b, "| %d | %s | %s | %s → %s |\n", i+1, md(h.From), md(h.To), md(h.LevelBefore), md(h.LevelAfter))
		}
		b.WriteString("\n")
	}
	if len(v.Packages) > 0 {
		b.WriteString("| package file | family | version | sha256 |\n|---|---|---|---|\n")
		for _, p := range v.Packages {
			fmt.Fprintf(b, "| %s | %s | %s | %s |\n", termsafe.MarkdownCode(p.File), md(p.Family), md(p.Version), termsafe.MarkdownCode(p.SHA256))
		}
		b.WriteString("\n")
	}
	b.WriteString("## Nodes\n\n| node | role | installed → target | migration level now → after | problem |\n|---|---|---|---|---|\n")
	for _, n := range v.Nodes {
		role := md(n.Role)
		if n.Bootstrap {
			role += ", bootstrap"
		}
		fmt.Fprintf(b, "| %s | %s | %s → %s | %s → %s | %s |\n", md(n.Node), role, orQuery(md(n.Installed)), md(n.Target), orQuery(md(n.LevelNow)), md(n.LevelAfter), md(n.Problem))
	}
	if len(v.Issues) > 0 {
		b.WriteString("\n## Known issues on this path\n\n| issue | title | what chefha does | steps |\n|---|---|---|---|\n")
		for _, k := range v.Issues {
			fmt.Fprintf(b, "| %s | %s | %s: %s | %s |\n", md(string(k.ID)), md(k.Title), md(string(k.Mitigation)), md(k.Action), md(strings.Join(k.Steps, ", ")))
		}
	}
	if len(v.Outages) > 0 {
		measured := false
		for _, o := range v.Outages {
			measured = measured || o.Measured > 0
		}
		b.WriteString("\n## Stops of service\n\n| hop | what | nodes | from step | until step | effect |")
		if measured {
			b.WriteString(" in the rehearsal |\n|---|---|---|---|---|---|---|\n")
		} else {
			b.WriteString("\n|---|---|---|---|---|---|\n")
		}
		for _, o := range v.Outages {
			fmt.Fprintf(b, "| %d | %s | %s | %s | %s | %s |", o.Hop, md(string(o.Kind)), md(strings.Join(o.Nodes, ", ")), md(o.FromStep), md(o.UntilStep), md(o.Effect))
			if measured {
				fmt.Fprintf(b, " %s |", roughly(o.Measured))
			}
			b.WriteString("\n")
		}
	}
	if len(v.Steps) > 0 {
		b.WriteString("\n## Steps\n\n| # | step | what | nodes | waits for |\n|---|---|---|---|---|\n")
		for i, s := range v.Steps {
			fmt.Fprintf(b, "| %d | %s | %s | %s | %s |\n", i+1, md(s.ID), md(s.Title), md(strings.Join(s.Nodes, ", ")), md(strings.Join(s.Waits, "; ")))
		}
	}
	if len(v.Warnings) > 0 {
		b.WriteString("\n## Warnings\n\n")
		for _, w := range v.Warnings {
			fmt.Fprintf(b, "- %s\n", termsafe.Line(w))
		}
	}
	if v.Next != "" {
		fmt.Fprintf(b, "\n## Next\n\n```sh\n%s\n```\n", termsafe.Line(strings.ReplaceAll(v.Next, "```", "` ` `")))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// md makes text safe in a Markdown table cell (termsafe.MarkdownCell, as
// the report's).
func md(s string) string { return termsafe.MarkdownCell(s) }

func orQuery(s string) string {
	if s == "" {
		return "?"
	}
	return s
}

func count(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// roughly rounds a measured duration to what a reader needs: seconds, or
// hundredths of one for the short ones a simulation measures.
func roughly(d time.Duration) time.Duration {
	if d >= 10*time.Second {
		return d.Round(time.Second)
	}
	return d.Round(10 * time.Millisecond)
}

package bench

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// loadAvg is the machine's load average (1, 5, 15 min), for the summary:
// these are wall-clock figures on a shared machine.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// summary prints what the run measured: chefha against Ansible per shell
// and connection state, the ratios, and the connection breakdown.
func (s *suite) summary(w io.Writer) {
	if len(s.names()) == 0 {
		return
	}
	fmt.Fprintf(w, "\nchefha vs Ansible over one lab of 5 nodes (2 back ends, 3 front ends; lab up in %s)\n", s.took.Round(time.Millisecond))
	fmt.Fprintf(w, "%s, %d CPUs, load average (1 5 15 min) %s at the start, %s now\n",
		time.Now().UTC().Format(time.DateTime+" MST"), runtime.NumCPU(), s.load, loadAvg())
	var cols []string
	for _, sh := range shells {
		for _, c := range conns {
			cols = append(cols, string(sh)+"/"+c)
		}
	}
	chefha := func(col string) (time.Duration, bool) {
		if d, ok := s.result("BenchmarkPreflightLab/" + col); ok {
			return d, true
		}
		return s.result("baseline/" + col)
	}
	cli := func(col string) (time.Duration, bool) { return s.result("BenchmarkPreflightCLI/" + col) }
	rows := []struct {
		label string
		get   func(col string) (time.Duration, bool)
		ratio bool
	}{
		{"chefha upgrade.Preflight (in process)", chefha, false},
		{"chefha examples/preflight (a process)", cli, false},
		{"Ansible -m shell, chefha's script, 1 call", prefixed(s, "BenchmarkAnsibleGatherScript/shell/"), true},
		{"Ansible -m raw, chefha's script, 1 call", prefixed(s, "BenchmarkAnsibleGatherScript/raw/"), true},
		{"Ansible -m shell, the runbook's 6 reads, 6 calls", prefixed(s, "BenchmarkAnsibleSixReads/"), true},
		{"Ansible -m raw true, 1 call (its floor)", prefixed(s, "BenchmarkAnsibleTrue/"), true},
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "mean time per op\t%s\t\n", strings.Join(cols, "\t"))
	for _, r := range rows {
		line := []string{r.label}
		ratios := []string{"  ÷ chefha Preflight"}
		ratiosCLI := []string{"  ÷ chefha CLI"}
		seen := false
		for _, col := range cols {
			d, ok := r.get(col)
			line = append(line, dur(d, ok))
			seen = seen || ok
			ratios = append(ratios, ratio(d, ok, chefha, col))
			ratiosCLI = append(ratiosCLI, ratio(d, ok, cli, col))
		}
		if !seen {
			continue
		}
		fmt.Fprintf(tw, "%s\t\n", strings.Join(line, "\t"))
		if r.ratio {
			fmt.Fprintf(tw, "%s\t\n", strings.Join(ratios, "\t"))
			fmt.Fprintf(tw, "%s\t\n", strings.Join(ratiosCLI, "\t"))
		}
	}
	fmt.Fprintf(tw, "own CPU per op (user+sys; the nodes' not counted)\t\n")
	for _, r := range rows {
		line := []string{"  " + r.label}
		seen := false
		for _, col := range cols {
			d, ok := r.get(col + "/cpu")
			line = append(line, dur(d, ok))
			seen = seen || ok
		}
		if seen {
			fmt.Fprintf(tw, "%s\t\n", strings.Join(line, "\t"))
		}
	}
	h2h := []string{"head to head, alternating: chefha Preflight", "  Ansible -m shell, chefha's script", "  median of the ops' ratios",
		"  own CPU: chefha", "  own CPU: Ansible", "  own CPU: Ansible ÷ chefha", "  floor, no tool, after each pair"}
	seen := false
	for _, col := range cols {
		c, okc := s.result("BenchmarkHeadToHead/" + col + "/chefha")
		a, oka := s.result("BenchmarkHeadToHead/" + col + "/ansible")
		x, okx := s.pairResult("BenchmarkHeadToHead/" + col)
		seen = seen || okx
		h2h[0] += "\t" + dur(c, okc)
		h2h[1] += "\t" + dur(a, oka)
		h2h[2] += "\t-"
		if okx {
			h2h[2] = strings.TrimSuffix(h2h[2], "-") + fmt.Sprintf("%.1f×", x)
		}
		cc, okcc := s.result("BenchmarkHeadToHead/" + col + "/chefha/cpu")
		ca, okca := s.result("BenchmarkHeadToHead/" + col + "/ansible/cpu")
		h2h[3] += "\t" + dur(cc, okcc)
		h2h[4] += "\t" + dur(ca, okca)
		h2h[5] += "\t" + ratio(ca, okca, func(string) (time.Duration, bool) { return cc, okcc }, col)
		f, okf := s.result("BenchmarkHeadToHead/" + col + "/floor")
		h2h[6] += "\t" + dur(f, okf)
	}
	if seen {
		for _, l := range h2h {
			fmt.Fprintf(tw, "%s\t\n", l)
		}
	}
	s.aboveFloor(tw, cols, chefha)
	tw.Flush()
	s.breakdown(w)
}

// aboveFloor prints the floor (BenchmarkNodesFloor: the nodes' own work,
// no tool) and each tool's time above it, where their ratio is the ratio
// of what the tools themselves cost.
func (s *suite) aboveFloor(tw io.Writer, cols []string, chefha func(string) (time.Duration, bool)) {
	f, ok := s.result("BenchmarkNodesFloor")
	if !ok {
		return
	}
	fcpu, okcpu := s.result("BenchmarkNodesFloor/cpu")
	line := "floor, no tool: the 5 scripts at once in the nodes (nsenter)"
	for range cols {
		line += "\t" + dur(f, true)
	}
	fmt.Fprintf(tw, "%s\t\n", line)
	if okcpu {
		line = "  the nodes' CPU for it"
		for range cols {
			line += "\t" + dur(fcpu, true)
		}
		fmt.Fprintf(tw, "%s\t\n", line)
	}
	ansible := prefixed(s, "BenchmarkAnsibleGatherScript/shell/")
	rows := []string{"  chefha Preflight − floor", "  Ansible -m shell, chefha's script − floor", "  ÷ (the tools' own cost)"}
	for _, col := range cols {
		c, okc := chefha(col)
		a, oka := ansible(col)
		rows[0] += "\t" + above(c, f, okc)
		rows[1] += "\t" + above(a, f, oka)
		rows[2] += "\t" + ratio(a-f, oka && c > f, func(string) (time.Duration, bool) { return c - f, okc && c > f }, col)
	}
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t\n", r)
	}
}

// above is d − floor, or "≤0" when the tool met the floor (within the
// noise of two separate benchmarks).
func above(d, floor time.Duration, ok bool) string {
	if ok && d <= floor {
		return "≤0"
	}
	return dur(d-floor, ok)
}

func prefixed(s *suite, prefix string) func(string) (time.Duration, bool) {
	return func(col string) (time.Duration, bool) { return s.result(prefix + col) }
}

func dur(d time.Duration, ok bool) string {
	if !ok {
		return "-"
	}
	return d.Round(100 * time.Microsecond).String()
}

func ratio(d time.Duration, ok bool, base func(string) (time.Duration, bool), col string) string {
	b, bok := base(col)
	if !ok || !bok || b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f×", float64(d)/float64(b))
}

// breakdown prints BenchmarkConnection's parts and what follows from them.
func (s *suite) breakdown(w io.Writer) {
	get := func(part string) (time.Duration, bool) { return s.result("BenchmarkConnection/" + part) }
	parts := []string{"config", "tcp", "kex", "rawdial", "dial", "session"}
	for _, sh := range shells {
		parts = append(parts, string(sh)+"/exec-true", string(sh)+"/run-true", string(sh)+"/run-sh-true", string(sh)+"/openssh-true", string(sh)+"/run-script")
	}
	parts = append(parts, "nsenter/true", "nsenter/script", "judge")
	var lines []string
	for _, p := range parts {
		if d, ok := get(p); ok {
			lines = append(lines, fmt.Sprintf("  %s\t%s\t", p, dur(d, true)))
		}
	}
	if len(lines) == 0 {
		return
	}
	diff := func(label, a, b string) {
		da, oka := get(a)
		db, okb := get(b)
		if oka && okb {
			lines = append(lines, fmt.Sprintf("  = %s (%s − %s)\t%s\t", label, a, b, (da-db).Round(100*time.Microsecond)))
		}
	}
	diff("public-key auth", "rawdial", "kex")
	diff("chefha's own part of a dial", "dial", "rawdial")
	for _, sh := range shells {
		diff(string(sh)+": chefha's wrapper", string(sh)+"/run-true", string(sh)+"/exec-true")
		diff(string(sh)+": the sh -c layer", string(sh)+"/run-sh-true", string(sh)+"/run-true")
		diff(string(sh)+": script over SSH", string(sh)+"/run-script", string(sh)+"/run-true")
	}
	diff("the .bashrc, per command", string(stockShell)+"/exec-true", string(cleanShell)+"/exec-true")
	diff("the script's own run", "nsenter/script", "nsenter/true")
	fmt.Fprintf(w, "\none node (be1) over the lab's sshd, mean per op:\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, l := range lines {
		fmt.Fprintln(tw, l)
	}
	tw.Flush()
}

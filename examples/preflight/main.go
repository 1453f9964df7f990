// Command preflight says whether an HA Enterprise Chef cluster is safe to
// upgrade, and what exactly will happen.
//
// With no cluster named it starts a simulated cluster (clustertest) with a
// realistic mix of problems and checks that. Against a real cluster:
//
//	preflight -config /etc/opscode/private-chef.rb -target 11.1.8
//	preflight -hosts be1=backend:bootstrap,be2=backend,fe1=frontend -ssh-config ~/.ssh/config
//	preflight -facts saved.json              # judge facts saved with -save-facts, offline
//	preflight -lab                           # a real cluster in Linux namespaces (root)
//
// The report fits the terminal (its width, or 80 columns when the output
// is not a terminal; -width sets it): failures and warnings first, each
// with its evidence and fix, then one line per passed check. -o wide
// prints one table row per finding instead; -o json the whole report as
// JSON (upgrade.Report's documented fields). On a simulated cluster the
// first line of text says so, and the JSON carries "simulation": true.
//
// A node that cannot be reached does not stop the pre-flight: it is a
// failing "reachable" finding naming the node and why, and the other
// nodes are read and judged.
//
// Exit status: 0 when nothing fails, 1 when a check fails, 2 on usage or
// connection errors, including a node that could not be read.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/clustertest"
	"github.com/chefha/chefha/internal/cli"
	"github.com/chefha/chefha/internal/termsafe"
	"github.com/chefha/chefha/lab"
	"github.com/chefha/chefha/migration"
	"github.com/chefha/chefha/upgrade"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

func run(args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("preflight", flag.ContinueOnError)
	fl.SetOutput(stderr)
	var named cli.Cluster
	named.Register(fl, "give up reaching and reading the cluster after this long")
	target := fl.String("target", "11.1.8", "version to upgrade to")
	out := fl.String("o", "table", "output: table (fits the terminal), wide (one row per finding) or json")
	width := fl.Int("width", 0, "columns of the table (default: the terminal's, 80 when not a terminal)")
	allowSkippable := fl.Bool("allow-skippable", false, "accept a path the runbook does not recommend (a target below 11.1.3); upgrade needs it too")
	backup := fl.String("backup", "", "describe the bootstrap's tested backup (e.g. 'LVM snapshot vg0/chef-pre-upgrade')")
	saveFacts := fl.String("save-facts", "", "write the gathered facts as JSON to this file (0600: it holds node data)")
	loadFacts := fl.String("facts", "", "check facts saved with -save-facts instead of reading a cluster")
	useLab := fl.Bool("lab", false, "start a real lab cluster in Linux namespaces (root; runit, keepalived, openssh-server) and check it")
	fl.Usage = func() {
		fmt.Fprintf(stderr, "usage: preflight [flags]\n\nWith no -config, -hosts or -facts, checks a simulated cluster.\n\n")
		fl.PrintDefaults()
		fmt.Fprintf(stderr, "\nchecks:\n")
		for _, c := range upgrade.Checks() {
			m := ""
			if c.Mandatory() {
				m = " (mandatory)"
			}
			fmt.Fprintf(stderr, "  %-27s %s%s\n", c.Name(), c.Doc(), m)
		}
	}
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	fail := func(code int, what string, err error) int {
		fmt.Fprintf(stderr, "preflight: %s%s\n", what, termsafe.String(err.Error()))
		return code
	}
	if fl.NArg() > 0 {
		return fail(exitUsage, "", fmt.Errorf("unexpected argument %q (flags start with -)", fl.Arg(0)))
	}
	if *out != "table" && *out != "wide" && *out != "json" {
		return fail(exitUsage, "", errors.New("-o must be table, wide or json"))
	}
	text := *out != "json"
	tv, err := migration.ParseVersion(*target)
	if err != nil {
		return fail(exitUsage, "-target: ", err)
	}
	ignore, err := named.IgnoreNames()
	if err != nil {
		return fail(exitUsage, "-ignore: ", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), named.Timeout)
	defer cancel()

	opts := []upgrade.Option{upgrade.WithTarget(tv.String()), upgrade.WithBackup(upgrade.Backup{Description: *backup}), upgrade.WithIgnore(ignore...)}
	if *allowSkippable {
		opts = append(opts, upgrade.WithSkippable())
	}
	var cl *cluster.Cluster
	simulated := false
	switch {
	case *loadFacts != "":
		f, err := os.Open(*loadFacts)
		if err != nil {
			return fail(exitUsage, "", err)
		}
		facts, err := upgrade.LoadFacts(f)
		f.Close()
		if err != nil {
			return fail(exitUsage, *loadFacts+": ", err)
		}
		opts = append(opts, upgrade.WithFacts(facts))
	case *useLab:
		if *out == "table" {
			fmt.Fprintln(stdout, "LAB: starting a real 1.4.6 cluster (2 back ends, 1 front end) in Linux namespaces…")
		}
		l, err := lab.Start(ctx, lab.Spec{Version: "1.4.6", Frontends: 1})
		if err != nil {
			fmt.Fprintf(stderr, "preflight: -lab: %v\n", err)
			return 2
		}
		defer l.Close()
		if *out == "table" {
			fmt.Fprintf(stdout, "LAB: up on %s, VIP %s (its nodes run this program; it removes them on exit)\n\n", l.Subnet, l.VIP)
		}
		if cl, err = l.Dial(ctx); err != nil {
			fmt.Fprintf(stderr, "preflight: -lab: %v\n", err)
			return 2
		}
		defer cl.Close()
	case named.Named():
		if s := named.Reaching(); s != "" && *out != "json" {
			fmt.Fprintln(stderr, s)
		}
		cl, err = named.Dial(ctx)
		if cl == nil {
			return fail(exitUsage, "", err)
		}
		defer cl.Close()
		if err != nil {
			// Dial's contract: the cluster serves the nodes it reached; the
			// others answer with their error, which the report shows.
			fmt.Fprintf(stderr, "preflight: %s; checking the others\n", termsafe.Line(err.Error()))
		}
	default:
		sim, err := clustertest.New(clustertest.Options{Version: "1.4.6", Frontends: 3, Knobs: []clustertest.Knob{
			clustertest.MigrationLevel("be2.chefha.test", ""), // an empty level on the standby (partybus' CREAT)
			clustertest.RunsvdirErrors(),
			clustertest.FrontendsStopped(),
		}})
		if err != nil {
			return fail(exitUsage, "simulated cluster: ", err)
		}
		defer sim.Close()
		if cl, err = sim.Dial(ctx); err != nil {
			if cl != nil {
				cl.Close()
			}
			return fail(exitUsage, "simulated cluster: ", err)
		}
		defer cl.Close()
		simulated = true
		if text {
			fmt.Fprintf(stdout, "%s\n", cli.Wrap("SIMULATION: no cluster named (-config or -hosts), so this checks a simulated 1.4.6 cluster of 2 back ends and 3 front ends with problems planted in it.", cli.Width(stdout, *width)))
		}
	}
	rep, err := upgrade.Preflight(ctx, cl, opts...)
	if err != nil {
		return fail(exitUsage, "", err)
	}
	explainSkippable(&rep, *allowSkippable)
	if *saveFacts != "" && rep.Facts != nil {
		if err := saveTo(*saveFacts, *rep.Facts); err != nil {
			return fail(exitUsage, "-save-facts: ", err)
		}
	}
	switch *out {
	case "json":
		err = writeJSON(stdout, rep, simulated)
	case "wide":
		err = rep.WriteTable(stdout)
	default:
		err = rep.WriteText(stdout, cli.Width(stdout, *width))
	}
	if err != nil {
		return fail(exitUsage, "", err)
	}
	if simulated {
		// The simulation plants failures on purpose: showing them is success.
		if text {
			fmt.Fprintf(stdout, "\n(simulation: exit status 0; against a real cluster a failing check exits 1)\n")
		}
		return exitOK
	}
	if unread := unreadNodes(rep); len(unread) > 0 {
		fmt.Fprintf(stderr, "preflight: %d node(s) could not be read (%s): the report is incomplete\n", len(unread), termsafe.Line(strings.Join(unread, ", ")))
		return exitUsage
	}
	if rep.Failed() {
		return exitFailed
	}
	return exitOK
}

// explainSkippable says, on the version check's skippable finding, what
// takes such a path: the library names no flag, the command does.
func explainSkippable(rep *upgrade.Report, allowed bool) {
	for i, f := range rep.Findings {
		if f.Check != "version" || f.Symptom != "skippable" {
			continue
		}
		if allowed {
			rep.Findings[i].Fix = "allowed with -allow-skippable: give upgrade -allow-skippable too, or it refuses this path"
		} else {
			rep.Findings[i].Fix = "choose a target as the evidence advises; or, to take this path, run preflight and upgrade with -allow-skippable"
		}
	}
}

// unreadNodes are the nodes whose facts could not be read.
func unreadNodes(rep upgrade.Report) []string {
	var out []string
	if rep.Facts == nil {
		return nil
	}
	for _, n := range rep.Facts.Nodes {
		if n.Err != "" {
			out = append(out, n.Node)
		}
	}
	return out
}

// writeJSON writes the report, marked "simulation": true on a simulation.
func writeJSON(w io.Writer, rep upgrade.Report, simulated bool) error {
	b, err := json.Marshal(rep)
	if err != nil {
		return err
	}
	if simulated {
		b = cli.MarkSimulation(b)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return err
	}
	out.WriteByte('\n')
	_, err = w.Write(out.Bytes())
	return err
}

// saveTo writes the facts 0600: they hold what was read from the nodes.
func saveTo(path string, f upgrade.Facts) error {
	file, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := f.Save(file); err != nil {
		file.Close()
		return err
	}
	return file.Close()
}

// Command preflight says whether an HA Enterprise Chef cluster is safe to
// upgrade, and what exactly will happen.
//
// With no cluster named it starts a simulated cluster (clustertest) with a
// realistic mix of problems and checks that. Against a real cluster:
//
//	preflight -config /etc/opscode/private-chef.rb -target 11.1.8
//	preflight -hosts be1=backend:bootstrap,be2=backend,fe1=frontend -ssh-config ~/.ssh/config
//	preflight -lab                           # a real cluster in Linux namespaces (root)
//
// Exit status: 0 when nothing fails, 1 when a check fails, 2 on usage or
// connection errors.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/clustertest"
	"github.com/chefha/chefha/lab"
	"github.com/chefha/chefha/migration"
	"github.com/chefha/chefha/upgrade"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("preflight", flag.ContinueOnError)
	fl.SetOutput(stderr)
	config := fl.String("config", "", "private-chef.rb of the cluster to check (its servers are reached by name through the SSH config)")
	hosts := fl.String("hosts", "", "instead of -config: name=role[:bootstrap],… (roles backend, frontend)")
	sshConfig := fl.String("ssh-config", "", "OpenSSH client config (default ~/.ssh/config)")
	acceptNew := fl.Bool("accept-new-host-keys", false, "record unknown host keys in known_hosts (never accepts a changed key)")
	target := fl.String("target", "11.1.8", "version to upgrade to")
	out := fl.String("o", "table", "output: table or json")
	ignore := fl.String("ignore", "", "checks to skip, comma-separated (case-insensitive; all = every non-mandatory check)")
	backup := fl.String("backup", "", "describe the bootstrap's tested backup (e.g. 'LVM snapshot vg0/chef-pre-upgrade')")
	saveFacts := fl.String("save-facts", "", "write the gathered facts as JSON to this file")
	loadFacts := fl.String("facts", "", "check facts saved with -save-facts instead of reading a cluster")
	timeout := fl.Duration("timeout", 2*time.Minute, "give up reading the cluster after this long")
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
			return 0
		}
		return 2
	}
	if *out != "table" && *out != "json" {
		fmt.Fprintf(stderr, "preflight: -o must be table or json\n")
		return 2
	}
	tv, err := migration.ParseVersion(*target)
	if err != nil {
		fmt.Fprintf(stderr, "preflight: -target: %v\n", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()

	opts := []upgrade.Option{upgrade.WithTarget(tv), upgrade.WithBackup(*backup)}
	if *ignore != "" {
		opts = append(opts, upgrade.WithIgnore(strings.Split(*ignore, ",")...))
	}
	var cl *cluster.Cluster
	simulated := false
	switch {
	case *loadFacts != "":
		f, err := os.Open(*loadFacts)
		if err != nil {
			fmt.Fprintf(stderr, "preflight: %v\n", err)
			return 2
		}
		facts, err := upgrade.LoadFacts(f)
		f.Close()
		if err != nil {
			fmt.Fprintf(stderr, "preflight: %s: %v\n", *loadFacts, err)
			return 2
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
	case *config != "" || *hosts != "":
		top, err := topology(*config, *hosts)
		if err != nil {
			fmt.Fprintf(stderr, "preflight: %v\n", err)
			return 2
		}
		cl, err = cluster.Dial(ctx, top, cluster.ServerConfigs(*sshConfig, *acceptNew))
		if err != nil {
			fmt.Fprintf(stderr, "preflight: %v\n", err)
			return 2
		}
		defer cl.Close()
	default:
		sim, err := clustertest.New(clustertest.Options{Version: "1.4.6", Frontends: 3, Knobs: []clustertest.Knob{
			clustertest.MigrationLevel("be2.chefha.test", ""), // OC-11297's empty file on the standby
			clustertest.RunsvdirErrors(),
			clustertest.FrontendsStopped(),
		}})
		if err != nil {
			fmt.Fprintf(stderr, "preflight: simulated cluster: %v\n", err)
			return 2
		}
		defer sim.Close()
		cl, err = sim.Dial(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "preflight: simulated cluster: %v\n", err)
			return 2
		}
		defer cl.Close()
		simulated = true
		if *out == "table" {
			fmt.Fprintf(stdout, "SIMULATION: no cluster named (-config or -hosts), so this checks a simulated 1.4.6 cluster of 2 back ends and 3 front ends with problems planted in it.\n\n")
		}
	}
	rep, err := upgrade.Preflight(ctx, cl, opts...)
	if err != nil {
		fmt.Fprintf(stderr, "preflight: %v\n", err)
		return 2
	}
	if *saveFacts != "" && rep.Facts != nil {
		if err := saveTo(*saveFacts, *rep.Facts); err != nil {
			fmt.Fprintf(stderr, "preflight: -save-facts: %v\n", err)
			return 2
		}
	}
	if *out == "json" {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteTable(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "preflight: %v\n", err)
		return 2
	}
	if cl != nil && simulated {
		// The simulation plants failures on purpose: showing them is success.
		if *out == "table" {
			fmt.Fprintf(stdout, "\n(simulation: exit status 0; against a real cluster a failing check exits 1)\n")
		}
		return 0
	}
	if rep.Failed() {
		return 1
	}
	return 0
}

func saveTo(path string, f upgrade.Facts) error {
	file, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := f.Save(file); err != nil {
		file.Close()
		return err
	}
	return file.Close()
}

// topology reads -config, or builds one from -hosts.
func topology(config, hosts string) (cluster.Topology, error) {
	if config != "" {
		f, err := os.Open(config)
		if err != nil {
			return cluster.Topology{}, err
		}
		defer f.Close()
		return cluster.ParseTopology(f)
	}
	var b strings.Builder
	b.WriteString("topology \"ha\"\n")
	for _, h := range strings.Split(hosts, ",") {
		name, spec, ok := strings.Cut(strings.TrimSpace(h), "=")
		if !ok {
			return cluster.Topology{}, fmt.Errorf("-hosts: %q is not name=role", h)
		}
		role, boot, _ := strings.Cut(spec, ":")
		fmt.Fprintf(&b, "server %q, :role => %q", name, role)
		if boot == "bootstrap" {
			b.WriteString(", :bootstrap => true")
		}
		b.WriteString("\n")
	}
	// -hosts has no VIP; the VIP check then only compares master/backup.
	b.WriteString("backend_vip \"vip\", :ipaddress => \"\"\n")
	return cluster.ParseTopology(strings.NewReader(b.String()))
}

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/chefha/chefha/internal/cli"
	"github.com/chefha/chefha/internal/termsafe"
	"github.com/chefha/chefha/internal/wrap"
	"github.com/chefha/chefha/upgrade"
)

// output prints what the command has to say in the format asked for.
type output struct {
	format         string // text, json or markdown
	stdout, stderr io.Writer
	width          int
	start          time.Time
	simulated      bool // JSON lines then carry "simulation": true
	// rehearseCmd is this command with -rehearse: what to run when a
	// real run is refused for want of a passed rehearsal.
	rehearseCmd string
	// verifyCmd and cleanupCmd are this command's inputs with -verify and
	// with the cleanup phase: what to run on a cluster already upgraded.
	verifyCmd, cleanupCmd string
	// record is the run's journal record, for what to say after it.
	record func() upgrade.Record
	mu     sync.Mutex
}

// json writes v as one JSON line, marked on a simulation.
func (o *output) json(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if o.simulated {
		b = cli.MarkSimulation(b)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	_, err = o.stdout.Write(append(b, '\n'))
	return err
}

// event returns the runner's event handler: every event (all), or only
// the outcome, as JSON lines or progress lines.
func (o *output) event(all bool) func(upgrade.Event) {
	return func(ev upgrade.Event) {
		if !all && ev.Kind != upgrade.EventOutcome {
			return
		}
		if o.format == "json" {
			o.json(ev)
			return
		}
		if line := progressLine(time.Since(o.start), ev); line != "" {
			o.mu.Lock()
			// Under its time stamp, as a failed step's lines are.
			fmt.Fprintln(o.stdout, wrap.Hanging(line, o.width, progressIndent))
			o.mu.Unlock()
		}
	}
}

// pastBlocked says what gets past a plan's refusal: the runit recovery
// for what it remedies, -ignore for a check that is not mandatory.
func pastBlocked(be *upgrade.BlockedError) string {
	var out string
	if len(be.Recoverable) > 0 {
		var what []string
		for _, f := range be.Recoverable {
			what = append(what, f.Check+" on "+f.Node)
		}
		out += "\n-recover-runit runs the runbook's runit recovery first, which remedies " + strings.Join(slices.Compact(what), ", ")
	}
	if len(be.Ignorable) > 0 {
		out += "\n-ignore " + strings.Join(be.Ignorable, ",") + " goes past the rest at your own risk (what they find stays in the report)"
	}
	return out
}

// backupFlags says how to declare the bootstrap's backup.
const backupFlags = "declare the bootstrap's backup: -backup-lvm (chefha makes and watches an LVM snapshot), -backup-cmd CMD with -backup-check CMD, or -backup-waived 'WHY'"

// refused ends a run that main refuses before the runner starts: the
// message on stderr and, with -o json, an outcome line as the runner's
// refusals have, so that a program reading the events always gets one.
func (o *output) refused(typ string, err error) int {
	fmt.Fprintln(o.stderr, "upgrade:", termsafe.String(err.Error()))
	if o.format == "json" {
		o.json(upgrade.Event{Kind: upgrade.EventOutcome, Outcome: upgrade.OutcomeRefused, Message: err.Error(),
			Elapsed: time.Since(o.start), Error: &upgrade.EventError{Type: typ, Message: err.Error()}})
	}
	return exitUsage
}

func (o *output) plan(v upgrade.PlanView) int {
	var err error
	switch o.format {
	case "json":
		err = o.json(v)
	case "markdown":
		if !o.simulated {
			err = v.WriteMarkdown(o.stdout)
			break
		}
		// The mark under the title, where a change ticket's reader sees it.
		var b bytes.Buffer
		if err = v.WriteMarkdown(&b); err == nil {
			title, rest, _ := strings.Cut(b.String(), "\n")
			_, err = fmt.Fprintf(o.stdout, "%s\n\n> **SIMULATION**: the plan of a simulated cluster, not of a real one.\n%s", title, rest)
		}
	default:
		err = v.WriteText(o.stdout, o.width)
	}
	if err != nil {
		fmt.Fprintln(o.stderr, "upgrade:", err)
		return exitUsage
	}
	return exitOK
}

// end says how a run ended: in text, on stdout with what to do next; in
// JSON the outcome event said it, and a terminal on stderr gets it as
// text too.
func (o *output) end(err error, outcome upgrade.Outcome, apply bool, phase, target string, jrnl fmt.Stringer) {
	took := time.Since(o.start).Round(time.Millisecond)
	msg := ""
	if err != nil {
		msg = termsafe.String(err.Error())
		var pe *upgrade.PlanError
		if errors.As(err, &pe) && pe.OnlySkippable() {
			msg += "\nrun preflight and upgrade with -allow-skippable to take this path"
		}
		var bl *upgrade.BackupLostError
		if errors.As(err, &bl) {
			msg += "\nto go on without it, run again with -resume and -backup-waived 'WHY' in place of -backup-lvm"
		}
		var be *upgrade.BlockedError
		if errors.As(err, &be) {
			msg += pastBlocked(be)
		}
		if errors.Is(err, upgrade.ErrNoBackup) || errors.Is(err, upgrade.ErrNoBackupCheck) {
			msg += "\n" + backupFlags
		}
		var nr *upgrade.NotRehearsedError
		if errors.As(err, &nr) {
			msg += "\nrehearse it first: " + o.rehearseCmd + "\nor, to go on without a passed rehearsal, run again with -without-rehearsal"
		}
	}
	if o.format == "json" {
		if err != nil && !errors.Is(err, upgrade.ErrNeedsConfirmation) && !errors.Is(err, upgrade.ErrStopped) && cli.IsTerminal(o.stderr) {
			fmt.Fprintln(o.stderr, "upgrade:", msg)
		}
		return
	}
	w := o.stdout
	var at *upgrade.AtTargetError
	say := func(format string, a ...any) { fmt.Fprintln(w, wrap.Hanging(fmt.Sprintf(format, a...), o.width, 2)) }
	switch {
	case errors.As(err, &at) && len(at.Behind) == 0:
		say("\nalready at %s (migration level %s): nothing to upgrade.\nnext: check the cluster, and once it is tested, clean up what 1.x left:",
			termsafe.Line(at.Version), termsafe.Line(at.Level))
		fmt.Fprint(w, wrap.Command(termsafe.Line(o.verifyCmd), o.width), wrap.Command(termsafe.Line(o.cleanupCmd), o.width))
	case errors.Is(err, upgrade.ErrNeedsConfirmation):
		say("\npaused: %s.\nOnce it is, run again with -yes.", msg)
	case errors.Is(err, upgrade.ErrStopped):
		say("\nstopped on request after %s; the journal is %s: run again with -resume to continue", took, termsafe.Line(jrnl.String()))
	case err != nil && (!apply || outcome == upgrade.OutcomeRefused):
		// Nothing was done: no journal to resume.
		say("\nrefused: %s", msg)
	case err != nil:
		say("\nstopped after %s: %s", took, msg)
		say("the journal is %s: fix the cause and run again with -resume", termsafe.Line(jrnl.String()))
	case !apply:
		say("\ndry run: nothing was changed. Run with -apply to act.")
	default:
		say("\n%s to %s done in %s", phase, target, took)
		if phase == string(upgrade.PhaseUpgrade) {
			o.afterUpgrade(w)
		}
	}
}

// indented puts two more blanks before each line of s.
func indented(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n  ") + "\n"
}

// afterUpgrade says what comes after a finished upgrade: check it, clean
// up what the old release left, and, once satisfied, remove what this run
// kept (its journal's record of them).
func (o *output) afterUpgrade(w io.Writer) {
	if o.simulated {
		fmt.Fprintln(w, "next, on a real cluster (the simulation is gone with this command):")
	} else {
		fmt.Fprintln(w, "next:")
	}
	fmt.Fprint(w, "  check the upgraded cluster:\n", indented(wrap.Command(termsafe.Line(o.verifyCmd), o.width-2)),
		"  once it is tested, remove what the old release left:\n", indented(wrap.Command(termsafe.Line(o.cleanupCmd), o.width-2)))
	if o.record == nil {
		return
	}
	rec := o.record()
	for _, k := range rec.Kept {
		fmt.Fprintln(w, wrap.Hanging(fmt.Sprintf("  when satisfied, on %s:  rm -rf %s", termsafe.Line(k.Node), termsafe.Line(k.Path)), o.width, 6))
	}
	for _, b := range rec.Backups {
		if b.Snapshot != "" && b.Lost == "" {
			fmt.Fprintln(w, wrap.Hanging(fmt.Sprintf("  when satisfied, on %s:  lvremove %s  (the run's backup; chefha never removes it)", termsafe.Line(b.Node), termsafe.Line(b.Snapshot)), o.width, 6))
		}
	}
}

// progressIndent is where a progress line's text starts, past its time
// stamp ("[    1.5s] ✗ "): a line's continuations start there too.
const progressIndent = 13

func progressLine(elapsed time.Duration, ev upgrade.Event) string {
	t := fmt.Sprintf("[%7.1fs]", elapsed.Seconds())
	step, title, msg := termsafe.Line(ev.Step), termsafe.Line(ev.Title), termsafe.Line(ev.Message)
	switch ev.Kind {
	case upgrade.EventPlan:
		return t + " plan " + msg
	case upgrade.EventStepStart:
		if msg != "" {
			return fmt.Sprintf("%s ▶ %s: %s [%s]", t, step, title, msg)
		}
		return fmt.Sprintf("%s ▶ %s: %s", t, step, title)
	case upgrade.EventStepDone:
		return fmt.Sprintf("%s ✓ %s (%s)", t, step, ev.Elapsed.Round(time.Millisecond))
	case upgrade.EventStepSkip:
		return fmt.Sprintf("%s · %s: %s", t, step, msg)
	case upgrade.EventStepFailed:
		// The error's own lines (a post-flight's failures, one per line)
		// stay lines, under the mark, each made safe for the terminal.
		lines := strings.Split(strings.TrimRight(ev.Message, "\n"), "\n")
		for i, l := range lines {
			lines[i] = termsafe.Line(l)
		}
		return fmt.Sprintf("%s ✗ %s", t, strings.Join(lines, "\n"+strings.Repeat(" ", progressIndent)))
	case upgrade.EventAction:
		if ev.DryRun {
			return fmt.Sprintf("%s     would: %s", t, msg)
		}
		return fmt.Sprintf("%s     %s", t, msg)
	case upgrade.EventProgress:
		return fmt.Sprintf("%s     … %s", t, msg)
	case upgrade.EventGateWait:
		return fmt.Sprintf("%s     waiting: %s", t, msg)
	case upgrade.EventGateSkip:
		return fmt.Sprintf("%s     no wait: %s", t, msg)
	case upgrade.EventActionDone, upgrade.EventOutcome:
		return ""
	}
	return fmt.Sprintf("%s     %s: %s", t, termsafe.Line(string(ev.Kind)), msg)
}

// nextCommand is this command with the same inputs and -apply: what the
// plan says to run next.
func nextCommand(fl *flag.FlagSet) string {
	if f := fl.Lookup("resume"); f != nil && f.Value.String() == "true" {
		return sameInputs(fl, "-resume -apply") // the plan shown is the rest of a run
	}
	return sameInputs(fl, "-apply")
}

// sameInputs is this command with the same inputs and then last.
func sameInputs(fl *flag.FlagSet, last string) string {
	parts := []string{progName()}
	fl.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "o", "v", "width", "apply", "rehearse", "without-rehearsal", "resume":
			return
		case "verify", "phase", "yes", "from-step":
			if strings.Contains(last, "-phase") || strings.Contains(last, "-verify") {
				return // last says what to run
			}
		}
		if l, ok := f.Value.(*list); ok {
			for _, v := range *l {
				parts = append(parts, "-"+f.Name, shellQuote(v))
			}
			return
		}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			if f.Value.String() == "true" {
				parts = append(parts, "-"+f.Name)
			}
			return
		}
		parts = append(parts, "-"+f.Name, shellQuote(f.Value.String()))
	})
	return strings.Join(append(parts, last), " ")
}

// progName is how the operator ran this command: by its name, or through
// go run (whose binary lives in a temporary go-build directory).
func progName() string {
	if strings.Contains(os.Args[0], string(filepath.Separator)+"go-build") {
		return "go run ./examples/upgrade"
	}
	return filepath.Base(os.Args[0])
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=,@+%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

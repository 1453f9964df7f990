package upgrade

// The command log: every call a real run makes to a node, one record
// each, appended to a 0600 file beside the journal. The format is in the
// package doc.

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/internal/termsafe"
)

// The tail of each stream a record keeps: where a failing program says
// why, bounded so that a chatty command cannot swell the log.
const (
	tailLines = 20
	tailBytes = 4 << 10
)

// logStamp is RFC 3339 in UTC to the millisecond, one width for every
// record, so the log sorts and lines up.
const logStamp = "2006-01-02T15:04:05.000Z07:00"

// commandLogPath is where a run with journal j keeps its command log:
// beside the journal's local file, named after it (chefha-upgrade.json →
// chefha-upgrade.commands.log, so the two sort together); "" when j has
// no local file (MemJournal, NodeJournal alone, a Journal of the
// caller's).
func commandLogPath(j Journal) string {
	switch j := j.(type) {
	case FileJournal:
		return strings.TrimSuffix(j.Path, ".json") + ".commands.log"
	case *FileJournal:
		if j != nil {
			return commandLogPath(*j)
		}
	case MirrorJournal:
		for _, m := range j {
			if p := commandLogPath(m); p != "" {
				return p
			}
		}
	}
	return ""
}

// commandLog appends records to the file; safe for concurrent use (the
// runner reads and acts on nodes in parallel): each record is one write
// under mu.
type commandLog struct {
	path string
	// private are commands the operator gave that stay out of the log, by
	// what stands in for them: the backup command and its check, which
	// the journal keeps only as a hash since they may name volumes, hosts
	// or credentials the redactor does not know. Their output is left out
	// too unless keepPrivate (WithBackupOutput).
	private     map[string]string
	keepPrivate bool
	// warn says, once, that the log cannot be written.
	warn func(error)

	mu     sync.Mutex
	f      *os.File
	failed bool // a write failed: the records after it are dropped
}

// openCommandLog opens the log at path for appending, making it (and its
// directory, 0700) if need be. A log or directory others could read or
// write is refused as the journal is (*cluster.ModeError, with the chmod
// that mends it), not mended: what it held may already have been read,
// which the operator should know.
func openCommandLog(path string) (*commandLog, error) {
	if err := cluster.CheckPrivate(path, "command log"); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("command log %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("command log %s: %w", path, err)
	}
	st, err := f.Stat()
	if err == nil && !st.Mode().IsRegular() {
		err = fmt.Errorf("command log %s is not a regular file", path)
	}
	if err == nil && st.Mode().Perm()&0o077 != 0 { // changed since the check
		err = &cluster.ModeError{What: "command log", Path: path, Mode: st.Mode(),
			Why: "it holds node data that other users could read", Fix: "chmod 600 " + cluster.ShellQuote(path)}
	}
	if err == nil && st.Size() == 0 {
		_, err = f.WriteString("# chefha command log: every command and file operation a run sent to the nodes, one record each; the format is in the doc of package github.com/chefha/chefha/upgrade\n")
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return &commandLog{path: path, f: f}, nil
}

// header starts a run's records.
func (l *commandLog) header(journal string) {
	host, _ := os.Hostname()
	l.write(fmt.Sprintf("=== %s run: pid %d on %s, journal %s\n", time.Now().UTC().Format(logStamp), os.Getpid(), termsafe.Line(host), termsafe.Line(journal)))
}

// event notes the runner's milestones between the records: the plan, each
// step's start and how the run ended, so that a record is read in its step.
func (l *commandLog) event(e Event) {
	var what string
	switch e.Kind {
	case EventPlan:
		what = "plan " + e.Message
	case EventStepStart:
		what = "step " + e.Step + ": " + e.Title
	case EventOutcome:
		what = "end: " + string(e.Outcome)
		if e.Error != nil {
			first, _, _ := strings.Cut(e.Error.Message, "\n")
			what += " (" + e.Error.Type + "): " + string(cluster.RedactSecrets([]byte(first)))
		}
	default:
		return
	}
	l.write(fmt.Sprintf("--- %s %s\n", e.Time.UTC().Format(logStamp), termsafe.Line(what)))
}

// record writes one call's record.
func (l *commandLog) record(c cluster.Call) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s %s %s", c.Start.UTC().Format(logStamp), termsafe.Line(c.Node), c.Op, c.Took.Round(time.Millisecond), callStatus(c))
	private := false
	if c.Op == "run" {
		var line string
		line, private = l.commandLine(c.Cmd)
		prompt := "$"
		if c.Cmd.Sudo {
			prompt = "#"
		}
		fmt.Fprintf(&b, " %s %s\n", prompt, termsafe.Line(line))
	} else {
		b.WriteString(" " + termsafe.Line(c.Path))
		if c.Detail != "" {
			b.WriteString(" (" + termsafe.Line(c.Detail) + ")")
		}
		b.WriteByte('\n')
	}
	var ee *cluster.ExitError
	if c.Err != nil && !errors.As(c.Err, &ee) && !errors.Is(c.Err, fs.ErrNotExist) {
		b.WriteString("  error: " + termsafe.Line(string(cluster.RedactSecrets([]byte(c.Err.Error())))) + "\n")
	}
	if n := len(c.Result.Stdout) + len(c.Result.Stderr); private && !l.keepPrivate && n > 0 {
		fmt.Fprintf(&b, "  (output not kept: %d bytes; WithBackupOutput keeps it)\n", n)
	} else {
		writeTail(&b, "|", c.Result.Stdout)
		writeTail(&b, "!", c.Result.Stderr)
	}
	l.write(b.String())
}

// callStatus is a record's status word: exit=N for a command that ran,
// ok, missing (no such file) or error for the rest.
func callStatus(c cluster.Call) string {
	var ee *cluster.ExitError
	switch {
	case c.Op == "run" && (c.Err == nil || errors.As(c.Err, &ee) || c.Result.ExitCode != 0):
		return fmt.Sprintf("exit=%d", c.Result.ExitCode)
	case c.Err == nil:
		return "ok"
	case errors.Is(c.Err, fs.ErrNotExist):
		return "missing"
	}
	return "error"
}

// commandLine is the command as the node's shell gets it (the transport
// adds sudo -n for a root command of a login user that is not root),
// secrets redacted, the operator's private commands replaced; private
// says one was.
func (l *commandLog) commandLine(cmd cluster.Cmd) (line string, private bool) {
	if cmd.Label != "" {
		return termsafe.Line(cmd.Label), false
	}
	words := make([]string, len(cmd.Argv))
	for i, a := range cmd.Argv {
		if stand, ok := l.private[a]; ok {
			words[i], private = stand, true
			continue
		}
		words[i] = cluster.ShellQuote(string(cluster.RedactSecrets([]byte(a))))
	}
	// Again on the whole line: a secret's name and value may be two words.
	return string(cluster.RedactSecrets([]byte(strings.Join(words, " ")))), private
}

// writeTail writes the last lines of out, secrets redacted, each under
// mark; a first line says how many came before.
func writeTail(b *strings.Builder, mark string, out []byte) {
	out = bytes.TrimRight(out, "\n")
	if len(out) == 0 {
		return
	}
	// Only a PEM key spans lines among what RedactSecrets finds: the
	// whole output then, else the kept lines alone (whole lines, so a
	// setting's name is not cut from its value).
	if bytes.Contains(out, []byte("PRIVATE KEY-----")) {
		out = cluster.RedactSecrets(out)
	}
	start, n := 0, 0
	for i := len(out) - 1; i >= 0; i-- {
		if out[i] == '\n' {
			if n++; n == tailLines {
				start = i + 1
				break
			}
		}
	}
	kept := cluster.RedactSecrets(out[start:])
	cut := false
	if len(kept) > tailBytes {
		i := len(kept) - tailBytes
		for i < len(kept) && !utf8.RuneStart(kept[i]) {
			i++
		}
		kept, cut = kept[i:], true
	}
	if start > 0 {
		fmt.Fprintf(b, "  %s … %d earlier lines\n", mark, bytes.Count(out[:start], []byte("\n")))
	}
	for i, line := range strings.Split(string(kept), "\n") {
		if i == 0 && cut {
			line = "…" + line
		}
		fmt.Fprintf(b, "  %s %s\n", mark, termsafe.Line(line))
	}
}

// write appends text; the first failure is said once (warn) and the
// records after it are dropped: a log that cannot be written must not
// stop an upgrade half-way, nor fail without a word.
func (l *commandLog) write(text string) {
	l.mu.Lock()
	if l.f == nil || l.failed {
		l.mu.Unlock()
		return
	}
	_, err := l.f.WriteString(text)
	l.failed = err != nil
	l.mu.Unlock()
	if err != nil && l.warn != nil {
		l.warn(err)
	}
}

// close ends the log; later records are dropped.
func (l *commandLog) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// observe returns c with every node's calls recorded.
func (l *commandLog) observe(c *cluster.Cluster) (*cluster.Cluster, error) {
	nodes := map[string]cluster.Node{}
	for _, s := range c.Topology.Servers {
		if n, ok := c.Node(s.Name); ok {
			nodes[s.Name] = cluster.Observe(n, l.record)
		}
	}
	return cluster.New(c.Topology, nodes)
}

// CommandLog is where a real run keeps its command log: beside the
// journal's local file (FileJournal, alone or in a MirrorJournal), named
// after it with .commands.log for .json. "" for a dry run, which writes
// nothing on this machine, or a journal with no local file.
func (r *Runner) CommandLog() string {
	if r.o.dryRun {
		return ""
	}
	return commandLogPath(r.o.journal)
}

// startCommandLog opens the run's command log and, until endCommandLog,
// puts the cluster's nodes observed into it in the place of the cluster:
// every call a run makes reaches a node through r.cluster. A log that
// cannot be opened refuses the run before it reads a node.
func (r *Runner) startCommandLog() error {
	path := r.CommandLog()
	if path == "" {
		return nil
	}
	l, err := openCommandLog(path)
	if err != nil {
		return err
	}
	l.private = map[string]string{}
	if b := r.o.backup; b.Command != "" {
		l.private[b.Command] = "<the backup command>"
	}
	if b := r.o.backup; b.Check != "" {
		l.private[b.Check] = "<the backup check>"
	}
	l.keepPrivate = r.o.keepOutput
	l.warn = func(err error) {
		r.emit(Event{Kind: EventFinding, Message: fmt.Sprintf("the command log %s cannot be written (%v): the commands from now on are not in it; the run goes on", path, err)})
	}
	observed, err := l.observe(r.cluster)
	if err != nil {
		l.close()
		return err
	}
	l.header(r.o.journal.String())
	r.cmdlog, r.given, r.cluster = l, r.cluster, observed
	return nil
}

// endCommandLog closes the log (after the outcome's note) and gives the
// runner its cluster back.
func (r *Runner) endCommandLog() {
	if r.cmdlog == nil {
		return
	}
	// Every record was written when it was made; a close error adds
	// nothing to what a write error said.
	_ = r.cmdlog.close()
	r.cmdlog, r.cluster = nil, r.given
}

// stepError is a step's failure, naming the command log.
func (r *Runner) stepError(step Step, node string, err error) *StepError {
	serr := &StepError{Step: step.ID, Title: step.Title, Node: node, Err: err}
	if r.cmdlog != nil {
		serr.CommandLog = r.cmdlog.path
	}
	return serr
}

// nameCommandLog makes the error a run ends with name its command log,
// unless it is a stop or a pause (not failures) or a step's error that
// names it already.
func (r *Runner) nameCommandLog(err error) error {
	if err == nil || r.cmdlog == nil || errors.Is(err, ErrStopped) || errors.Is(err, ErrNeedsConfirmation) {
		return err
	}
	var serr *StepError
	if errors.As(err, &serr) && serr.CommandLog != "" {
		return err
	}
	return &loggedError{err: err, log: r.cmdlog.path}
}

// loggedError is a failed run's error with its command log named.
type loggedError struct {
	err error
	log string
}

func (e *loggedError) Error() string { return e.err.Error() + "\ncommand log: " + e.log }
func (e *loggedError) Unwrap() error { return e.err }

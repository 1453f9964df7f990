package upgrade

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/migration"
	"github.com/chefha/chefha/runit"
)

// ActionKind is what an action does. Every action goes through the
// runner's act, so a dry run lists exactly what a real run would do.
type ActionKind string

const (
	ActRun         ActionKind = "run"          // run Argv on Node as root
	ActUpload      ActionKind = "upload"       // copy local Src to Node:Path; what was read must be SHA256
	ActVerifyFile  ActionKind = "verify-file"  // Node:Path must be SHA256
	ActWrite       ActionKind = "write"        // write Content to Node:Path, keeping the old file beside it
	ActCopyTree    ActionKind = "copy-tree"    // copy From:Path to Node:Path (verified, old tree kept)
	ActBackup      ActionKind = "backup"       // run the backup command on Node and record it
	ActBackupCheck ActionKind = "backup-check" // the backup check must pass on Node
	ActGate        ActionKind = "gate"         // wait for what Gate says
	ActVerifyLevel ActionKind = "verify-level" // read Node's migration level, want Level
	ActCheckRunit  ActionKind = "check-runit"  // runsvdir healthy and no leftover processes on Node
	ActRunitGone   ActionKind = "runit-gone"   // no runsvdir, runsv, svlogd or unsupervised service left on Node (wait; then TERM; then KILL)
	ActOrphansGone ActionKind = "orphans-gone" // no runsv that no runsvdir supervises left on Node (TERM; then KILL)
	ActPostflight  ActionKind = "postflight"   // the post-upgrade checks on every node
	ActConfirm     ActionKind = "confirm"      // stop unless the operator confirmed
)

// Action is one thing the runner does.
type Action struct {
	Kind    ActionKind `json:"kind"`
	Node    string     `json:"node,omitempty"`
	Argv    []string   `json:"argv,omitempty"`
	Src     string     `json:"src,omitempty"`
	From    string     `json:"from,omitempty"`
	Path    string     `json:"path,omitempty"`
	Content string     `json:"content,omitempty"`
	Level   string     `json:"level,omitempty"`
	// SHA256 is the digest the plan recorded of an uploaded package: the
	// upload and the node's copy must match it, whatever the file is now.
	SHA256 string    `json:"sha256,omitempty"`
	Gate   *GateSpec `json:"gate,omitempty"`
	// FailOn are output lines that mean failure even on exit 0: partybus
	// exits 0 when its lock is held.
	FailOn []string `json:"fail_on,omitempty"`
	// RetryAfterGate re-runs a failed command once after a stable-master
	// gate: partybus resumes from the level reached (OC-11382).
	RetryAfterGate bool `json:"retry_after_gate,omitempty"`
	// IgnoreExit accepts a non-zero exit (stopping a job that may not run).
	IgnoreExit bool `json:"ignore_exit,omitempty"`
	// Critical commands (a package install, a migration) run detached on
	// the node: an interrupt, a timeout or a lost connection stops chefha
	// waiting, never the command, and a resumed run waits for it.
	Critical bool   `json:"critical,omitempty"`
	Why      string `json:"why,omitempty"`
	// If is the condition at the step's turn under which a run takes the
	// action ("keepalived runs on be2"); a dry run, which cannot know the
	// facts of a later turn, lists the action with it, and IfNow says
	// whether it holds on the cluster now.
	If    string `json:"if,omitempty"`
	IfNow bool   `json:"if_now,omitempty"`
	// Within names the kind of the action this one is taken inside (a
	// gate's rerun of a failed transition, a restart after an orphaned
	// runsv was cleared): the dry run lists that action, which says it
	// may take this one.
	Within ActionKind `json:"within,omitempty"`
}

func (a Action) String() string {
	switch a.Kind {
	case ActRun:
		return fmt.Sprintf("%s: %s", a.Node, cluster.ShellJoin(a.Argv))
	case ActUpload:
		return fmt.Sprintf("%s: upload %s to %s", a.Node, a.Src, a.Path)
	case ActVerifyFile:
		return fmt.Sprintf("%s: verify %s is the planned file (sha256 %s)", a.Node, a.Path, clip(a.SHA256, 13))
	case ActWrite:
		return fmt.Sprintf("%s: write %q to %s (old file kept)", a.Node, strings.TrimSpace(a.Content), a.Path)
	case ActCopyTree:
		return fmt.Sprintf("%s: copy %s:%s to %s (changed files only, verified, old tree kept)", a.Node, a.From, a.Path, a.Path)
	case ActBackup:
		return fmt.Sprintf("%s: run the backup command, then its check", a.Node)
	case ActBackupCheck:
		return fmt.Sprintf("%s: run the backup check: the backup made before the first hop is still there", a.Node)
	case ActGate:
		return a.Gate.String()
	case ActVerifyLevel:
		return fmt.Sprintf("%s: verify migration level is %s", a.Node, a.Level)
	case ActCheckRunit:
		return fmt.Sprintf("%s: check runsvdir and leftover processes", a.Node)
	case ActOrphansGone:
		return fmt.Sprintf("%s: make sure no runsv of the stopped job remains (any left gets TERM, then KILL after %s; a service one ran that is down then is started again, on a back end only when it is the keepalived master)", a.Node, RunitDrain)
	case ActRunitGone:
		return fmt.Sprintf("%s: make sure no runsvdir, runsv, svlogd or unsupervised service remains (what is left after %s gets TERM, then KILL)", a.Node, RunitDrain)
	case ActPostflight:
		return "post-flight: every node at the target, level " + a.Level + ", its services up, the pair healthy"
	case ActConfirm:
		return "confirm: " + a.Why
	}
	return string(a.Kind)
}

// Changes reports whether the action changes a node (gates and checks
// only read).
func (a Action) Changes() bool {
	switch a.Kind {
	case ActRun, ActUpload, ActWrite, ActCopyTree, ActBackup:
		return true
	}
	return false
}

// streamWriter is a node that can take a file without it being held in
// memory (a package is hundreds of megabytes); SSH and Local are.
type streamWriter interface {
	WriteFileFrom(ctx context.Context, name string, r io.Reader, perm fs.FileMode) error
}

// DigestError is a file that is not the one the plan recorded: the local
// package replaced since planning, or the node's copy changed after the
// upload.
type DigestError struct {
	Node, Path   string // Node "" for the local file
	Planned, Got string // sha256, hex
}

func (e *DigestError) Error() string {
	where := "the local file " + e.Path + " changed since the plan"
	if e.Node != "" {
		where = e.Node + ":" + e.Path + " is not the file uploaded"
	}
	return fmt.Sprintf("%s: the plan recorded sha256 %s, it is now %s; nothing was installed from it (plan again with the package you mean to install)", where, e.Planned, e.Got)
}

// upload copies src to the node, hashing what it reads: the file that
// went is the one the plan recorded, or the upload fails.
func upload(ctx context.Context, n cluster.Node, src, dst, want string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	r := io.TeeReader(f, h)
	if sw, ok := n.(streamWriter); ok {
		err = sw.WriteFileFrom(ctx, dst, r, 0o644)
	} else {
		var data []byte
		if data, err = io.ReadAll(r); err == nil {
			err = n.WriteFile(ctx, dst, data, 0o644)
		}
	}
	if err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); want != "" && got != want {
		return &DigestError{Path: src, Planned: want, Got: got}
	}
	return nil
}

// verifyFile checks the node's copy right before it is installed: what
// sits in a shared directory between upload and install may be replaced.
func verifyFile(ctx context.Context, n cluster.Node, p, want string) error {
	res, err := n.Run(ctx, cluster.Cmd{Argv: []string{"sha256sum", "--", p}, Sudo: true})
	if err != nil {
		return err
	}
	f := strings.Fields(string(res.Stdout))
	if len(f) == 0 || len(f[0]) != 64 {
		return fmt.Errorf("%s: sha256sum %s printed %q", n.Name(), p, clip(string(res.Stdout), 80))
	}
	if f[0] != want {
		return &DigestError{Node: n.Name(), Path: p, Planned: want, Got: f[0]}
	}
	return nil
}

// writeKeeping writes a file, keeping the old one beside it.
func writeKeeping(ctx context.Context, n cluster.Node, path, content string, now time.Time) error {
	if old, err := n.ReadFile(ctx, path); err == nil {
		bak := path + ".chefha-backup-" + now.UTC().Format("20060102T150405Z")
		if err := n.WriteFile(ctx, bak, old, 0o644); err != nil {
			return fmt.Errorf("keep the old %s: %w", path, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return n.WriteFile(ctx, path, []byte(content), 0o644)
}

// failMarker finds a line of out that means failure though the command
// exited 0, with what it means.
func failMarker(out string, markers []string) (line, hint string, found bool) {
	for _, marker := range markers {
		i := strings.Index(out, marker)
		if i < 0 {
			continue
		}
		line = out[strings.LastIndex(out[:i], "\n")+1:]
		if j := strings.IndexByte(line, '\n'); j >= 0 {
			line = line[:j]
		}
		switch {
		case strings.Contains(marker, "file lock"):
			hint = " (partybus exited 0 without migrating: another upgrade holds " + migration.Path + "'s lock; make sure none runs, then run again)"
		}
		return strings.TrimSpace(line), hint, true
	}
	return "", "", false
}

// nameIssue says which services a failed sv or private-chef-ctl call left
// behind, and adds the known issue the output shows, with its fix.
func nameIssue(err error) error {
	var ee *cluster.ExitError
	if !errors.As(err, &ee) {
		return err
	}
	out := string(ee.Result.Stdout) + string(ee.Result.Stderr)
	if bad := svFailures(out); len(bad) > 0 {
		err = fmt.Errorf("%w\n  not in the state asked for: %s", err, strings.Join(bad, "; "))
	}
	for _, k := range append(KnownIssues(), SourceIssues()...) {
		for _, sig := range k.Signatures {
			if !strings.Contains(out, sig) {
				continue
			}
			if k.ranMitigated(ee.Cmd) {
				return fmt.Errorf("%w\n  %s", err, k.Mitigated)
			}
			return fmt.Errorf("%w\n  this is %s (%s): %s", err, k.ID, k.Title, k.Action)
		}
	}
	return err
}

// svFailures lists the lines of sv's output about services that did not
// reach the state asked for (timeout:, kill:, fail:, warning:).
func svFailures(out string) []string {
	var bad []string
	for _, line := range strings.Split(out, "\n") {
		st, err := runit.ParseStatusLine(line)
		if err == nil && (st.Outcome == "timeout" || st.Outcome == "kill" || st.State == runit.StateFail || st.State == runit.StateWarning) {
			bad = append(bad, strings.TrimSpace(line))
		}
	}
	return bad
}

// runitProblems lists an unhealthy runsvdir or leftover control processes.
func runitProblems(ps []runit.Process) []string {
	var msgs []string
	for _, f := range runit.DiagnoseProcesses(ps) {
		msgs = append(msgs, f.String()+" — "+f.Fix)
	}
	return msgs
}

package upgrade

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/chefha/chefha/cluster"
)

// Reading a node: one shell script prints every section between random
// markers in one exec session, and its output is split back into them.

// The markers between sections carry a random token drawn for each read,
// so that a line a node's file holds ("@@chefha:current" in a cluster.log
// someone wrote to) cannot pass itself off as a section of the facts.
const (
	markSection = "@@chefha-%s:"
	markRC      = "@@chefha-%s-rc:"
)

// newToken is a read's random marker token.
func newToken() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// factScript is the shell script that reads the named sections (all when
// none are named); peer is the other back end's replication address ("" on
// a front end, whose script then has no peer section).
func factScript(peer, token string, only ...string) string {
	sec, rcm := fmt.Sprintf(markSection, token), fmt.Sprintf(markRC, token)
	var b strings.Builder
	for _, c := range factCommands {
		if len(only) > 0 && !slices.Contains(only, c.name) || peer == "" && strings.Contains(c.cmd, peerPlaceholder) {
			continue
		}
		cmd := strings.ReplaceAll(c.cmd, peerPlaceholder, cluster.ShellJoin([]string{peer}))
		// printf starts the status line on a line of its own even when the
		// output does not end in a newline (a cut-short file); the parser
		// takes that one newline off again.
		// A command that sends its stderr elsewhere itself (stat's
		// complaints about the many files a release does not have) keeps
		// it there; any other's is part of its section.
		if !strings.HasSuffix(cmd, " 2>/dev/null") {
			cmd += " 2>&1"
		}
		fmt.Fprintf(&b, "echo %s%s\n%s\nprintf '\\n%s%%d\\n' $?\n", sec, c.name, cmd, rcm)
	}
	b.WriteString("true\n")
	return b.String()
}

// parseSections splits the script's output back into sections and checks
// that the wanted ones (all when none are named) are there.
func parseSections(out, peer, token string, only ...string) (map[string]Section, error) {
	markSection, markRC := fmt.Sprintf(markSection, token), fmt.Sprintf(markRC, token)
	secs := map[string]Section{}
	var name string
	var body strings.Builder
	for _, line := range strings.SplitAfter(out, "\n") {
		t := strings.TrimRight(line, "\n")
		switch {
		case strings.HasPrefix(t, markSection):
			name = strings.TrimPrefix(t, markSection)
			body.Reset()
		case strings.HasPrefix(t, markRC) && name != "":
			rc, err := strconv.Atoi(strings.TrimPrefix(t, markRC))
			if err != nil {
				return nil, fmt.Errorf("facts: bad status line %q", t)
			}
			secs[name] = Section{Output: strings.TrimSuffix(body.String(), "\n"), RC: rc}
			name = ""
		case name != "":
			body.WriteString(line)
		}
	}
	for _, c := range factCommands {
		if peer == "" && strings.Contains(c.cmd, peerPlaceholder) {
			continue
		}
		if _, ok := secs[c.name]; !ok && (len(only) == 0 || slices.Contains(only, c.name)) {
			return secs, fmt.Errorf("facts: no %s section in the output (cut short?)", c.name)
		}
	}
	return secs, nil
}

// UnreadableError is a node whose facts could not be read: the cause
// (the read timed out, SSH failed), never the script that was sent.
type UnreadableError struct {
	Node string
	// TimedOut is how long the read ran before it was cut; 0 when it
	// failed otherwise.
	TimedOut time.Duration
	Err      error
	msg      string // Err's text, without the script and the node's name
}

func (e *UnreadableError) Error() string {
	if e.TimedOut > 0 {
		d := e.TimedOut.Round(time.Second)
		if e.TimedOut < 10*time.Second {
			d = e.TimedOut.Round(100 * time.Millisecond)
		}
		return fmt.Sprintf("%s unreadable: the read timed out after %s", e.Node, d)
	}
	return e.Node + " unreadable: " + e.msg
}

func (e *UnreadableError) Unwrap() error { return e.Err }

// readNode reads the named sections of one node in one exec session,
// within timeout.
func readNode(ctx context.Context, n cluster.Node, peer string, timeout time.Duration, only ...string) (map[string]Section, error) {
	token := newToken()
	what := "every section"
	if len(only) > 0 {
		what = strings.Join(only, " ")
	}
	cmd := cluster.Cmd{Argv: []string{"sh", "-c", factScript(peer, token, only...)}, Sudo: true,
		Label: "sh -c <chefha's facts script: " + what + ">"}
	start := time.Now()
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := n.Run(rctx, cmd)
	if err != nil {
		ue := &UnreadableError{Node: n.Name(), Err: err}
		if errors.Is(err, context.DeadlineExceeded) { // this read's deadline or its caller's
			ue.TimedOut = time.Since(start)
		}
		msg := strings.ReplaceAll(err.Error(), cmd.String(), "(reading its facts)")
		ue.msg = strings.TrimPrefix(msg, n.Name()+": ")
		return nil, ue
	}
	return parseSections(string(res.Stdout), peer, token, only...)
}

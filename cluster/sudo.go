package cluster

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"
)

// sudoWantsTTY reports whether sudo refused for want of a terminal: the
// sudoers "Defaults requiretty" of RHEL 5 and 6 (sudo 1.7/1.8's
// "sorry, you must have a tty to run sudo", unchanged in 1.9).
func sudoWantsTTY(out []byte) bool {
	return bytes.Contains(out, []byte("you must have a tty to run sudo"))
}

// ttyModes make the pseudo-terminal pass bytes through untouched: no
// output processing (OPOST off, so "\n" does not become "\r\n"), no echo,
// no line editing, no signal or flow-control characters.
var ttyModes = ssh.TerminalModes{
	ssh.ECHO: 0, ssh.ICANON: 0, ssh.ISIG: 0, ssh.IEXTEN: 0,
	ssh.OPOST: 0, ssh.ONLCR: 0, ssh.OCRNL: 0,
	ssh.ICRNL: 0, ssh.INLCR: 0, ssh.IGNCR: 0, ssh.IXON: 0, ssh.IXOFF: 0, ssh.ISTRIP: 0,
	ssh.TTY_OP_ISPEED: 38400, ssh.TTY_OP_OSPEED: 38400,
}

// runTTY runs a sudo command under a pseudo-terminal, for sudoers with
// "Defaults requiretty". What a terminal keeps and what it cannot:
//   - stdout is byte-exact (the modes above) and the exit status is kept;
//   - stderr cannot be kept apart: a terminal has one output stream, so
//     the command's stderr (and sudo's) arrives in Result.Stdout, and
//     Result.Stderr is empty;
//   - stdin would be mangled by the terminal and never see end-of-file,
//     so it is passed through a temporary file instead: written 0600 by
//     the login user in a session without a terminal, opened as the
//     command's stdin and removed before sudo starts. Without Stdin the
//     command reads /dev/null, as without a terminal.
//
// When no terminal can be had, or sudo still refuses, the error is a
// *SudoError naming the sudoers line that lets sudo run without one.
func (n *SSH) runTTY(ctx context.Context, c Cmd) (Result, error) {
	in := "/dev/null"
	if c.Stdin != nil {
		f, err := n.stageStdin(ctx, c.Stdin)
		if err != nil {
			return Result{}, err
		}
		in = f
	}
	conn, sess, err := n.session(ctx)
	if err != nil {
		return Result{}, err
	}
	defer sess.Close()
	if err := sess.RequestPty("dumb", 24, 80, ttyModes); err != nil {
		if in != "/dev/null" {
			n.run(ctx, Command("rm", "-f", "--", in))
		}
		return Result{}, n.ttySudoError(c, "the SSH server refused a terminal ("+err.Error()+"; PermitTTY no?)")
	}
	line := "exec 0<" + ShellQuote(in) + "; "
	if in != "/dev/null" {
		line += "rm -f -- " + ShellQuote(in) + "; "
	}
	line += "echo $$; exec " + ShellJoin(sudoArgv(c, n.cfg.User))
	res, err := n.wait(ctx, conn, sess, c, line, true)
	if err != nil {
		return res, err
	}
	if res.ExitCode != 0 && sudoWantsTTY(res.Stdout) {
		return res, n.ttySudoError(c, "sudo refused even under a terminal")
	}
	// Under a terminal sudo's own complaints are in stdout.
	if res.ExitCode != 0 && sudoPrompted(res.Stdout) {
		return res, &SudoError{Node: n.Name(), User: n.cfg.User, Cmd: ShellJoin(c.Argv), Stderr: string(res.Stdout)}
	}
	return finish(n.Name(), n.cfg.User, c, res)
}

// stageStdin writes data to a fresh 0600 temporary file on the node, in a
// session without a terminal, and returns its name.
func (n *SSH) stageStdin(ctx context.Context, data []byte) (string, error) {
	script := `umask 077 && f=$(mktemp "${TMPDIR:-/tmp}/chefha-stdin.XXXXXXXX") && cat > "$f" && printf '%s' "$f"`
	res, err := n.run(ctx, Cmd{Argv: []string{"sh", "-c", script}, Stdin: data})
	if err == nil && res.ExitCode != 0 {
		err = &ExitError{Node: n.Name(), Cmd: "mktemp (stdin for a command run under a terminal)", Result: res}
	}
	if err != nil {
		return "", fmt.Errorf("%s: passing stdin to a sudo command under a terminal: %w", n.Name(), err)
	}
	f := string(res.Stdout)
	if !strings.Contains(f, "/chefha-stdin.") || strings.ContainsAny(f, "\n'") {
		return "", fmt.Errorf("%s: mktemp gave %q", n.Name(), f)
	}
	return f, nil
}

func (n *SSH) ttySudoError(c Cmd, why string) error {
	return &SudoError{Node: n.Name(), User: n.cfg.User, Cmd: ShellJoin(c.Argv), RequireTTY: true, Stderr: why}
}

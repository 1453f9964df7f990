package ecmodel

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// private-chef-ctl refuses what the real one refuses and passes on what it
// passes on, per release, as the packaging table read it: omnibus-ctl
// (1.4.6–11.2.0) answers its command map only, where up, down, pause, …
// are unknown and "int" has no method; 1.2.8's own script passes every
// SV_COMMAND_NAMES verb, "1" and "2" included, to a service named first,
// and tails one.
func TestCtlCommandSet(t *testing.T) {
	type tc struct {
		args []string
		code int
		out  string // in stdout or stderr
	}
	omnibus := []tc{
		{[]string{"up", "nginx"}, 1, "I don't know that command.\nDid you mean: /opt/opscode/bin/private-chef-ctl nginx up?\n"},
		{[]string{"pause"}, 1, "I don't know that command.\n"},
		{[]string{"cont", "nginx"}, 1, "I don't know that command.\n"},
		{[]string{"int", "nginx"}, 1, "undefined method `int' for #<Omnibus::Ctl> (NoMethodError)"},
		{[]string{"hup", "nginx"}, 0, "ok: nginx\n"},
		{[]string{"reconfigure", "nginx"}, 2, "The command reconfigure does not accept any arguments\n"},
	}
	for version, cases := range map[string][]tc{
		"1.4.6": omnibus, "11.0.2": omnibus, "11.1.8": omnibus, "11.2.0": omnibus,
		"1.2.8": {
			{[]string{"nginx", "up"}, 0, "ok: nginx\n"},
			{[]string{"nginx", "1"}, 0, "ok: nginx\n"},
			{[]string{"nginx", "2"}, 0, "ok: nginx\n"},
			{[]string{"nginx", "int"}, 1, ": command (subcommand)\n"},
			{[]string{"up", "nginx"}, 1, "i don't know that command, did you mean: private-chef-ctl nginx up?\n"},
			{[]string{"cleanup"}, 1, ": command (subcommand)\n"},
			{[]string{"nginx", "tail"}, 130, ""},
		},
	} {
		for _, c := range cases {
			t.Run(version+" "+strings.Join(c.args, " "), func(t *testing.T) {
				h, _ := haMaster()
				rel := Releases()[version]
				n := &Node{H: h, Installed: rel, Configured: rel}
				ctx, cancel := context.WithCancel(context.Background())
				cancel() // tail follows until interrupted
				var out bytes.Buffer
				code := n.Ctl(ctx, c.args, IO{Stdout: &out, Stderr: &out})
				if code != c.code || !strings.Contains(out.String(), c.out) {
					t.Errorf("exit %d, want %d; output %q, want it to hold %q", code, c.code, out.String(), c.out)
				}
			})
		}
	}
}

package upgrade

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chefha/chefha/cluster"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Each kind of call as its record reads, secrets redacted wherever they
// appear, the operator's backup commands kept out.
func TestCommandLogRecords(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 25, 12, 0, 3, 512e6, time.FixedZone("CET", 3600))
	run := func(sudo bool, argv ...string) cluster.Cmd { return cluster.Cmd{Argv: argv, Sudo: sudo} }
	lines := func(n int) string {
		var b strings.Builder
		for i := 1; i <= n; i++ {
			fmt.Fprintf(&b, "line %d\n", i)
		}
		return b.String()
	}
	exit := func(code int, stdout, stderr string) (cluster.Result, error) {
		res := cluster.Result{Stdout: []byte(stdout), Stderr: []byte(stderr), ExitCode: code}
		if code == 0 {
			return res, nil
		}
		return res, &cluster.ExitError{Node: "be1", Result: res}
	}
	key := "-----BEGIN RSA PRIVATE KEY-----\n" + strings.Repeat("MIIEow\n", 30) + "-----END RSA PRIVATE KEY-----\n"
	tests := []struct {
		name string
		call cluster.Call
		res  func() (cluster.Result, error)
		keep bool // WithBackupOutput
		want string
	}{{
		name: "a root command and its output",
		call: cluster.Call{Node: "be1", Op: "run", Cmd: run(true, "env", "SVWAIT=30", "private-chef-ctl", "upgrade"), Took: 1204 * time.Millisecond},
		res:  func() (cluster.Result, error) { return exit(0, "Chef Server Reconfigured!\n", "") },
		want: "2026-11-25T11:00:03.512Z be1 run 1.204s exit=0 # env SVWAIT=30 private-chef-ctl upgrade\n" +
			"  | Chef Server Reconfigured!\n",
	}, {
		name: "a failure, secrets in argv and output",
		call: cluster.Call{Node: "be1", Op: "run", Cmd: run(false, "sh", "-c", "PGPASSWORD=hunter2 pg_dump --password hunter2 opscode_chef"), Took: 12 * time.Millisecond},
		res: func() (cluster.Result, error) {
			return exit(3, "postgresql['sql_password'] = \"hunter2\"\n", "pg_dump: error: auth_pass hunter2 refused\n")
		},
		want: "2026-11-25T11:00:03.512Z be1 run 12ms exit=3 $ sh -c 'PGPASSWORD=\"[REDACTED]\" pg_dump --password \"[REDACTED]\" opscode_chef'\n" +
			"  | postgresql['sql_password'] = \"[REDACTED]\"\n" +
			"  ! pg_dump: error: auth_pass [REDACTED] refused\n",
	}, {
		name: "the tail of a long output",
		call: cluster.Call{Node: "fe1", Op: "run", Cmd: run(true, "private-chef-ctl", "reconfigure")},
		res:  func() (cluster.Result, error) { return exit(1, lines(25), "") },
		want: "2026-11-25T11:00:03.512Z fe1 run 0s exit=1 # private-chef-ctl reconfigure\n" +
			"  | … 5 earlier lines\n" + strings.ReplaceAll(strings.TrimSuffix(lines(25)[len(lines(5)):], "\n"), "line", "  | line") + "\n",
	}, {
		name: "a key whose start is above the tail",
		call: cluster.Call{Node: "be1", Op: "run", Cmd: run(true, "cat", "/etc/opscode/pivotal.pem")},
		res:  func() (cluster.Result, error) { return exit(0, key, "") },
		want: "2026-11-25T11:00:03.512Z be1 run 0s exit=0 # cat /etc/opscode/pivotal.pem\n" +
			"  | -----BEGIN RSA PRIVATE KEY-----\n  | [REDACTED]\n  | -----END RSA PRIVATE KEY-----\n",
	}, {
		name: "the backup command, its output left out",
		call: cluster.Call{Node: "be1", Op: "run", Cmd: run(true, "sh", "-c", "lvcreate -s -n pre vg0/chef")},
		res:  func() (cluster.Result, error) { return exit(5, "  Volume group \"vg0\" not found\n", "") },
		want: "2026-11-25T11:00:03.512Z be1 run 0s exit=5 # sh -c <the backup command>\n" +
			"  (output not kept: 31 bytes; WithBackupOutput keeps it)\n",
	}, {
		name: "the backup check, its output kept when asked",
		call: cluster.Call{Node: "be1", Op: "run", Cmd: run(true, "sh", "-c", "lvs vg0/pre")},
		res:  func() (cluster.Result, error) { return exit(0, "pre vg0 swi-a-s--- 10.00g\n", "") },
		keep: true,
		want: "2026-11-25T11:00:03.512Z be1 run 0s exit=0 # sh -c <the backup check>\n" +
			"  | pre vg0 swi-a-s--- 10.00g\n",
	}, {
		name: "what would rewrite the terminal",
		call: cluster.Call{Node: "be1", Op: "run", Cmd: run(false, "cat", "cluster.log")},
		res:  func() (cluster.Result, error) { return exit(0, "ok\x1b[2J\rmaster\n", "") },
		want: "2026-11-25T11:00:03.512Z be1 run 0s exit=0 $ cat cluster.log\n" +
			"  | ok\\x1b[2J\\rmaster\n",
	}, {
		name: "a connection lost",
		call: cluster.Call{Node: "be2", Op: "run", Cmd: run(true, "private-chef-ctl", "upgrade"), Took: 90 * time.Second},
		res: func() (cluster.Result, error) {
			return cluster.Result{}, fmt.Errorf("be2: %w: EOF", cluster.ErrConnectionLost)
		},
		want: "2026-11-25T11:00:03.512Z be2 run 1m30s error # private-chef-ctl upgrade\n" +
			"  error: be2: connection lost: EOF\n",
	}, {
		name: "a file read",
		call: cluster.Call{Node: "fe1", Op: "read", Path: "/var/opt/opscode/upgrades/migration-level", Detail: "21 bytes"},
		res:  func() (cluster.Result, error) { return cluster.Result{}, nil },
		want: "2026-11-25T11:00:03.512Z fe1 read 0s ok /var/opt/opscode/upgrades/migration-level (21 bytes)\n",
	}, {
		name: "a file missing",
		call: cluster.Call{Node: "fe1", Op: "read", Path: "/var/opt/opscode/upgrades/chefha.lock/owner"},
		res:  func() (cluster.Result, error) { return cluster.Result{}, fs.ErrNotExist },
		want: "2026-11-25T11:00:03.512Z fe1 read 0s missing /var/opt/opscode/upgrades/chefha.lock/owner\n",
	}, {
		name: "a write refused",
		call: cluster.Call{Node: "fe1", Op: "write", Path: "/etc/opscode/private-chef.rb", Detail: "812 bytes, mode 0644", Took: 3 * time.Millisecond},
		res: func() (cluster.Result, error) {
			return cluster.Result{}, errors.New("fe1: write /etc/opscode/private-chef.rb: permission denied")
		},
		want: "2026-11-25T11:00:03.512Z fe1 write 3ms error /etc/opscode/private-chef.rb (812 bytes, mode 0644)\n" +
			"  error: fe1: write /etc/opscode/private-chef.rb: permission denied\n",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "j.commands.log")
			l, err := openCommandLog(path)
			require.NoError(t, err)
			l.private = map[string]string{"lvcreate -s -n pre vg0/chef": "<the backup command>", "lvs vg0/pre": "<the backup check>"}
			l.keepPrivate = tt.keep
			c := tt.call
			c.Start = at
			c.Result, c.Err = tt.res()
			l.record(c)
			require.NoError(t, l.close())
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			_, rec, ok := strings.Cut(string(b), "\n") // the file's first line says what it is
			require.True(t, ok)
			assert.Equal(t, tt.want, rec)
			assert.NotContains(t, rec, "hunter2")
		})
	}
}

// A log that cannot be written says so once, and the run goes on.
func TestCommandLogWriteFailureSaidOnce(t *testing.T) {
	t.Parallel()
	l, err := openCommandLog(filepath.Join(t.TempDir(), "j.commands.log"))
	require.NoError(t, err)
	var said []error
	l.warn = func(err error) { said = append(said, err) }
	require.NoError(t, l.f.Close()) // as a disk gone away would
	l.record(cluster.Call{Node: "be1", Op: "stat", Path: "/etc/opscode"})
	l.event(Event{Kind: EventStepStart, Step: "hop1/backup"})
	require.Len(t, said, 1)
	assert.ErrorIs(t, said[0], os.ErrClosed)
}

// The log lives beside the journal's local file, wherever that is kept.
func TestCommandLogPath(t *testing.T) {
	t.Parallel()
	node := NodeJournal{Node: cluster.NewLocal("be1")}
	for _, tt := range []struct {
		j    Journal
		want string
	}{
		{FileJournal{Path: "/srv/chefha/chefha-upgrade.json"}, "/srv/chefha/chefha-upgrade.commands.log"},
		{&FileJournal{Path: "run"}, "run.commands.log"},
		{MirrorJournal{node, FileJournal{Path: "/srv/j.json"}}, "/srv/j.commands.log"},
		{node, ""},
		{&MemJournal{}, ""},
		{nil, ""},
	} {
		assert.Equal(t, tt.want, commandLogPath(tt.j), "%v", tt.j)
	}
}

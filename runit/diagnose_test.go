package runit

import (
	"bytes"
	"io/fs"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDiagnoseProcesses(t *testing.T) {
	tests := []struct {
		file string
		want []Symptom
	}{
		{"ps-aux-runbook-good.txt", nil},
		{"ps-aux-runbook-bad.txt", []Symptom{SymptomRunsvdirErrors}},
		{"live-ps-eo.txt", []Symptom{SymptomRunsvdirErrors}},
		// Two runsvdirs on one directory, a ctl run through ruby and an sv
		// start; the zombie sv and svlogd-not-a-ctl are not findings.
		{"ps-eo-two-runsvdirs.txt", []Symptom{SymptomTwoRunsvdirs, SymptomLeftoverCtl, SymptomLeftoverCtl}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			procs, err := ParsePS(bytes.NewReader(fixture(t, tt.file)))
			require.NoError(t, err)
			f := DiagnoseProcesses(procs)
			assert.Equal(t, tt.want, symptoms(f))
			for _, x := range f {
				assert.NotEmpty(t, x.Evidence, "%s has evidence", x.Symptom)
				assert.NotEmpty(t, x.Fix, "%s has a fix", x.Symptom)
			}
		})
	}
	procs, err := ParsePS(bytes.NewReader(fixture(t, "ps-eo-two-runsvdirs.txt")))
	require.NoError(t, err)
	f := DiagnoseProcesses(procs)
	assert.Equal(t, "/opt/opscode/service", f[0].Subject)
	assert.Len(t, f[0].Evidence, 2)
	assert.Contains(t, f[0].Fix, "initctl start private-chef-runsvdir")
	assert.Equal(t, "pid 2001", f[1].Subject)
	assert.Equal(t, "pid 2100", f[2].Subject)
	assert.Contains(t, f[1].Fix, "opscode-chef-mover")
}

func TestDiagnoseServiceLinks(t *testing.T) {
	links, err := ParseLinks(bytes.NewReader(fixture(t, "find-service-links.txt")))
	require.NoError(t, err)

	pre := DiagnoseServiceLinks(DefaultServiceDir, links, false)
	require.Len(t, pre, 2, "on 1.4.6 only dangling links are stale")
	assert.Equal(t, "/opt/opscode/service/nagios", pre[0].Subject)
	assert.Equal(t, "/opt/opscode/service/bookshelf", pre[1].Subject)

	post := DiagnoseServiceLinks(DefaultServiceDir, []Link{
		{Name: "nagios", Target: "/opt/opscode/sv/nagios", IsLink: true},
		{Name: "php-fpm", Target: "/opt/opscode/sv/php-fpm", IsLink: true},
		{Name: "opscode-chef-mover", Target: "/opt/opscode/sv/opscode-chef-mover", IsLink: true},
		{Name: "nginx", Target: "/opt/opscode/sv/nginx", IsLink: true},
	}, true)
	assert.Equal(t, []Symptom{SymptomStaleServiceLink, SymptomStaleServiceLink}, symptoms(post))
	assert.Contains(t, post[0].Evidence[0], "EC 11 removed this service")
	assert.Equal(t, "private-chef-ctl cleanup (once the upgraded cluster is verified) removes the services EC 11 dropped and their links", post[0].Fix,
		"EC 11's leftovers go with the cleanup, not by hand")
}

func TestDiagnoseLogDir(t *testing.T) {
	stats, err := ParseStat(bytes.NewReader(fixture(t, "stat-logdir.txt")))
	require.NoError(t, err)
	full, err := ParseDF(bytes.NewReader(fixture(t, "df-P-full.txt")))
	require.NoError(t, err)
	roomy, err := ParseDF(bytes.NewReader(fixture(t, "df-P.txt")))
	require.NoError(t, err)
	good := stats[0]
	good.Mode, good.Owner, good.Group = 0o755, "opscode", "opscode"

	tests := []struct {
		name  string
		in    LogDir
		owner string
		want  []Symptom
	}{
		{"healthy EC 11", LogDir{Dir: good, Logs: []ServiceLog{{Service: "bookshelf"}, {Service: "nginx"}}, Files: stats[1:], Usage: roomy}, "opscode", nil},
		{"mode 700 (1.4.6+ wants 755)", LogDir{Dir: stats[0], Usage: roomy}, "", []Symptom{SymptomLogDirMode}},
		{"root-owned on EC 11", LogDir{Dir: stats[0]}, "opscode", []Symptom{SymptomLogDirMode, SymptomLogDirOwner}},
		{"owner not checked before EC 11", LogDir{Dir: func() FileStat { d := stats[0]; d.Mode = 0o755; return d }()}, "", nil},
		{"sticky 1755 (a tmpfs root copied with cp -a) harms nothing", LogDir{Dir: func() FileStat { d := good; d.Mode = 0o755 | fs.ModeSticky; return d }()}, "opscode", nil},
		{"775 works but is open", LogDir{Dir: func() FileStat { d := good; d.Mode = 0o775; return d }()}, "opscode", []Symptom{SymptomLogDirOpen}},
		{"751: others cannot read", LogDir{Dir: func() FileStat { d := good; d.Mode = 0o751; return d }()}, "opscode", []Symptom{SymptomLogDirMode}},
		{"current missing", LogDir{Dir: good, Logs: []ServiceLog{{Service: "bookshelf"}, {Service: "opscode-solr"}}, Files: stats[1:]}, "opscode", []Symptom{SymptomLogCurrentMissing}},
		{"filesystem full", LogDir{Dir: good, Usage: full}, "opscode", []Symptom{SymptomLogFSFull}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := DiagnoseLogDir(tt.in, tt.owner)
			assert.Equal(t, tt.want, symptoms(f))
			for _, x := range f {
				assert.NotEmpty(t, x.Evidence)
				assert.NotEmpty(t, x.Fix)
			}
		})
	}
	f := DiagnoseLogDir(LogDir{Dir: good, Logs: []ServiceLog{{Service: "opscode-solr"}}}, "opscode")
	require.Len(t, f, 1)
	assert.Equal(t, "/var/log/opscode/opscode-solr/current", f[0].Subject)
	// A service whose svlogd writes elsewhere is looked for there.
	f = DiagnoseLogDir(LogDir{Dir: good, Logs: []ServiceLog{{Service: "postgresql", Dir: "/var/log/opscode/postgresql/9.2"}},
		Files: []FileStat{{Path: "/var/log/opscode/postgresql/9.2/current"}}}, "opscode")
	assert.Empty(t, f)
	f = DiagnoseLogDir(LogDir{Dir: good, Logs: []ServiceLog{{Service: "postgresql", Dir: "/var/log/opscode/postgresql/9.2"}},
		Files: []FileStat{{Path: "/var/log/opscode/postgresql/current"}}}, "opscode")
	require.Len(t, f, 1)
	assert.Equal(t, "/var/log/opscode/postgresql/9.2/current", f[0].Subject)
	f = DiagnoseLogDir(LogDir{Dir: stats[0]}, "opscode")
	assert.Equal(t, []string{"/var/log/opscode has mode 0700: the services need read and search (r-x) for every class, and its owner write"}, f[0].Evidence)
	assert.Contains(t, f[1].Fix, "chown -R opscode:opscode /var/log/opscode")
	sticky := good
	sticky.Mode = 0o751 | fs.ModeSticky
	f = DiagnoseLogDir(LogDir{Dir: sticky}, "opscode")
	require.Len(t, f, 1)
	assert.Contains(t, f[0].Evidence[0], "has mode 1751", "the evidence shows the exact mode, special bits included")
}

// A runsv that could not lock its service's supervise/lock while the old
// runsvdir job's runsv were stopping (the 11.x job swap) is history once
// runsvdir runs a runsv for that service again; the same message with no
// runsv for the service, a second runsvdir, or any other message is not.
func TestLockContentionResolvedByALiveRunsv(t *testing.T) {
	const lockMsg = "runsv opscode-chef: fatal: unable to lock supervise/lock: temporary failure"
	runsvdir := func(log string) Process {
		return Process{User: "root", PID: 700, PPID: 1, Command: "runsvdir -P /opt/opscode/service log: ......" + log}
	}
	runsv := func(pid int, name string) Process {
		return Process{User: "root", PID: pid, PPID: 700, Command: "runsv " + name}
	}
	for _, tc := range []struct {
		name    string
		ps      []Process
		current []string
	}{
		{"resolved: opscode-chef supervised again", []Process{runsvdir(lockMsg + "?"), runsv(701, "opscode-chef"), runsv(702, "nginx")}, nil},
		{"held: no runsv for opscode-chef", []Process{runsvdir(lockMsg + "?"), runsv(702, "nginx")}, []string{lockMsg}},
		{"no PPID column: nothing known", []Process{runsvdir(lockMsg + "?"), {User: "root", PID: 701, Command: "runsv opscode-chef"}}, []string{lockMsg}},
		{"another error stays", []Process{runsvdir(lockMsg + "?svlogd: pausing: unable to rename current: /var/log/opscode/nginx: file does not exist?"), runsv(701, "opscode-chef")},
			[]string{"svlogd: pausing: unable to rename current: /var/log/opscode/nginx: file does not exist"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs := FindRunsvdirs(tc.ps)
			if len(rs) != 1 {
				t.Fatalf("%d runsvdirs", len(rs))
			}
			if got := rs[0].Current(); !slices.Equal(got, tc.current) {
				t.Errorf("Current() = %q, want %q", got, tc.current)
			}
			if rs[0].Healthy() != (len(tc.current) == 0) {
				t.Errorf("Healthy() = %v with %q current", rs[0].Healthy(), tc.current)
			}
			if len(rs[0].Errors) == 0 {
				t.Error("Errors keeps the window's messages")
			}
			var symptoms []Symptom
			for _, f := range DiagnoseProcesses(tc.ps) {
				symptoms = append(symptoms, f.Symptom)
			}
			if want := len(tc.current) > 0; slices.Contains(symptoms, SymptomRunsvdirErrors) != want {
				t.Errorf("DiagnoseProcesses: %v, want runsvdir-errors %v", symptoms, want)
			}
		})
	}
}

// A runsv whose runsvdir is gone (its job stopped; it outlived the
// post-stop's signal) holds its service's lock: a finding naming it and
// the kill. One under a runsvdir is fine, and a listing without PPID
// says nothing either way.
func TestOrphanRunsv(t *testing.T) {
	ps, err := ParsePS(strings.NewReader(`  PID  PPID STAT COMMAND
    1     0 Ss   /sbin/init
 1103     1 Ss   runsv couchdb
 2892     1 Ss   runsvdir -P /opt/opscode/service log: ...........
 2988  2892 Ss   runsv nagios
 3011  2988 S    svlogd -tt /var/log/opscode/nagios
 3100     1 Zs   [runsv] <defunct>
`))
	require.NoError(t, err)
	var got []Finding
	for _, f := range DiagnoseProcesses(ps) {
		if f.Symptom == SymptomOrphanRunsv {
			got = append(got, f)
		}
	}
	require.Len(t, got, 1)
	assert.Equal(t, "runsv couchdb (pid 1103)", got[0].Subject)
	assert.Contains(t, got[0].Evidence[0], "parent is pid 1 (/sbin/init), not a runsvdir")
	assert.Contains(t, got[0].Fix, "kill -TERM 1103")

	aux, err := ParsePS(strings.NewReader("USER PID %CPU %MEM VSZ RSS TTY STAT START TIME COMMAND\nroot 1103 0.0 0.0 1 1 ? Ss 20:18 0:00 runsv couchdb\n"))
	require.NoError(t, err)
	assert.Empty(t, DiagnoseProcesses(aux), "ps aux has no PPID: nothing to judge")
}

func TestSupervised(t *testing.T) {
	ps, err := ParsePS(strings.NewReader(`  PID  PPID STAT COMMAND
    1     0 Ss   /sbin/init
 1103     1 Ss   runsv couchdb
 2892     1 Ss   runsvdir -P /opt/opscode/service log: ...........
 2988  2892 Ss   runsv nagios
 2990  2892 Zs   [runsv] <defunct>
 3011  2988 S    svlogd -tt /var/log/opscode/nagios
`))
	require.NoError(t, err)
	for svc, want := range map[string]bool{"nagios": true, "couchdb": false, "postgresql": false, "svlogd": false} {
		assert.Equal(t, want, Supervised(ps, svc), svc)
	}
}

// What a stopped supervision tree leaves: runit's own processes, and the
// services a killed runsv left running (reparented to init), not the
// ctl processes (their own finding) nor anything else of the machine's.
func TestLeftovers(t *testing.T) {
	ps, err := ParsePS(strings.NewReader(`  PID  PPID STAT COMMAND
    1     0 Ss   /sbin/init
    9     1 S    sshd: /usr/sbin/sshd -D
 1103     1 Ss   runsv couchdb
 1104  1103 S    svlogd -tt /var/log/opscode/couchdb
 1557     1 Ss   /opt/opscode/embedded/sbin/keepalived --log-console --dont-fork
 1572     1 Ss   /bin/sh /opt/opscode/embedded/bin/nrpe
 1584  1572 S    sleep 3600
 1600     1 S    /opt/opscode/embedded/bin/ruby /opt/opscode/embedded/bin/omnibus-ctl opscode stop
 1700     1 Zs   [runsv] <defunct>
`))
	require.NoError(t, err)
	var got []int
	for _, p := range Leftovers(ps, "/opt/opscode/") {
		got = append(got, p.PID)
	}
	assert.Equal(t, []int{1103, 1104, 1557, 1572}, got)
}

func TestLockContention(t *testing.T) {
	for _, tc := range []struct {
		msg, name string
		ok        bool
	}{
		{"runsv rabbitmq: fatal: unable to lock supervise/lock: temporary failure", "rabbitmq", true},
		// The oldest message of the rolling window, cut at its front.
		{"unsv rabbitmq: fatal: unable to lock supervise/lock: temporary failure", "rabbitmq", true},
		{" rabbitmq: fatal: unable to lock supervise/lock: temporary failure", "rabbitmq", true},
		{"bbitmq: fatal: unable to lock supervise/lock: temporary failure", "bbitmq", true},
		{"svlogd rabbitmq: fatal: unable to lock supervise/lock: temporary failure", "", false},
		{"runsv rabbitmq: warning: unable to open log/supervise/ok", "", false},
		{"runsv : fatal: unable to lock supervise/lock: temporary failure", "", false},
		{": fatal: unable to lock supervise/lock", "", false},
	} {
		name, ok := LockContention(tc.msg)
		assert.Equal(t, tc.ok, ok, tc.msg)
		assert.Equal(t, tc.name, name, tc.msg)
	}
}

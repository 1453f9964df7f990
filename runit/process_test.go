package runit

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParsePSFixtures(t *testing.T) {
	tests := []struct {
		file    string
		n       int
		first   Process
		healthy []bool // per runsvdir found
		errors  [][]string
	}{
		{
			file:    "ps-aux-runbook-good.txt",
			n:       1,
			first:   Process{User: "root", PID: 1543, Stat: "Ss"},
			healthy: []bool{true},
			errors:  [][]string{nil},
		},
		{
			file:    "ps-aux-runbook-bad.txt",
			n:       1,
			first:   Process{User: "root", PID: 864, Stat: "Ss"},
			healthy: []bool{false},
			errors:  [][]string{{"svlogd: pausing: unable to rename current: /var/log/opscode/opscode-erchef: file does not exist"}},
		},
		{
			file:    "ps-eo-formats-procps4.txt",
			n:       1,
			first:   Process{User: "root", PID: 1543, PPID: 1, Stat: "Ss"},
			healthy: []bool{false},
			// The cut first message is the tail of the third: listed once.
			errors: [][]string{{
				"svlogd: fatal: no functional log directories",
				"svlogd: warning: unable to open log directory: /var/log/opscode/missing-solr: file does not exist",
			}},
		},
		{
			file:    "live-ps-aux.txt",
			n:       11,
			first:   Process{User: "root", PID: 6509, Stat: "S"},
			healthy: []bool{false},
			errors: [][]string{{
				"svlogd: warning: unable to open log directory: /var/log/opscode/missing-solr: file does not exist",
				"svlogd: fatal: no functional log directories",
			}},
		},
		{
			file:    "live-ps-eo.txt",
			n:       11,
			first:   Process{User: "root", PID: 6509, PPID: 6503, Stat: "S"},
			healthy: []bool{false},
			errors: [][]string{{
				"svlogd: warning: unable to open log directory: /var/log/opscode/missing-solr: file does not exist",
				"svlogd: fatal: no functional log directories",
			}},
		},
		{
			file:    "ps-eo-two-runsvdirs.txt",
			n:       10,
			first:   Process{User: "root", PID: 864, PPID: 1, Stat: "Ss"},
			healthy: []bool{true, true},
			errors:  [][]string{nil, nil},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			procs, err := ParsePS(bytes.NewReader(fixture(t, tt.file)))
			require.NoError(t, err)
			require.Len(t, procs, tt.n)
			got := procs[0]
			got.Command = ""
			assert.Equal(t, tt.first, got)
			assert.True(t, strings.HasPrefix(procs[0].Command, "runsvdir -P /opt/opscode/service log:") ||
				strings.HasPrefix(procs[0].Command, "/opt/opscode/embedded/bin/runsvdir"), procs[0].Command)
			rs := FindRunsvdirs(procs)
			require.Len(t, rs, len(tt.healthy))
			for i, r := range rs {
				assert.Equal(t, "/opt/opscode/service", r.ServiceDir)
				assert.Equal(t, tt.healthy[i], r.Healthy(), "runsvdir %d", i)
				assert.Equal(t, tt.errors[i], r.Errors, "runsvdir %d", i)
			}
		})
	}
}

func TestParsePSShapes(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Process
		err  string
	}{
		{
			name: "command keeps its spaces",
			in:   "  PID  PPID USER     STAT COMMAND\n    7     1 root     S    /bin/sh -c  echo  'a  b'\n",
			want: []Process{{PID: 7, PPID: 1, User: "root", Stat: "S", Command: "/bin/sh -c  echo  'a  b'"}},
		},
		{
			name: "columns in another order",
			in:   "USER PID ARGS\nopscode 12 svlogd -tt /var/log/opscode/nginx\n",
			want: []Process{{PID: 12, User: "opscode", Command: "svlogd -tt /var/log/opscode/nginx"}},
		},
		{
			name: "CRLF and blank lines",
			in:   "PID CMD\r\n\r\n1 init\r\n",
			want: []Process{{PID: 1, Command: "init"}},
		},
		{name: "empty", in: "", want: nil},
		{name: "header without PID", in: "USER COMMAND\nroot x\n", err: "no PID column"},
		{name: "command not last", in: "PID COMMAND USER\n1 init root\n", err: "not last"},
		{name: "row with text PID", in: "PID COMMAND\nabc init\n", err: "numeric PID"},
		{name: "short row after a header", in: "PID USER COMMAND\n1 root\n", err: "line 2"},
		{name: "headerless garbage", in: "hello world\n", err: "line 1"},
		{name: "negative PID", in: "PID COMMAND\n-1 x\n", err: "numeric PID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePS(strings.NewReader(tt.in))
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				var pe *ParseError
				assert.True(t, errors.As(err, &pe), "a *ParseError")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestProcessName(t *testing.T) {
	assert.Equal(t, "runsvdir", Process{Command: "/opt/opscode/embedded/bin/runsvdir -P /x"}.Name())
	assert.Equal(t, "runsv", Process{Command: "runsv"}.Name())
	assert.Equal(t, []string{"sv", "start", "x"}, Process{Command: "sv  start x"}.Argv())
}

func TestLogMessages(t *testing.T) {
	tests := []struct {
		window string
		want   []string
	}{
		{"......", nil},
		{"", nil},
		{".....runsv opscode-erchef: warning: unable to open log/supervise/lock: temporary failure\n...",
			[]string{"runsv opscode-erchef: warning: unable to open log/supervise/lock: temporary failure"}},
		{"ist?svlogd: pausing: unable to rename current: /x: file does not exist?....",
			[]string{"svlogd: pausing: unable to rename current: /x: file does not exist"}},
		{"tail only, nothing whole later?.", []string{"tail only, nothing whole later"}},
		{"runsvdir: warning: unable to fork: out of memory\nrunsvdir: warning: unable to fork: out of memory\n",
			[]string{"runsvdir: warning: unable to fork: out of memory"}},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, logMessages(tt.window), "%q", tt.window)
	}
}

// psListing makes an n-process `ps aux` listing shaped like a Chef back end.
func psListing(n int) []byte {
	var b bytes.Buffer
	b.WriteString("USER       PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND\n")
	b.WriteString("root         1  0.0  0.0 167724 11980 ?        Ss   Nov24   0:03 /sbin/init\n")
	b.WriteString("root      1543  0.0  0.0   4032   196 ?        Ss   20:18   0:00 runsvdir -P /opt/opscode/service log: " + strings.Repeat(".", 395) + "\n")
	for i := 2; i < n; i++ {
		switch i % 3 {
		case 0:
			fmt.Fprintf(&b, "root     %5d  0.0  0.0   4172   468 ?        Ss   20:18   0:00 runsv opscode-svc-%d\n", 2000+i, i)
		case 1:
			fmt.Fprintf(&b, "opscode  %5d  0.0  0.0   4316   552 ?        S    20:18   0:00 svlogd -tt /var/log/opscode/opscode-svc-%d\n", 2000+i, i)
		default:
			fmt.Fprintf(&b, "opscode  %5d  1.2  3.4 2484216 561204 ?      Ssl  20:18  12:34 /opt/opscode/embedded/service/opscode-erchef/erts-5.9.2/bin/beam.smp -K true -A 5 -- -root /opt/opscode/embedded/service/opscode-erchef -progname opscode-erchef\n", 2000+i)
		}
	}
	return b.Bytes()
}

func TestPSListingGenerator(t *testing.T) {
	procs, err := ParsePS(bytes.NewReader(psListing(10000)))
	require.NoError(t, err)
	assert.Len(t, procs, 10000)
	assert.Len(t, FindRunsvdirs(procs), 1)
}

func BenchmarkParsePS(b *testing.B) {
	in := psListing(10000)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParsePS(bytes.NewReader(in)); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzParsePS(f *testing.F) {
	for _, name := range []string{"ps-aux-runbook-good.txt", "ps-aux-runbook-bad.txt", "live-ps-aux.txt", "live-ps-eo.txt", "ps-eo-two-runsvdirs.txt"} {
		f.Add(fixture(f, name))
	}
	f.Add([]byte("PID COMMAND\n1 runsvdir -P\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		procs, err := ParsePS(bytes.NewReader(in))
		if err != nil {
			if procs != nil {
				t.Fatalf("error %v with %d processes", err, len(procs))
			}
			return
		}
		for _, p := range procs {
			if p.PID < 0 || strings.TrimSpace(p.Command) == "" {
				t.Fatalf("bad process %+v", p)
			}
		}
		_ = DiagnoseProcesses(procs)
	})
}

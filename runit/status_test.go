package runit

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseStatusFixtures(t *testing.T) {
	run := func(pid int, up time.Duration) ServiceStatus {
		return ServiceStatus{State: StateRun, PID: pid, Uptime: up, NormallyUp: true}
	}
	logRun := func(pid int, up time.Duration) *ServiceStatus {
		s := run(pid, up)
		s.Name, s.Service = "log", "log"
		return &s
	}
	named := func(s ServiceStatus, name string) ServiceStatus {
		s.Name = name
		s.Service = name[strings.LastIndex(name, "/")+1:]
		return s
	}
	with := func(s ServiceStatus, f func(*ServiceStatus)) ServiceStatus { f(&s); return s }
	down := func(up time.Duration) ServiceStatus { return ServiceStatus{State: StateDown, Uptime: up} }
	s := time.Second

	tests := map[string][]ServiceStatus{
		"sv-status-formats.txt": {
			with(named(run(3740, 7*s), "/opt/opscode/service/bookshelf"), func(x *ServiceStatus) { x.Log = logRun(3739, 7*s) }),
			with(named(down(0), "/opt/opscode/service/nginx"), func(x *ServiceStatus) { x.NormallyUp, x.Want = true, "up" }),
			with(named(run(3744, 7*s), "/opt/opscode/service/opscode-solr"), func(x *ServiceStatus) {
				x.Log = &ServiceStatus{Name: "log", Service: "log", State: StateDown, NormallyUp: true, Want: "up"}
			}),
			with(named(down(1*s), "opscode-erchef"), func(x *ServiceStatus) { x.Outcome, x.NormallyUp = "ok", true }),
			with(named(down(2*s), "opscode-chef-mover"), func(x *ServiceStatus) { x.NormallyUp, x.Log = true, logRun(993, 8313*s) }),
			with(named(run(1234, 5678*s), "opscode-erchef"), func(x *ServiceStatus) { x.Log = logRun(1233, 5678*s) }),
		},
		"sv-status-sv-c.txt": {
			named(ServiceStatus{State: StateFinish, PID: 4321, Uptime: 3 * s, NormallyUp: true}, "opscode-erchef"),
			with(named(run(812, 90*s), "keepalived"), func(x *ServiceStatus) {
				x.NormallyUp, x.Paused, x.Want, x.GotTERM, x.Log = false, true, "down", true, logRun(811, 90*s)
			}),
			with(named(down(86400*s), "postgresql"), func(x *ServiceStatus) { x.Log = logRun(700, 86400*s) }),
			with(named(run(77, 30*s), "opscode-expander"), func(x *ServiceStatus) { x.Outcome, x.Want, x.GotTERM = "kill", "down", true }),
			named(ServiceStatus{State: StateFail, Message: "runsv not running"}, "redis_lb"),
		},
		"live-sv-stop.txt": {
			with(named(run(6527, 2*s), "/opt/opscode/service/opscode-expander"), func(x *ServiceStatus) {
				x.Outcome, x.Want, x.GotTERM = "timeout", "down", true
			}),
			with(named(down(1*s), "/opt/opscode/service/bookshelf"), func(x *ServiceStatus) { x.Outcome, x.NormallyUp = "ok", true }),
		},
		"live-sv-errors.txt": {
			named(ServiceStatus{State: StateFail, Message: "unable to change to service directory: file does not exist"}, "/opt/opscode/service/redis"),
			named(ServiceStatus{State: StateWarning, Message: "unable to open supervise/ok: file does not exist"}, "/opt/opscode/sv/opscode-webui"),
		},
	}
	for file, want := range tests {
		t.Run(file, func(t *testing.T) {
			got, err := ParseStatus(bytes.NewReader(fixture(t, file)))
			require.NoError(t, err)
			assert.Equal(t, want, got)
		})
	}
	t.Run("live-sv-status.txt", func(t *testing.T) {
		got, err := ParseStatus(bytes.NewReader(fixture(t, "live-sv-status.txt")))
		require.NoError(t, err)
		require.Len(t, got, 4)
		var names []string
		for _, g := range got {
			names = append(names, g.Service)
		}
		assert.Equal(t, []string{"bookshelf", "nginx", "opscode-solr", "opscode-expander"}, names)
		assert.True(t, got[0].Up())
		assert.False(t, got[1].Up())
		assert.Equal(t, StateDown, got[2].Log.State)
	})
}

func TestParseStatusErrors(t *testing.T) {
	for _, in := range []string{
		"running: x: (pid 1) 2s",
		"run: x: 5s",                           // run needs a pid
		"run: x: (pid abc) 5s",                 // pid not a number
		"run: x: (pid 0) 5s",                   // pid 0
		"down: x: 5",                           // no s
		"down: x: -5s",                         // negative
		"down: x: 5s, normally sideways",       // unknown flag
		"down: x: 5s; run: notlog: (pid 2) 1s", // log part must be log
		"fail: x: runsv not running; run: log: (pid 2) 1s",
		"fail: x: ",
		"timeout: ",
		"run",
		"run: : (pid 1) 1s",
		"down: x: 99999999999999999999s",
	} {
		t.Run(in, func(t *testing.T) {
			_, err := ParseStatus(strings.NewReader("run: ok: (pid 9) 1s\n" + in + "\n"))
			require.Error(t, err)
			assert.Contains(t, err.Error(), "sv status line 2")
		})
	}
}

func FuzzParseStatus(f *testing.F) {
	for _, name := range []string{"sv-status-formats.txt", "sv-status-sv-c.txt", "live-sv-status.txt", "live-sv-stop.txt", "live-sv-errors.txt"} {
		f.Add(fixture(f, name))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		st, err := ParseStatus(bytes.NewReader(in))
		if err != nil {
			return
		}
		for _, s := range st {
			switch s.State {
			case StateRun, StateFinish:
				if s.PID <= 0 {
					t.Fatalf("%s without pid: %+v", s.State, s)
				}
			case StateDown:
				if s.PID != 0 {
					t.Fatalf("down with pid: %+v", s)
				}
			case StateFail, StateWarning:
				if s.Message == "" {
					t.Fatalf("%s without message", s.State)
				}
			default:
				t.Fatalf("state %q accepted", s.State)
			}
			if s.Service == "" || s.Uptime < 0 {
				t.Fatalf("bad status %+v", s)
			}
		}
	})
}

package runit

import (
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"time"
)

// State is the first word of an `sv status` line.
type State string

// States sv prints. Run, Down and Finish come from runsv's status file;
// Fail and Warning are sv's own complaints about the service directory or
// runsv, and carry a Message instead of a PID and uptime.
const (
	StateRun     State = "run"
	StateDown    State = "down"
	StateFinish  State = "finish"
	StateFail    State = "fail"
	StateWarning State = "warning"
	// StateDisabled is omnibus-ctl's "NAME disabled" line for a service
	// directory under sv/ with no link in service/ (run_sv_command in
	// chef/omnibus-ctl lib/omnibus-ctl.rb, 0.0.6 to 0.0.8).
	StateDisabled State = "disabled"
)

// ServiceStatus is one service as `sv status` or `private-chef-ctl status`
// reports it.
type ServiceStatus struct {
	// Service is the base name ("nginx" for /opt/opscode/service/nginx).
	Service string
	// Name is the name as printed (a path when sv was given paths).
	Name  string
	State State
	// Outcome is the word a waiting command (sv start, stop, …) put in
	// front of the status: "ok", "timeout" or "kill"; empty for `status`.
	Outcome string
	PID     int // 0 when not running
	Uptime  time.Duration
	// NormallyUp is false when the service has a down file. sv prints
	// "normally down" only for a running service and "normally up" only for
	// a stopped one; otherwise the state itself says it.
	NormallyUp bool
	Want       string // "up", "down" or "" (sv prints want only when it differs)
	Paused     bool
	GotTERM    bool
	// Message is the text of a fail: or warning: line.
	Message string
	// Log is the status of the service's log service, when printed.
	Log *ServiceStatus
}

// Up reports whether the service is running and not asked to go down.
func (s ServiceStatus) Up() bool { return s.State == StateRun && s.Want != "down" }

// ParseStatus reads `sv status` or `private-chef-ctl status` output, one
// service a line; blank lines are skipped and any other line is an error.
func ParseStatus(r io.Reader) ([]ServiceStatus, error) {
	var out []ServiceStatus
	err := eachLine(r, "sv status", func(line string) error {
		st, err := ParseStatusLine(strings.TrimRight(line, " "))
		if err == nil {
			out = append(out, st)
		}
		return err
	})
	return out, err
}

// ParseStatusLine reads one line of sv output.
func ParseStatusLine(line string) (ServiceStatus, error) {
	if name, ok := strings.CutSuffix(line, " disabled"); ok && name != "" && !strings.ContainsAny(name, " :;") {
		return ServiceStatus{Service: path.Base(name), Name: name, State: StateDisabled}, nil
	}
	main, logPart, hasLog := strings.Cut(line, "; ")
	st, err := parseOne(main, true)
	if err != nil {
		return ServiceStatus{}, err
	}
	if hasLog {
		if st.State == StateFail || st.State == StateWarning {
			return ServiceStatus{}, fmt.Errorf("%s line has a log part", st.State)
		}
		l, err := parseOne(logPart, false)
		if err != nil {
			return ServiceStatus{}, fmt.Errorf("log part: %w", err)
		}
		if l.Name != "log" {
			return ServiceStatus{}, fmt.Errorf("log part names %q, want log", l.Name)
		}
		st.Log = &l
	}
	return st, nil
}

func parseOne(s string, top bool) (ServiceStatus, error) {
	var st ServiceStatus
	word, rest, ok := strings.Cut(s, ": ")
	if !ok {
		return st, fmt.Errorf("no state word")
	}
	if top && (word == "ok" || word == "timeout" || word == "kill") {
		st.Outcome = word
		if word, rest, ok = strings.Cut(rest, ": "); !ok {
			return st, fmt.Errorf("no state word after %s:", st.Outcome)
		}
	}
	st.State = State(word)
	name, rest, ok := strings.Cut(rest, ": ")
	if !ok || name == "" {
		return st, fmt.Errorf("no service name")
	}
	st.Name = name
	st.Service = path.Base(name)
	switch st.State {
	case StateFail, StateWarning:
		if rest == "" {
			return st, fmt.Errorf("%s without a message", st.State)
		}
		st.Message = rest
		return st, nil
	case StateRun, StateFinish:
		pid, after, ok := strings.Cut(strings.TrimPrefix(rest, "(pid "), ") ")
		if !strings.HasPrefix(rest, "(pid ") || !ok {
			return st, fmt.Errorf("%s without (pid N)", st.State)
		}
		n, err := strconv.Atoi(pid)
		if err != nil || n <= 0 {
			return st, fmt.Errorf("bad pid %q", pid)
		}
		st.PID, rest = n, after
	case StateDown:
	default:
		return st, fmt.Errorf("unknown state %q", word)
	}
	secs, suffix, _ := strings.Cut(rest, ",")
	if !strings.HasSuffix(secs, "s") {
		return st, fmt.Errorf("uptime %q is not Ns", secs)
	}
	n, err := strconv.ParseInt(strings.TrimSuffix(secs, "s"), 10, 64)
	if err != nil || n < 0 || n > int64(1<<62/time.Second) {
		return st, fmt.Errorf("uptime %q is not Ns", secs)
	}
	st.Uptime = time.Duration(n) * time.Second
	// Without a suffix saying otherwise, a running service is normally up
	// and a stopped one normally down (sv.c prints only the difference).
	st.NormallyUp = st.PID != 0
	if suffix != "" {
		for _, f := range strings.Split(suffix, ",") {
			switch strings.TrimSpace(f) {
			case "normally up":
				st.NormallyUp = true
			case "normally down":
				st.NormallyUp = false
			case "paused":
				st.Paused = true
			case "want up":
				st.Want = "up"
			case "want down":
				st.Want = "down"
			case "got TERM":
				st.GotTERM = true
			default:
				return st, fmt.Errorf("unknown flag %q", strings.TrimSpace(f))
			}
		}
	}
	return st, nil
}

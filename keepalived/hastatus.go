package keepalived

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Level is an ha-status line's tag.
type Level string

const (
	LevelOK    Level = "OK"
	LevelWarn  Level = "WARN"
	LevelError Level = "ERROR"
)

// HACheck is one line of `private-chef-ctl ha-status`.
type HACheck struct {
	Level Level
	Text  string
}

// HAStatus is the whole output of `private-chef-ctl ha-status` and its
// exit code.
type HAStatus struct {
	Checks []HACheck
	Passed bool // the verdict line was "[OK] all checks passed."
	// Aborted: ha.rb stopped at a precondition (not reconfigured,
	// keepalived or DRBD not enabled, DRBD partition or device missing),
	// printed no verdict and exited 1; the checks after it did not run.
	Aborted  bool
	ExitCode int
}

// Problems returns the WARN and ERROR checks.
func (h HAStatus) Problems() []HACheck {
	var out []HACheck
	for _, c := range h.Checks {
		if c.Level != LevelOK {
			out = append(out, c)
		}
	}
	return out
}

// ExitMeaning says what ha-status's exit code means (private-chef-ctl-
// commands/ha.rb at opscode-omnibus 11.1.8: codes are set in the order
// 2, 3, 8, 4, 5, 6, 7 and the last one set wins; 1 is an early exit).
func ExitMeaning(code int) string {
	switch code {
	case 0:
		return "all checks passed"
	case 1:
		return "stopped early: not reconfigured, keepalived or DRBD not enabled, the DRBD partition or device missing, or a cluster status file missing"
	case 2:
		return "inconsistent cluster status: requested ≠ current, a failover may be running"
	case 3:
		return "VIP and master disagree: the master lacks the VIP, or a backup holds it"
	case 4:
		return "DRBD status is wrong for this node's role"
	case 5:
		return "DRBD mount is wrong for this node's role"
	case 6:
		return "DRBD peer does not answer ping"
	case 7:
		return "an HA service is not running on the master (or is running on a backup)"
	case 8:
		return "the VRRP interface is missing"
	}
	return fmt.Sprintf("unknown ha-status exit code %d", code)
}

const (
	verdictOK    = "all checks passed."
	verdictError = "ERRORS WERE DETECTED."
)

// ErrNoClusterStatus is ha-status stopped by a missing cluster status
// file: right after its DRBD device check ha.rb File.reads
// requested_cluster_status and current_cluster_status, and File.read of a
// missing file raises Errno::ENOENT, which nothing rescues: Ruby exits 1
// with no verdict (opscode-omnibus@11.1.8:files/private-chef-ctl-commands/
// ha.rb:67-68, the same lines at 1.4.6–11.2.0; 1.2.8.3's own
// bin/private-chef-ctl:301-302). The node's HA state cannot be judged.
var ErrNoClusterStatus = errors.New("ha-status raised reading the cluster status files: " + RequestedPath + " or " + CurrentStatusPath + " is missing")

// lastBeforeStatus is the check ha.rb prints just before it reads the
// cluster status files.
const lastBeforeStatus = "DRBD device "

// ParseHAStatus reads ha-status output. Every non-blank line must be
// tagged [OK], [WARN] or [ERROR]; the last tagged line must be the
// verdict, and the verdict must agree with the exit code (a pass with a
// non-zero code, or the reverse, is an error, not a guess). Output that
// stops after the DRBD device check with exit 1 is ErrNoClusterStatus.
func ParseHAStatus(r io.Reader, exitCode int) (HAStatus, error) {
	h := HAStatus{ExitCode: exitCode}
	sc := bufio.NewScanner(r)
	n := 0
	verdict := false
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if verdict {
			return HAStatus{}, fmt.Errorf("ha-status line %d: %q after the verdict", n, abbrev(line))
		}
		var c HACheck
		switch {
		case strings.HasPrefix(line, "[OK]"):
			c = HACheck{LevelOK, strings.TrimSpace(line[4:])}
		case strings.HasPrefix(line, "[WARN]"):
			c = HACheck{LevelWarn, strings.TrimSpace(line[6:])}
		case strings.HasPrefix(line, "[ERROR]"):
			c = HACheck{LevelError, strings.TrimSpace(line[7:])}
		default:
			return HAStatus{}, fmt.Errorf("ha-status line %d: not [OK], [WARN] or [ERROR]: %q", n, abbrev(line))
		}
		switch {
		case c.Level == LevelOK && c.Text == verdictOK:
			h.Passed, verdict = true, true
		case c.Level == LevelError && c.Text == verdictError:
			verdict = true
		default:
			h.Checks = append(h.Checks, c)
		}
	}
	if err := sc.Err(); err != nil {
		return HAStatus{}, err
	}
	if !verdict {
		// ha.rb's early exits (`exit 1` after one [ERROR]) print no verdict.
		if exitCode == 1 && len(h.Checks) > 0 && h.Checks[len(h.Checks)-1].Level == LevelError {
			h.Aborted = true
			return h, nil
		}
		if last := len(h.Checks) - 1; exitCode == 1 && last >= 0 && h.Checks[last].Level == LevelOK && strings.HasPrefix(h.Checks[last].Text, lastBeforeStatus) {
			return HAStatus{}, ErrNoClusterStatus
		}
		return HAStatus{}, fmt.Errorf("ha-status: no verdict line (output cut short?)")
	}
	if h.Passed != (exitCode == 0) {
		return HAStatus{}, fmt.Errorf("ha-status: verdict %q disagrees with exit code %d", map[bool]string{true: verdictOK, false: verdictError}[h.Passed], exitCode)
	}
	return h, nil
}

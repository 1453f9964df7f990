package keepalived

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/chefha/chefha/cluster"
)

// EventKind classifies a cluster.log message.
type EventKind string

const (
	EventTransitioning  EventKind = "transitioning"   // Transitioning to master|backup
	EventTransitioned   EventKind = "transitioned"    // Transitioned to master|backup
	EventAlreadyRunning EventKind = "already-running" // Requested transition to X, but state transition already running.
	EventStart          EventKind = "start"           // Starting service X
	EventStop           EventKind = "stop"            // Stopping service X
	EventCannotStart    EventKind = "cannot-start"    // Cannot start X
	EventCannotKill     EventKind = "cannot-kill"     // Cannot kill X
	EventCannotDRBD     EventKind = "cannot-drbd"     // Cannot become drbd primary! | Cannot become DRBD secondary
	EventDRBDAttempt    EventKind = "drbd-attempt"    // Attempting DRBD primary takeover - attempts left N
	EventDRBDTakeover   EventKind = "drbd-takeover"   // DRBD primary takeover successful
	EventMount          EventKind = "mount"           // Mounting /dev/drbd0 at ...
	EventOther          EventKind = "other"
)

// Event is one cluster.log line.
type Event struct {
	Time         time.Time
	Line         int
	Message      string
	Kind         EventKind
	To           Status // transitions
	Service      string // start, stop, cannot-*
	AttemptsLeft int    // drbd-attempt
}

// IsTransition reports whether the event starts or ends a state change.
func (e Event) IsTransition() bool {
	return e.Kind == EventTransitioning || e.Kind == EventTransitioned || e.Kind == EventAlreadyRunning
}

// GaveUp reports whether the event is one of cluster.sh's error_exit
// messages inside a transition: the script exits there, leaving the
// requested state unreached.
func (e Event) GaveUp() bool {
	return e.Kind == EventCannotStart || e.Kind == EventCannotKill || e.Kind == EventCannotDRBD
}

// DateLayout is `date -R`, which cluster.sh stamps lines with.
const DateLayout = "Mon, 02 Jan 2006 15:04:05 -0700"

var messages = []struct {
	re   *regexp.Regexp
	kind EventKind
}{
	{regexp.MustCompile(`^Transitioning to (\w+)$`), EventTransitioning},
	{regexp.MustCompile(`^Transitioned to (\w+)$`), EventTransitioned},
	{regexp.MustCompile(`^Requested transition to (\w+), but state transition already running\.?$`), EventAlreadyRunning},
	{regexp.MustCompile(`^Starting service (\S+)$`), EventStart},
	{regexp.MustCompile(`^Stopping service (\S+)$`), EventStop},
	{regexp.MustCompile(`^Cannot start (\S+)$`), EventCannotStart},
	{regexp.MustCompile(`^Cannot kill (\S+)$`), EventCannotKill},
	{regexp.MustCompile(`^Cannot become (?:drbd primary!|DRBD secondary)$`), EventCannotDRBD},
	{regexp.MustCompile(`^Attempting DRBD primary takeover - attempts left (\d+)$`), EventDRBDAttempt},
	{regexp.MustCompile(`^DRBD primary takeover successful$`), EventDRBDTakeover},
	{regexp.MustCompile(`^Mounting (.+)$`), EventMount},
}

// logTail is the command that reads the last LogTailBytes of a log.
func logTail(path string) string {
	return "tail -c " + strconv.Itoa(LogTailBytes) + " " + cluster.ShellQuote(path)
}

// ClusterLogTail is the command that reads the end of cluster.log; a read
// of it goes to TrimClusterLogTail before ParseClusterLog.
var ClusterLogTail = logTail(ClusterLogPath)

// TrimClusterLogTail drops the part of a line a ClusterLogTail read may
// start with: a read of LogTailBytes came from a longer file.
func TrimClusterLogTail(out string) string {
	if len(out) < LogTailBytes {
		return out
	}
	return out[lineStart(out):]
}

// ParseClusterLog reads cluster.log. Every non-blank line must start with a
// `date -R` stamp and ": "; messages chefha does not know are kept as
// EventOther. A transition to a word that is not a status is an error.
func ParseClusterLog(r io.Reader) ([]Event, error) {
	var out []Event
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20) // grows from 4 KiB as lines need
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), " \r")
		if line == "" {
			continue
		}
		e, err := parseEvent(line)
		if err != nil {
			return nil, fmt.Errorf("cluster.log line %d: %w", n, err)
		}
		e.Line = n
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("cluster.log: %w", err)
	}
	return out, nil
}

func parseEvent(line string) (Event, error) {
	// "Tue, 10 Jun 2014 14:20:47 -0700: msg": the stamp is fixed-width
	// except for a one-digit day some date(1)s print.
	i := strings.Index(line, ": ")
	for i >= 0 && i < len("Mon, 2 Jan 2006 15:04:05 -0700") {
		j := strings.Index(line[i+2:], ": ")
		if j < 0 {
			i = -1
			break
		}
		i += 2 + j
	}
	if i < 0 {
		return Event{}, fmt.Errorf("no `date -R: ` stamp in %q", abbrev(line))
	}
	t, err := time.Parse(DateLayout, line[:i])
	if err != nil {
		t, err = time.Parse("Mon, 2 Jan 2006 15:04:05 -0700", line[:i])
	}
	if err != nil {
		return Event{}, fmt.Errorf("bad date %q: %w", line[:i], err)
	}
	e := Event{Time: t, Message: line[i+2:], Kind: EventOther}
	for _, m := range messages {
		sub := m.re.FindStringSubmatch(e.Message)
		if sub == nil {
			continue
		}
		e.Kind = m.kind
		switch m.kind {
		case EventTransitioning, EventTransitioned, EventAlreadyRunning:
			s, err := ParseStatus("cluster.log", []byte(sub[1]))
			if err != nil {
				return Event{}, err
			}
			e.To = s
		case EventStart, EventStop, EventCannotStart, EventCannotKill:
			e.Service = sub[1]
		case EventDRBDAttempt:
			e.AttemptsLeft, _ = strconv.Atoi(sub[1])
		}
		break
	}
	return e, nil
}

// LastTransition returns the newest transition event, if any.
func LastTransition(events []Event) (Event, bool) {
	for i := len(events) - 1; i >= 0; i-- {
		if events[i].IsTransition() {
			return events[i], true
		}
	}
	return Event{}, false
}

func abbrev(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

package migration

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// Path is where partybus keeps the level on every node.
const Path = "/var/opt/opscode/upgrades/migration-level"

// Level is a partybus migration level: migrations live in
// /opt/opscode/embedded/upgrades/<major>/<minor>_name.rb.
type Level struct {
	Major int `json:"major"`
	Minor int `json:"minor"`
}

// String renders the level the way the runbook writes it: 1.13.
func (l Level) String() string { return strconv.Itoa(l.Major) + "." + strconv.Itoa(l.Minor) }

// Compare orders levels: -1 if l < m, 0 if equal, +1 if l > m.
func (l Level) Compare(m Level) int {
	switch {
	case l.Major != m.Major:
		return cmpInt(l.Major, m.Major)
	default:
		return cmpInt(l.Minor, m.Minor)
	}
}

// Less reports whether l is an earlier level than m.
func (l Level) Less(m Level) bool { return l.Compare(m) < 0 }

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Format returns the file's bytes as partybus writes them: one JSON line.
func Format(l Level) []byte {
	return []byte(`{"major":` + strconv.Itoa(l.Major) + `,"minor":` + strconv.Itoa(l.Minor) + "}\n")
}

// ErrEmpty is returned for an empty (or whitespace-only) file: partybus would
// read it as 0.0 and re-run every migration.
var ErrEmpty = errors.New("migration-level is empty")

// CorruptError is returned for a file that is not a migration level. Callers
// branch on it with errors.As to offer the cookbook's remedy (copy the file
// from a front end that has not been upgraded yet).
type CorruptError struct {
	Content string // what the file held, cut to 80 bytes
	Reason  string
	Err     error // the JSON error, if any
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("migration-level is corrupt (%s): %q", e.Reason, e.Content)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// Parse reads the file's bytes. It is strict: both fields must be present,
// integers and non-negative, and nothing may follow the object. partybus is
// lenient here and that leniency is what loses clusters, so anything else is
// a *CorruptError (or ErrEmpty), never a level.
func Parse(b []byte) (Level, error) {
	t := bytes.TrimSpace(b)
	if len(t) == 0 {
		return Level{}, ErrEmpty
	}
	corrupt := func(reason string, err error) (Level, error) {
		c := string(t)
		if len(c) > 80 {
			c = c[:80] + "…"
		}
		return Level{}, &CorruptError{Content: c, Reason: reason, Err: err}
	}
	var raw struct {
		Major json.RawMessage `json:"major"`
		Minor json.RawMessage `json:"minor"`
	}
	dec := json.NewDecoder(bytes.NewReader(t))
	if err := dec.Decode(&raw); err != nil {
		return corrupt("not a JSON object", err)
	}
	if dec.More() {
		return corrupt("data after the JSON object", nil)
	}
	// A JSON null decodes to the literal "null": Atoi rejects it below.
	if raw.Major == nil || raw.Minor == nil {
		return corrupt(`"major" and "minor" are both required`, nil)
	}
	major, err := strconv.Atoi(string(raw.Major))
	if err != nil {
		return corrupt(`"major" is not an integer`, err)
	}
	minor, err := strconv.Atoi(string(raw.Minor))
	if err != nil {
		return corrupt(`"minor" is not an integer`, err)
	}
	if major < 0 || minor < 0 {
		return corrupt("negative level", nil)
	}
	return Level{Major: major, Minor: minor}, nil
}

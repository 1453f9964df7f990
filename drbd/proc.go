package drbd

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// Status is the whole of /proc/drbd.
type Status struct {
	// Version is the module's release, "8.4.3" from
	// "version: 8.4.3 (api:1/proto:86-101)".
	Version string
	// API is the userland API version (88 on 8.3, 1 on 8.4); ProtoMin and
	// ProtoMax the wire protocol range (equal on 8.0, which prints one).
	API, ProtoMin, ProtoMax int
	// Build is the second line as printed: "GIT-hash: … build by …" for
	// LINBIT's packages, "srcversion: …" for a distribution kernel's module,
	// "built-in" for DRBD compiled into the kernel.
	Build string
	// Resources holds one entry per minor, in the order printed
	// (ascending minor).
	Resources []Resource
}

// Minor returns the resource on /dev/drbdN.
func (s Status) Minor(n int) (Resource, bool) {
	for _, r := range s.Resources {
		if r.Minor == n {
			return r, true
		}
	}
	return Resource{}, false
}

// Resource is one minor (device) of /proc/drbd, seen from this node.
type Resource struct {
	Minor    int
	CState   ConnState
	Role     Role // this node's; empty when Unconfigured
	PeerRole Role // Unknown while disconnected
	Disk     DiskState
	PeerDisk DiskState // DUnknown while disconnected
	// Protocol is the replication protocol, 'A', 'B' or 'C' (Enterprise
	// Chef configures C); 0 when the resource has no network config.
	Protocol byte
	// Flags are the I/O state flags as printed ("r-----"): suspended
	// ('s') or running, then resync-after, peer- and user-paused sync,
	// congestion and activity-log suspension. DRBD before 8.3.1 prints 4.
	Flags    string
	Counters Counters
	// Sync is the resync or online-verify progress, printed while the
	// state is SyncSource, SyncTarget, VerifyS or VerifyT; nil otherwise.
	Sync *Progress
}

// ParseError is a line of /proc/drbd that is not what DRBD prints.
type ParseError struct {
	Line int    // 1-based
	Text string // the line
	Err  string // what is wrong with it
}

func (e *ParseError) Error() string {
	text := e.Text
	if len(text) > 120 {
		text = text[:120] + "…"
	}
	return fmt.Sprintf("/proc/drbd line %d: %s: %q", e.Line, e.Err, text)
}

// ParseProc reads /proc/drbd as DRBD 8.0 to 8.4 print it: LINBIT's
// modules and the ones in distribution kernels, with any proc_details
// setting but 2. Blank lines (printed between non-adjacent minors) are
// skipped; any other line DRBD does not print, an unknown state word, a
// minor without its counters or a resync without its progress lines
// (output cut short) is an error naming the line. DRBD 9 is refused: its
// /proc/drbd lists no resources.
func ParseProc(r io.Reader) (Status, error) {
	var lines []string
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines = append(lines, strings.TrimRight(sc.Text(), "\r"))
	}
	if err := sc.Err(); err != nil {
		return Status{}, fmt.Errorf("reading /proc/drbd: %w", err)
	}
	p := procParser{lines: lines}
	return p.parse()
}

type procParser struct {
	lines []string
	st    Status
	// the minor being read: its line number and what it has shown so far
	cur      *Resource
	curLine  int
	counters bool
	stage    progressStage
	lruSeen  bool
}

func (p *procParser) errAt(n int, format string, a ...any) error {
	return &ParseError{Line: n, Text: p.lines[n-1], Err: fmt.Sprintf(format, a...)}
}

func (p *procParser) parse() (Status, error) {
	n := 0
	next := func() (string, bool) { // the next non-blank line
		for n < len(p.lines) {
			n++
			if t := strings.TrimSpace(p.lines[n-1]); t != "" {
				return t, true
			}
		}
		return "", false
	}
	line, ok := next()
	if !ok {
		return Status{}, fmt.Errorf("/proc/drbd is empty: want a \"version:\" line first")
	}
	if err := p.version(line); err != nil {
		return Status{}, p.errAt(n, "%v", err)
	}
	if line, ok = next(); !ok {
		return Status{}, fmt.Errorf("/proc/drbd ends after the version line: the build line is missing (output cut short?)")
	}
	if !isBuildLine(line) {
		return Status{}, p.errAt(n, "want the build line (GIT-hash:, srcversion: or built-in) after the version")
	}
	p.st.Build = line
	for line, ok = next(); ok; line, ok = next() {
		if err := p.line(n, line); err != nil {
			return Status{}, err
		}
	}
	if err := p.endMinor(); err != nil {
		return Status{}, err
	}
	return p.st, nil
}

// version reads "version: 8.4.3 (api:1/proto:86-101)" (8.0: "proto:86").
func (p *procParser) version(line string) error {
	f := strings.Fields(line)
	if len(f) != 3 || f[0] != "version:" {
		return fmt.Errorf("want \"version: X.Y.Z (api:N/proto:A-B)\"")
	}
	major, ok := releaseMajor(f[1])
	if !ok {
		return fmt.Errorf("version %q is not a DRBD release", f[1])
	}
	switch {
	case major >= 9:
		return fmt.Errorf("DRBD %s: /proc/drbd lists no resources since DRBD 9; read `drbdsetup status` instead (this parser reads DRBD 8)", f[1])
	case major < 8:
		return fmt.Errorf("DRBD %s predates 8.0; its /proc/drbd format is not supported", f[1])
	}
	inner, ok := strings.CutPrefix(f[2], "(api:")
	if inner, ok2 := strings.CutSuffix(inner, ")"); ok && ok2 {
		api, proto, ok := strings.Cut(inner, "/proto:")
		lo, hi, rng := strings.Cut(proto, "-")
		if !rng {
			hi = lo
		}
		var errs [3]error
		p.st.API, errs[0] = smallInt(api)
		p.st.ProtoMin, errs[1] = smallInt(lo)
		p.st.ProtoMax, errs[2] = smallInt(hi)
		if ok && errs[0] == nil && errs[1] == nil && errs[2] == nil && p.st.ProtoMin <= p.st.ProtoMax {
			p.st.Version = f[1]
			return nil
		}
	}
	return fmt.Errorf("want \"(api:N/proto:A-B)\" after the version, got %q", f[2])
}

// releaseMajor checks "8.4.3" (a suffix such as "rc1" or "-1" is kept)
// and returns 8.
func releaseMajor(v string) (int, bool) {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) != 3 {
		return 0, false
	}
	patch := parts[2]
	i := 0
	for i < len(patch) && patch[i] >= '0' && patch[i] <= '9' {
		i++
	}
	for _, c := range patch[i:] {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return 0, false
		}
	}
	major, err1 := smallInt(parts[0])
	_, err2 := smallInt(parts[1])
	if err1 != nil || err2 != nil || i == 0 {
		return 0, false
	}
	return major, true
}

func isBuildLine(s string) bool {
	for _, p := range []string{"GIT-hash:", "srcversion:", "SVN Revision:"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return s == "built-in"
}

// line reads one non-blank line after the build line.
func (p *procParser) line(n int, line string) error {
	if num, rest, ok := strings.Cut(line, ":"); ok && isDigits(num) && strings.HasPrefix(rest, " cs:") {
		if err := p.endMinor(); err != nil {
			return err
		}
		return p.minor(n, num, rest)
	}
	if p.cur == nil {
		return p.errAt(n, "not a minor line (\"N: cs:…\") and no minor before it")
	}
	f := strings.Fields(line)
	switch {
	case strings.HasPrefix(f[0], "ns:"):
		if p.counters {
			return p.errAt(n, "a second counters line for minor %d", p.cur.Minor)
		}
		if p.cur.CState == Unconfigured {
			return p.errAt(n, "counters for unconfigured minor %d", p.cur.Minor)
		}
		c, err := parseCounters(f)
		if err != nil {
			return p.errAt(n, "%v", err)
		}
		p.cur.Counters, p.counters = c, true
		return nil
	case f[0] == "resync:" || f[0] == "act_log:":
		// LRU cache statistics: always on 8.0, with proc_details >= 1
		// later. Checked for shape, not kept.
		if !p.counters {
			return p.errAt(n, "%s statistics before the counters line", f[0])
		}
		if err := checkLRUStats(f); err != nil {
			return p.errAt(n, "%v", err)
		}
		p.lruSeen = true
		return nil
	case f[0] == "nn:":
		return p.errAt(n, "an LRU dump (proc_details=2) is not supported: set /sys/module/drbd/parameters/proc_details to 0 or 1")
	}
	if !p.counters {
		return p.errAt(n, "want the counters line (ns:…) for minor %d", p.cur.Minor)
	}
	if p.lruSeen {
		return p.errAt(n, "unexpected line after the LRU statistics of minor %d", p.cur.Minor)
	}
	if err := p.progress(line, f); err != nil {
		return p.errAt(n, "minor %d: %v", p.cur.Minor, err)
	}
	return nil
}

// minor reads " 0: cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate C r-----"
// or " 1: cs:Unconfigured".
func (p *procParser) minor(n int, num, rest string) error {
	m, err := smallInt(num)
	if err != nil || m > 1<<20 {
		return p.errAt(n, "minor %q out of range", num)
	}
	if k := len(p.st.Resources); k > 0 && p.st.Resources[k-1].Minor >= m {
		return p.errAt(n, "minor %d after minor %d: DRBD prints minors once, ascending", m, p.st.Resources[k-1].Minor)
	}
	f := strings.Fields(rest)
	r := Resource{Minor: m, CState: ConnState(strings.TrimPrefix(f[0], "cs:"))}
	if !r.CState.Valid() {
		return p.errAt(n, "unknown connection state %q", string(r.CState))
	}
	if r.CState == Unconfigured {
		if len(f) != 1 {
			return p.errAt(n, "unexpected fields after cs:Unconfigured")
		}
	} else if err := r.parseStateFields(f[1:]); err != nil {
		return p.errAt(n, "%v", err)
	}
	p.st.Resources = append(p.st.Resources, r)
	p.cur, p.curLine = &p.st.Resources[len(p.st.Resources)-1], n
	p.counters, p.stage, p.lruSeen = false, stageNone, false
	return nil
}

// parseStateFields reads "ro:A/B ds:C/D [P] flags" ("st:" before 8.3).
func (r *Resource) parseStateFields(f []string) error {
	if len(f) != 3 && len(f) != 4 {
		return fmt.Errorf("want \"ro:R/R ds:D/D [protocol] flags\" after cs:%s", r.CState)
	}
	roles, ok := strings.CutPrefix(f[0], "ro:")
	if !ok {
		if roles, ok = strings.CutPrefix(f[0], "st:"); !ok {
			return fmt.Errorf("want ro: (st: before 8.3), got %q", f[0])
		}
	}
	a, b, _ := strings.Cut(roles, "/")
	r.Role, r.PeerRole = Role(a), Role(b)
	if !r.Role.Valid() || !r.PeerRole.Valid() {
		return fmt.Errorf("unknown role in %q", f[0])
	}
	disks, ok := strings.CutPrefix(f[1], "ds:")
	a, b, _ = strings.Cut(disks, "/")
	r.Disk, r.PeerDisk = DiskState(a), DiskState(b)
	if !ok || !r.Disk.Valid() || !r.PeerDisk.Valid() {
		return fmt.Errorf("unknown disk state in %q", f[1])
	}
	if len(f) == 4 {
		if len(f[2]) != 1 || f[2][0] < 'A' || f[2][0] > 'C' {
			return fmt.Errorf("protocol %q is not A, B or C", f[2])
		}
		r.Protocol = f[2][0]
	}
	r.Flags = f[len(f)-1]
	if !validFlags(r.Flags) {
		return fmt.Errorf("I/O flags %q are not DRBD's (like r-----)", r.Flags)
	}
	return nil
}

// validFlags checks the I/O flags: r|s, a|-, p|-, u|-, then (8.3.1+) the
// congestion reason -|d|b|n|a, then (8.3.9+) activity log s|-.
func validFlags(s string) bool {
	allowed := []string{"rs", "a-", "p-", "u-", "-dbna", "s-"}
	if len(s) < 4 || len(s) > len(allowed) {
		return false
	}
	for i := range len(s) {
		if !strings.ContainsRune(allowed[i], rune(s[i])) {
			return false
		}
	}
	return true
}

// endMinor checks that the minor being read printed all it must.
func (p *procParser) endMinor() error {
	r := p.cur
	if r == nil {
		return nil
	}
	switch {
	case r.CState != Unconfigured && !p.counters:
		return p.errAt(p.curLine, "minor %d has no counters line (output cut short?)", r.Minor)
	case r.CState.showsProgress() && p.stage < stageFinish:
		return p.errAt(p.curLine, "minor %d is %s but its progress lines are missing or cut short", r.Minor, r.CState)
	}
	return nil
}

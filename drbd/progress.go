package drbd

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Progress is a running resync or online verify, from the lines under a
// SyncSource, SyncTarget, VerifyS or VerifyT minor (drbd_syncer_progress
// in drbd_proc.c):
//
//	[=>..................] sync'ed: 10.4% (18360/20480)M
//	finish: 0:25:23 speed: 12,345 (11,000) want: 40,960 K/sec
type Progress struct {
	// Verify is true for online verify ("verified:"), false for a resync.
	Verify bool
	// Percent is how much is done, 0 to 100, to one decimal (whole
	// percents on the verify line of DRBD 8.3.0 to 8.3.9).
	Percent float64
	// LeftKiB is what is still to be synced (verify: to be verified), the
	// first figure of "(left/total)"; TotalKiB is the size of this resync
	// run — the blocks that were out of sync when it started, not the
	// device size. Once the run exceeds 4 GiB DRBD prints both in MiB,
	// rounded down to whole MiB (to 4 MiB since 8.3.1: Bit2KB(bits>>10)),
	// so they are then multiples of 1024 (4096) and LeftKiB may be under
	// the oos counter by that much.
	LeftKiB, TotalKiB uint64
	// Finish is DRBD's estimate of the time left, in whole seconds; it
	// saturates at the largest whole-second time.Duration (292 years).
	Finish time.Duration
	// Speed is the current rate in KiB/s (averaged over the last ~18 s
	// since 8.3.9) and AvgSpeed the rate since the run started, paused
	// time excluded. Want is the rate the resync controller aims at
	// (SyncTarget and VerifyS, 8.3.8+); 0 when not printed.
	Speed, AvgSpeed, Want uint64
	// Stalled is DRBD's "(stalled)" (8.3.9+) or "stalled" line: no
	// progress for a while.
	Stalled bool
}

// DoneKiB is how much of this run is done.
func (p Progress) DoneKiB() uint64 {
	if p.LeftKiB > p.TotalKiB {
		return 0
	}
	return p.TotalKiB - p.LeftKiB
}

type progressStage int

const (
	stageNone   progressStage = iota
	stageBar                  // the "[==>...] sync'ed:" line, finish line still due
	stageFinish               // complete; only a "sector pos:" line may follow
	stageSector
)

// maxFinish is the largest time.Duration of whole seconds.
const maxFinish = time.Duration(math.MaxInt64/int64(time.Second)) * time.Second

// progress reads one progress line of the current minor.
func (p *procParser) progress(line string, f []string) error {
	r := p.cur
	if !r.CState.showsProgress() {
		return fmt.Errorf("unexpected line: DRBD prints progress only for SyncSource, SyncTarget, VerifyS and VerifyT, not %s", r.CState)
	}
	switch {
	case strings.HasPrefix(line, "["):
		if p.stage != stageNone {
			return fmt.Errorf("a second progress bar")
		}
		r.Sync = &Progress{}
		rest, err := r.Sync.parseBar(line)
		if err != nil {
			return err
		}
		if r.Sync.Verify != r.CState.Verifying() {
			return fmt.Errorf("%q progress while %s", map[bool]string{true: "verified:", false: "sync'ed:"}[r.Sync.Verify], r.CState)
		}
		p.stage = stageBar
		if rest != "" { // in-kernel modules print "…)Mfinish: …" on one line
			if err := r.Sync.parseFinish(strings.Fields(rest)); err != nil {
				return err
			}
			p.stage = stageFinish
		}
	case f[0] == "finish:" || line == "stalled":
		if p.stage != stageBar {
			return fmt.Errorf("%q without the progress bar line before it", f[0])
		}
		if line == "stalled" { // DRBD before 8.3.9: replaces the finish line
			r.Sync.Stalled = true
		} else if err := r.Sync.parseFinish(f); err != nil {
			return err
		}
		p.stage = stageFinish
	case len(f) > 1 && f[1] == "sector":
		// "  4% sector pos: 1234/5678 [stop sector: 9]" (proc_details >= 1)
		if p.stage != stageFinish {
			return fmt.Errorf("sector position before the finish line")
		}
		if err := checkSectorPos(f); err != nil {
			return err
		}
		p.stage = stageSector
	case strings.HasSuffix(f[0], "%") && (len(f) == 2 || len(f) == 5 && strings.HasPrefix(f[1], "oos:")):
		// "\t 42%      1234/5678": online verify, DRBD 8.2.7 to 8.3.9, in
		// bitmap bits of 4 KiB; 8.2.4 to 8.2.6: "\t 42% oos:9  1234 / 5678".
		if p.stage != stageNone || !r.CState.Verifying() {
			return fmt.Errorf("verify progress %q while %s", line, r.CState)
		}
		s, err := parseOldVerify(f)
		if err != nil {
			return err
		}
		r.Sync, p.stage = s, stageFinish
	default:
		return fmt.Errorf("unexpected line")
	}
	return nil
}

// parseBar reads "[=>....] sync'ed: 10.4% (1234/1376)M" and returns what
// follows the figures: "" or the in-kernel "finish: …" join. 8.3.8's
// " queue_delay: 0.0 ms" / " delay_probe: 12" are checked and dropped.
func (s *Progress) parseBar(line string) (string, error) {
	bar, rest, ok := strings.Cut(line[1:], "]")
	if !ok {
		return "", fmt.Errorf("progress bar %q is not [==>...]", line)
	}
	rest = strings.TrimSpace(rest)
	if r, ok := strings.CutPrefix(rest, "verified:"); ok {
		s.Verify, rest = true, r
	} else if rest, ok = strings.CutPrefix(rest, "sync'ed:"); !ok {
		return "", fmt.Errorf("want sync'ed: or verified: after the bar")
	}
	pct, rest, ok := strings.Cut(strings.TrimLeft(rest, " "), "%")
	whole, tenth, dot := strings.Cut(pct, ".")
	if !ok || !dot || len(tenth) != 1 || !isDigits(whole) || !isDigits(tenth) || len(whole) > 3 {
		return "", fmt.Errorf("percentage %q is not N.N%%", pct)
	}
	s.Percent, _ = strconv.ParseFloat(pct, 64)
	if s.Percent > 100 {
		return "", fmt.Errorf("percentage %s%% over 100", pct)
	}
	if bar != progressBar(s.Percent) {
		return "", fmt.Errorf("progress bar [%s] does not show %s%%", bar, pct)
	}
	rest, paren := strings.CutPrefix(strings.TrimLeft(rest, " "), "(")
	figs, rest, ok := strings.Cut(rest, ")")
	left, total, slash := strings.Cut(figs, "/")
	if !paren || !ok || !slash || rest == "" || (rest[0] != 'K' && rest[0] != 'M') {
		return "", fmt.Errorf("want (left/total)K or M after the percentage")
	}
	unit := uint64(1)
	if rest[0] == 'M' {
		unit = 1024
	}
	var err error
	if s.LeftKiB, err = scaled(left, unit); err == nil {
		s.TotalKiB, err = scaled(total, unit)
	}
	if err != nil {
		return "", err
	}
	rest = strings.TrimSpace(rest[1:])
	switch f := strings.Fields(rest); {
	case len(f) == 3 && f[0] == "queue_delay:" && f[2] == "ms" && isDecimal(f[1]),
		len(f) == 2 && f[0] == "delay_probe:" && isDigits(f[1]):
		return "", nil
	case rest == "" || strings.HasPrefix(rest, "finish:"):
		return rest, nil
	}
	return "", fmt.Errorf("unexpected %q after the figures", rest)
}

// progressBar draws DRBD's bar for a percentage: of x = permille/50,
// x-1 '=', a '>', 20-x '.' (21 characters below 5%).
func progressBar(percent float64) string {
	x := min(max(int(math.Round(percent*10))/50, 0), 20)
	return strings.Repeat("=", max(x-1, 0)) + ">" + strings.Repeat(".", 20-x)
}

// parseFinish reads "finish: 0:01:23 speed: 12,345 (11,000) [want: 3,280]
// K/sec [(stalled)]"; with proc_details >= 1 the parenthesis holds
// "(recent -- average)".
func (s *Progress) parseFinish(f []string) error {
	bad := func(what string) error {
		return fmt.Errorf("finish line: %s in %q", what, strings.Join(f, " "))
	}
	if len(f) < 6 || f[0] != "finish:" || f[2] != "speed:" {
		return bad("want \"finish: H:MM:SS speed: N (N) K/sec\"")
	}
	var err error
	if s.Finish, err = parseHMS(f[1]); err != nil {
		return bad(err.Error())
	}
	if s.Speed, err = parseGrouped(f[3]); err != nil {
		return bad(err.Error())
	}
	i := 4
	avg, ok := strings.CutPrefix(f[i], "(")
	if !ok {
		return bad("no (average)")
	}
	if len(f) > i+2 && f[i+1] == "--" {
		if _, err := parseGrouped(avg); err != nil { // the ~3 s rate, dropped
			return bad(err.Error())
		}
		i += 2
		avg = f[i]
	}
	if avg, ok = strings.CutSuffix(avg, ")"); !ok {
		return bad("unclosed (average)")
	}
	if s.AvgSpeed, err = parseGrouped(avg); err != nil {
		return bad(err.Error())
	}
	i++
	if i+1 < len(f) && f[i] == "want:" {
		if s.Want, err = parseGrouped(f[i+1]); err != nil {
			return bad(err.Error())
		}
		i += 2
	}
	if i >= len(f) || f[i] != "K/sec" {
		return bad("want K/sec")
	}
	i++
	if i < len(f) && f[i] == "(stalled)" {
		s.Stalled = true
		i++
	}
	if i != len(f) {
		return bad(fmt.Sprintf("unexpected %q", f[i]))
	}
	return nil
}

// parseHMS reads DRBD's "%lu:%02lu:%02lu".
func parseHMS(s string) (time.Duration, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 || !isDigits(parts[0]) || len(parts[1]) != 2 || len(parts[2]) != 2 ||
		!isDigits(parts[1]) || !isDigits(parts[2]) {
		return 0, fmt.Errorf("finish %q is not H:MM:SS", s)
	}
	m, _ := strconv.Atoi(parts[1])
	sec, _ := strconv.Atoi(parts[2])
	if m > 59 || sec > 59 {
		return 0, fmt.Errorf("finish %q is not H:MM:SS", s)
	}
	h, err := strconv.ParseUint(parts[0], 10, 64)
	const maxH = uint64(maxFinish / time.Hour)
	if err != nil || h > maxH {
		return maxFinish, nil // an estimate past 292 years: "never"
	}
	d := time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(sec)*time.Second
	if d < 0 || d > maxFinish {
		return maxFinish, nil
	}
	return d, nil
}

// parseGrouped reads a rate with thousands separators: "12,345",
// "1,234,567", "123"; DRBD before 8.3.10 printed "1234,567" for 1e6+.
func parseGrouped(s string) (uint64, error) {
	groups := strings.Split(s, ",")
	for i, g := range groups {
		if !isDigits(g) || (i > 0 && len(g) != 3) {
			return 0, fmt.Errorf("rate %q is not a number", s)
		}
	}
	n, err := strconv.ParseUint(strings.Join(groups, ""), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("rate %q: %v", s, err)
	}
	return n, nil
}

// scaled parses a figure and multiplies it by unit, refusing overflow.
func scaled(s string, unit uint64) (uint64, error) {
	if !isDigits(s) {
		return 0, fmt.Errorf("figure %q is not a number", s)
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n > math.MaxUint64/unit {
		return 0, fmt.Errorf("figure %q out of range", s)
	}
	return n * unit, nil
}

func isDecimal(s string) bool {
	a, b, ok := strings.Cut(s, ".")
	return ok && isDigits(a) && isDigits(b)
}

func checkSectorPos(f []string) error {
	bad := fmt.Errorf("sector position line is not \"N%% sector pos: A/B [stop sector: C]\"")
	if len(f) != 4 && !(len(f) == 7 && f[4] == "stop" && f[5] == "sector:" && isDigits(f[6])) {
		return bad
	}
	a, b, ok := strings.Cut(f[3], "/")
	if f[2] != "pos:" || !isDigits(strings.TrimSuffix(f[0], "%")) || !ok || !isDigits(a) || !isDigits(b) {
		return bad
	}
	return nil
}

// parseOldVerify reads " 42%      1234/5678" or " 42% oos:9  1234 / 5678"
// (done/total bitmap bits; that oos, in bits, is dropped).
func parseOldVerify(f []string) (*Progress, error) {
	pct := strings.TrimSuffix(f[0], "%")
	figs := f[len(f)-1]
	if len(f) == 5 {
		if !isDigits(strings.TrimPrefix(f[1], "oos:")) || f[3] != "/" {
			return nil, fmt.Errorf("verify progress %q is not \"N%% oos:N  done / total\"", strings.Join(f, " "))
		}
		figs = f[2] + "/" + f[4]
	}
	done, total, ok := strings.Cut(figs, "/")
	if !ok || !isDigits(pct) || len(pct) > 3 {
		return nil, fmt.Errorf("verify progress %q is not \"N%% done/total\"", strings.Join(f, " "))
	}
	d, err := scaled(done, 4)
	if err != nil {
		return nil, err
	}
	t, err := scaled(total, 4)
	if err != nil {
		return nil, err
	}
	p, _ := strconv.Atoi(pct)
	if d > t || p > 100 {
		return nil, fmt.Errorf("verify progress %q: done exceeds total", strings.Join(f, " "))
	}
	return &Progress{Verify: true, Percent: float64(p), LeftKiB: t - d, TotalKiB: t}, nil
}

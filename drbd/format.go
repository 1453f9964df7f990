package drbd

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// String prints s as DRBD 8.4 prints /proc/drbd, whatever version it was
// read from: ro: for st:, progress figures in KiB, the finish line always
// (zeros after an old "stalled" line), no LRU statistics. ParseProc reads
// it back to an equal Status.
func (s Status) String() string {
	var b strings.Builder
	proto := strconv.Itoa(s.ProtoMin)
	if s.ProtoMax != s.ProtoMin {
		proto += "-" + strconv.Itoa(s.ProtoMax)
	}
	fmt.Fprintf(&b, "version: %s (api:%d/proto:%s)\n%s\n", s.Version, s.API, proto, s.Build)
	prev := -1
	for _, r := range s.Resources {
		if r.Minor != prev+1 { // drbd_seq_show marks a gap in the minors
			b.WriteByte('\n')
		}
		prev = r.Minor
		if r.CState == Unconfigured {
			fmt.Fprintf(&b, "%2d: cs:Unconfigured\n", r.Minor)
			continue
		}
		proto := byte(' ')
		if r.Protocol != 0 {
			proto = r.Protocol
		}
		fmt.Fprintf(&b, "%2d: cs:%s ro:%s/%s ds:%s/%s %c %s\n", r.Minor, r.CState, r.Role, r.PeerRole, r.Disk, r.PeerDisk, proto, r.Flags)
		b.WriteString(r.Counters.String())
		b.WriteByte('\n')
		if r.Sync != nil {
			b.WriteString(r.Sync.String())
		}
	}
	return b.String()
}

// String prints the counters line as DRBD does, with its leading indent;
// ep, wo and oos only when HasOutOfSync.
func (c Counters) String() string {
	s := fmt.Sprintf("    ns:%d nr:%d dw:%d dr:%d al:%d bm:%d lo:%d pe:%d ua:%d ap:%d",
		c.NetSend, c.NetReceive, c.DiskWrite, c.DiskRead, c.ActivityLog, c.Bitmap,
		c.LocalPending, c.Pending, c.Unacked, c.AppPending)
	if c.HasOutOfSync {
		s += fmt.Sprintf(" ep:%d wo:%c oos:%d", c.Epochs, c.WriteOrder, c.OutOfSyncKiB)
	}
	return s
}

// String prints the two progress lines, tab-indented, each ending in a
// newline: the bar with its figures in KiB, then the finish line.
func (p Progress) String() string {
	word := "sync'ed:"
	if p.Verify {
		word = "verified:"
	}
	want := ""
	if p.Want != 0 {
		want = " want: " + grouped(p.Want)
	}
	stalled := ""
	if p.Stalled {
		stalled = " (stalled)"
	}
	secs := uint64(p.Finish / time.Second)
	return fmt.Sprintf("\t[%s] %s%5.1f%% (%d/%d)K\n\tfinish: %d:%02d:%02d speed: %s (%s)%s K/sec%s\n",
		progressBar(p.Percent), word, p.Percent, p.LeftKiB, p.TotalKiB,
		secs/3600, secs%3600/60, secs%60, grouped(p.Speed), grouped(p.AvgSpeed), want, stalled)
}

// grouped prints n with thousands separators, as DRBD prints rates.
func grouped(n uint64) string {
	s := strconv.FormatUint(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

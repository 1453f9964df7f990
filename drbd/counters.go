package drbd

import (
	"fmt"
	"strconv"
	"strings"
)

// Counters is the second line of a minor: "ns:0 nr:0 dw:0 dr:0 al:0 bm:0
// lo:0 pe:0 ua:0 ap:0 ep:1 wo:f oos:0". Byte counts are KiB.
type Counters struct {
	NetSend, NetReceive   uint64 // ns, nr: KiB sent to / received from the peer
	DiskWrite, DiskRead   uint64 // dw, dr: KiB written to / read from the local disk
	ActivityLog, Bitmap   uint64 // al, bm: metadata update counts
	LocalPending, Pending int64  // lo, pe: requests open to the local disk / to the peer
	Unacked, AppPending   int64  // ua, ap: peer requests not yet answered / application requests in flight
	Epochs                int64  // ep
	// WriteOrder is the write-ordering method, 'b', 'f', 'd' or 'n'.
	WriteOrder byte
	// OutOfSyncKiB is what this node knows to differ from the peer (oos).
	OutOfSyncKiB uint64
	// HasOutOfSync is false for DRBD before 8.2.7, which prints neither
	// ep, wo nor oos.
	HasOutOfSync bool
}

// counterKeys are the counters in print order. DRBD before 8.2.7 prints
// the first 10; 8.2.7 added ep, wo and oos.
var counterKeys = []string{"ns", "nr", "dw", "dr", "al", "bm", "lo", "pe", "ua", "ap", "ep", "wo", "oos"}

func parseCounters(f []string) (Counters, error) {
	var c Counters
	if len(f) != 10 && len(f) != 13 {
		return c, fmt.Errorf("want the counters %s (before DRBD 8.2.7: up to ap), got %d fields", strings.Join(counterKeys, " "), len(f))
	}
	unsigned := []*uint64{&c.NetSend, &c.NetReceive, &c.DiskWrite, &c.DiskRead, &c.ActivityLog, &c.Bitmap}
	signed := []*int64{&c.LocalPending, &c.Pending, &c.Unacked, &c.AppPending, &c.Epochs}
	for i, field := range f {
		key, val, _ := strings.Cut(field, ":")
		if key != counterKeys[i] {
			return c, fmt.Errorf("counter %d is %q, want %s:", i+1, field, counterKeys[i])
		}
		var err error
		switch {
		case i < 6:
			*unsigned[i], err = strconv.ParseUint(val, 10, 64)
		case i < 11:
			*signed[i-6], err = strconv.ParseInt(val, 10, 64)
		case key == "wo":
			if len(val) != 1 || !strings.Contains("bfdn", val) {
				err = fmt.Errorf("not b, f, d or n")
			} else {
				c.WriteOrder = val[0]
			}
		default: // oos
			c.OutOfSyncKiB, err = strconv.ParseUint(val, 10, 64)
			c.HasOutOfSync = true
		}
		if err != nil {
			return c, fmt.Errorf("counter %q: %v", field, err)
		}
	}
	return c, nil
}

// checkLRUStats checks "resync: used:0/61 hits:0 misses:0 starving:0
// locked:0 changed:0" (8.0 says dirty for locked).
func checkLRUStats(f []string) error {
	if len(f) < 2 {
		return fmt.Errorf("%s statistics without used:N/M", f[0])
	}
	used, ok := strings.CutPrefix(f[1], "used:")
	a, b, slash := strings.Cut(used, "/")
	if !ok || !slash || !isDigits(a) || !isDigits(b) {
		return fmt.Errorf("%s statistics without used:N/M", f[0])
	}
	for _, kv := range f[2:] {
		k, v, ok := strings.Cut(kv, ":")
		if !ok || k == "" || !isDigits(v) {
			return fmt.Errorf("%s statistic %q is not name:number", f[0], kv)
		}
	}
	return nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// smallInt parses a non-negative decimal that fits an int32.
func smallInt(s string) (int, error) {
	if !isDigits(s) {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	n, err := strconv.ParseInt(s, 10, 32)
	return int(n), err
}

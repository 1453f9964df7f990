package ecmodel

import (
	"fmt"
	"strings"
	"time"
)

// DRBDPair is the back ends' DRBD resource pc0 on /dev/drbd0 as the kernel
// modules of both nodes hold it, for a host that has no DRBD of its own
// (the lab): drbdadm role|cstate|dstate|primary|secondary as drbdadm 8.4
// answers them, and /proc/drbd as drbd_proc.c (8.4.4) prints it. The
// packaging's pc0.res (templates/default/pc0.res.erb) configures no
// fencing, so a lost link leaves both sides WFConnection with UpToDate
// disks, the secondary silently falling behind. It is plain data (JSON),
// so a host can keep it where both nodes reach it.
type DRBDPair struct {
	Nodes     [2]string         `json:"nodes"` // the back ends: the first boots Primary
	Role      map[string]string `json:"role"`  // "Primary" / "Secondary"
	Disk      map[string]string `json:"disk"`  // "UpToDate", "Inconsistent"
	Connected bool              `json:"connected"`
	// StandAlone: split brain detected, neither side reconnects.
	StandAlone bool `json:"standalone,omitempty"`
	// Behind is the node that misses the other's writes since the link
	// broke.
	Behind string      `json:"behind,omitempty"`
	Sync   *DRBDResync `json:"sync,omitempty"`
}

// DRBDResync is a resync in progress.
type DRBDResync struct {
	Start  time.Time `json:"start"`
	Done   float64   `json:"done"`  // KiB synced at Start
	Total  float64   `json:"total"` // KiB
	Speed  float64   `json:"speed"` // KiB/s
	Target string    `json:"target"`
	// Held: the resync stands still at Done (see HoldSync).
	Held bool `json:"held,omitempty"`
}

// drbdSize is the resync total shown, KiB.
const drbdSize = 1376 * 1024

// NewDRBDPair is a healthy, connected pair, both Secondary until cluster.sh
// makes the master Primary.
func NewDRBDPair(a, b string) *DRBDPair {
	return &DRBDPair{Nodes: [2]string{a, b}, Role: map[string]string{a: "Secondary", b: "Secondary"},
		Disk: map[string]string{a: "UpToDate", b: "UpToDate"}, Connected: true}
}

func (d *DRBDPair) peer(n string) string {
	if n == d.Nodes[0] {
		return d.Nodes[1]
	}
	return d.Nodes[0]
}

// Fault puts the pair in a failure state; secondary is the node that
// suffers it.
func (d *DRBDPair) Fault(f DRBDFault, secondary string, now time.Time) error {
	switch f.Kind {
	case "disconnect", "peer-unreachable":
		d.Connected, d.Behind = false, secondary
	case "inconsistent":
		d.Connected, d.Disk[secondary] = false, "Inconsistent"
	case "standalone":
		// Disconnected for good (drbdadm disconnect, or a split brain DRBD
		// detected): roles stay as they are.
		d.Connected, d.StandAlone = false, true
	case "split-brain":
		d.Connected, d.StandAlone = false, true
		d.Role[secondary] = "Primary"
	case "resync":
		speed := float64(f.Speed)
		if speed <= 0 {
			speed = 40 * 1024 // syncer rate 40M (templates/default/drbd.conf.erb)
		}
		d.Connected, d.Disk[secondary] = true, "Inconsistent"
		d.Sync = &DRBDResync{Start: now, Done: f.Done / 100 * drbdSize, Total: drbdSize, Speed: speed, Target: secondary}
	case "reconnect":
		d.Connected, d.StandAlone = true, false
		if d.Behind != "" {
			d.Disk[d.Behind] = "Inconsistent"
			d.Sync = &DRBDResync{Start: now, Total: drbdSize, Speed: 40 * 1024, Target: d.Behind}
			d.Behind = ""
		}
	default:
		return fmt.Errorf("ecmodel: unknown DRBD fault %q", f.Kind)
	}
	return nil
}

// HoldSync holds (held) or releases a resync whose target is node n, as
// of now: held, it stands still where it is (HoldPath on n); released, it
// goes on from there. It reports whether the pair changed.
func (d *DRBDPair) HoldSync(n string, held bool, now time.Time) bool {
	if d.progress(now); d.Sync == nil || d.Sync.Target != n || d.Sync.Held == held {
		return false
	}
	if held {
		d.Sync.Done = d.synced(now)
	}
	d.Sync.Start, d.Sync.Held = now, held
	return true
}

// synced is the KiB of the resync done by now.
func (d *DRBDPair) synced(now time.Time) float64 {
	if d.Sync.Held {
		return d.Sync.Done
	}
	return d.Sync.Done + d.Sync.Speed*now.Sub(d.Sync.Start).Seconds()
}

// progress finishes a resync whose time is up and returns the part done.
func (d *DRBDPair) progress(now time.Time) float64 {
	if d.Sync == nil {
		return 1
	}
	done := d.synced(now)
	if done >= d.Sync.Total {
		d.Disk[d.Sync.Target], d.Sync = "UpToDate", nil
		return 1
	}
	return done / d.Sync.Total
}

func (d *DRBDPair) cstate(n string, now time.Time) string {
	switch d.progress(now); {
	case d.StandAlone:
		return "StandAlone"
	case !d.Connected:
		return "WFConnection"
	case d.Sync != nil && d.Sync.Target == n:
		return "SyncTarget"
	case d.Sync != nil:
		return "SyncSource"
	}
	return "Connected"
}

func (d *DRBDPair) roles(n string) string {
	if !d.Connected {
		return d.Role[n] + "/Unknown"
	}
	return d.Role[n] + "/" + d.Role[d.peer(n)]
}

func (d *DRBDPair) dstates(n string, now time.Time) string {
	d.progress(now)
	if !d.Connected {
		return d.Disk[n] + "/DUnknown"
	}
	return d.Disk[n] + "/" + d.Disk[d.peer(n)]
}

// Primary reports whether node n holds the resource Primary (what lets it
// mount /dev/drbd0).
func (d *DRBDPair) Primary(n string) bool { return d.Role[n] == "Primary" }

// Proc is /proc/drbd on node n.
func (d *DRBDPair) Proc(n string, now time.Time) string {
	var b strings.Builder
	b.WriteString("version: 8.4.4 (api:1/proto:86-101)\nGIT-hash: 599f286440bd633d15d5ff985204aff4bccffadd build by root@chefha, 2013-11-03 00:03:40\n")
	fmt.Fprintf(&b, " 0: cs:%s ro:%s ds:%s C r-----\n", d.cstate(n, now), d.roles(n), d.dstates(n, now))
	b.WriteString("    ns:1048576 nr:0 dw:1048576 dr:2097152 al:0 bm:64 lo:0 pe:0 ua:0 ap:0 ep:1 wo:f oos:")
	s := d.Sync
	if s == nil {
		b.WriteString("0\n")
		return b.String()
	}
	p := d.progress(now)
	left := s.Total * (1 - p)
	fmt.Fprintf(&b, "%d\n", int64(left))
	res := int(p * 1000)
	x := res / 50
	fmt.Fprintf(&b, "\t[%s>%s] sync'ed:%3d.%d%% (%d/%d)M\n", strings.Repeat("=", max(0, x-1)), strings.Repeat(".", 20-x), res/10, res%10, int64(left)/1024, int64(s.Total)/1024)
	rt := int(left / s.Speed)
	sp := thousands(int(s.Speed))
	fmt.Fprintf(&b, "\tfinish: %d:%02d:%02d speed: %s (%s) want: %s K/sec\n", rt/3600, rt%3600/60, rt%60, sp, sp, sp)
	return b.String()
}

// thousands groups digits as drbd_proc.c's seq_printf_with_thousands_grouping.
func thousands(v int) string {
	if v >= 1000000 {
		return fmt.Sprintf("%d,%03d,%03d", v/1000000, v%1000000/1000, v%1000)
	}
	if v >= 1000 {
		return fmt.Sprintf("%d,%03d", v/1000, v%1000)
	}
	return fmt.Sprint(v)
}

// Adm is `drbdadm ARGS…` on node n, whose data directory is mounted when
// mounted is true: what it prints, its exit status, and the harm a
// promotion did (a failover onto data that misses the peer's writes).
func (d *DRBDPair) Adm(n string, mounted bool, now time.Time, args ...string) (out string, code int, harm string) {
	if len(args) != 2 || args[1] != DRBDResource {
		return "'" + strings.Join(args, " ") + "' not defined in your config (for this host).\n", 10, ""
	}
	switch args[0] {
	case "role":
		return d.roles(n) + "\n", 0, ""
	case "cstate":
		return d.cstate(n, now) + "\n", 0, ""
	case "dstate":
		return d.dstates(n, now) + "\n", 0, ""
	case "primary":
		if d.Connected && d.Role[d.peer(n)] == "Primary" {
			return "0: State change failed: (-1) Multiple primaries not allowed by config\nCommand 'drbdsetup-84 primary 0' terminated with exit code 11\n", 11, ""
		}
		if d.progress(now); d.Disk[n] != "UpToDate" {
			return "0: State change failed: (-2) Need access to UpToDate data\nCommand 'drbdsetup-84 primary 0' terminated with exit code 17\n", 17, ""
		}
		if d.Role[n] != "Primary" && d.Behind == n && !d.Connected {
			harm = "failover onto out-of-date DRBD data (the peer's writes since the link broke are lost)"
		}
		d.Role[n] = "Primary"
		return "", 0, harm
	case "secondary":
		if mounted {
			return "0: State change failed: (-12) Device is held open by someone\nCommand 'drbdsetup-84 secondary 0' terminated with exit code 11\n", 11, ""
		}
		d.Role[n] = "Secondary"
		return "", 0, ""
	}
	return "drbdadm: Unknown command '" + args[0] + "'\n", 20, ""
}

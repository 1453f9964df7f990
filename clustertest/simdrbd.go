package clustertest

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/chefha/chefha/internal/ecmodel"
)

// drbd is the pair's resource pc0 on /dev/drbd0, as DRBD 8.4 reports it.
// The packaging's pc0.res (templates/default/pc0.res.erb) configures no
// fencing, so a lost link leaves both sides WFConnection with UpToDate
// disks, the secondary silently falling behind.
type drbd struct {
	c           *Cluster
	role        map[*Node]string // "Primary" / "Secondary"
	disk        map[*Node]string // "UpToDate", "Inconsistent"
	connected   bool
	standAlone  bool
	unreachable bool
	behind      *Node // the node missing the other's writes
	sync        *resync
}

type resync struct {
	start       time.Time
	done, total float64 // KiB
	speed       float64 // KiB/s
	target      *Node
}

const drbdSize = 1376 * 1024 // KiB, the resync total shown

func (d *drbd) peer(n *Node) *Node {
	if n == d.c.boot {
		return d.c.sec
	}
	return d.c.boot
}

func (d *drbd) fault(f ecmodel.DRBDFault) error {
	boot, sec := d.c.boot, d.c.sec
	switch f.Kind {
	case "disconnect", "peer-unreachable":
		d.connected, d.behind = false, sec
		d.unreachable = f.Kind == "peer-unreachable"
	case "inconsistent":
		d.connected, d.disk[sec] = false, "Inconsistent"
	case "standalone":
		// Disconnected for good (drbdadm disconnect, or a split brain
		// DRBD detected): roles stay as they are.
		d.connected, d.standAlone = false, true
	case "split-brain":
		d.connected, d.standAlone = false, true
		d.role[sec] = "Primary"
	case "resync":
		speed := float64(f.Speed)
		if speed <= 0 {
			speed = 40 * 1024 // sync_rate 40M (attributes/default.rb)
		}
		d.connected, d.disk[sec] = true, "Inconsistent"
		d.sync = &resync{start: d.c.now(), done: f.Done / 100 * drbdSize, total: drbdSize, speed: speed, target: sec}
	case "reconnect":
		d.connected, d.standAlone, d.unreachable = true, false, false
		if d.behind != nil {
			d.disk[d.behind] = "Inconsistent"
			d.sync = &resync{start: d.c.now(), total: drbdSize, speed: 40 * 1024, target: d.behind}
			d.behind = nil
		}
	default:
		return fmt.Errorf("clustertest: unknown DRBD fault %q", f.Kind)
	}
	_ = boot
	return nil
}

// progress finishes a resync whose time is up and returns the part done.
func (d *drbd) progress() float64 {
	if d.sync == nil {
		return 1
	}
	done := d.sync.done + d.sync.speed*d.c.now().Sub(d.sync.start).Seconds()
	if done >= d.sync.total {
		d.disk[d.sync.target], d.sync = "UpToDate", nil
		return 1
	}
	return done / d.sync.total
}

func (d *drbd) cstate(n *Node) string {
	switch d.progress(); {
	case d.standAlone:
		return "StandAlone"
	case !d.connected:
		return "WFConnection"
	case d.sync != nil && d.sync.target == n:
		return "SyncTarget"
	case d.sync != nil:
		return "SyncSource"
	}
	return "Connected"
}

func (d *drbd) roles(n *Node) string {
	if !d.connected {
		return d.role[n] + "/Unknown"
	}
	return d.role[n] + "/" + d.role[d.peer(n)]
}

func (d *drbd) dstates(n *Node) string {
	d.progress()
	if !d.connected {
		return d.disk[n] + "/DUnknown"
	}
	return d.disk[n] + "/" + d.disk[d.peer(n)]
}

// proc is /proc/drbd as drbd_proc.c (drbd-8.4.4) prints it.
func (d *drbd) proc(n *Node) string {
	var b strings.Builder
	b.WriteString("version: 8.4.4 (api:1/proto:86-101)\nGIT-hash: 599f286440bd633d15d5ff985204aff4bccffadd build by root@chefha, 2013-11-03 00:03:40\n")
	fmt.Fprintf(&b, " 0: cs:%s ro:%s ds:%s C r-----\n", d.cstate(n), d.roles(n), d.dstates(n))
	b.WriteString("    ns:1048576 nr:0 dw:1048576 dr:2097152 al:0 bm:64 lo:0 pe:0 ua:0 ap:0 ep:1 wo:f oos:")
	if s := d.sync; s != nil {
		p := d.progress()
		left := s.total * (1 - p)
		fmt.Fprintf(&b, "%d\n", int64(left))
		res := int(p * 1000)
		x := res / 50
		fmt.Fprintf(&b, "\t[%s>%s] sync'ed:%3d.%d%% (%d/%d)M\n", strings.Repeat("=", max(0, x-1)), strings.Repeat(".", 20-x), res/10, res%10, int64(left)/1024, int64(s.total)/1024)
		rt := int(left / s.speed)
		fmt.Fprintf(&b, "\tfinish: %d:%02d:%02d speed: %s (%s) want: %s K/sec\n", rt/3600, rt%3600/60, rt%60, thousands(int(s.speed)), thousands(int(s.speed)), thousands(int(s.speed)))
	} else {
		b.WriteString("0\n")
	}
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

// DRBDAdm is drbdadm 8.4 for resource pc0.
func (n *Node) DRBDAdm(ctx context.Context, args ...string) (string, int) {
	d := n.c.drbd
	if !n.backend() {
		return "drbdadm: command not found\n", 127
	}
	if len(args) != 2 || args[1] != ecmodel.DRBDResource {
		return "'" + strings.Join(args, " ") + "' not defined in your config (for this host).\n", 10
	}
	switch args[0] {
	case "role":
		return d.roles(n) + "\n", 0
	case "cstate":
		return d.cstate(n) + "\n", 0
	case "dstate":
		return d.dstates(n) + "\n", 0
	case "primary":
		if d.connected && d.role[d.peer(n)] == "Primary" {
			return "0: State change failed: (-1) Multiple primaries not allowed by config\nCommand 'drbdsetup-84 primary 0' terminated with exit code 11\n", 11
		}
		if d.disk[n] != "UpToDate" {
			return "0: State change failed: (-2) Need access to UpToDate data\nCommand 'drbdsetup-84 primary 0' terminated with exit code 17\n", 17
		}
		if d.role[n] != "Primary" && d.behind == n && !d.connected {
			n.AppendFile(ecmodel.ModelDir+"/harm", []byte(n.Name+": failover onto out-of-date DRBD data (the peer's writes since the link broke are lost)\n"), 0o644)
		}
		d.role[n] = "Primary"
		return "", 0
	case "secondary":
		for _, m := range n.mounts {
			if m == ecmodel.DRBDDataDir {
				return "0: State change failed: (-12) Device is held open by someone\nCommand 'drbdsetup-84 secondary 0' terminated with exit code 11\n", 11
			}
		}
		d.role[n] = "Secondary"
		return "", 0
	}
	return "drbdadm: Unknown command '" + args[0] + "'\n", 20
}

package clustertest

import (
	"context"
	"fmt"
	"time"
)

// Processes, network and time: the rest of the Host interface.

func (n *Node) Hostname() string                                 { return n.Name }
func (n *Node) Now() time.Time                                   { return n.c.now() }
func (n *Node) Sleep(ctx context.Context, d time.Duration) error { n.c.sleep(d); return ctx.Err() }

// backend reports whether the node is one of the DRBD pair.
func (n *Node) backend() bool { return n == n.c.boot || n == n.c.sec }

func (n *Node) PID() int { return n.curPID }

func (n *Node) ProcessAlive(pid int) bool { return n.trans != nil && n.trans.PID == pid }

func (n *Node) pid() int { n.nextPID += 7; return n.nextPID }

func (n *Node) Addresses(dev string) (string, bool) {
	if dev != "eth0" && dev != "eth1" && dev != "lo" {
		return "", false
	}
	out := fmt.Sprintf("2: %s: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc pfifo_fast state UP qlen 1000\n    inet %s/24 brd 192.168.4.255 scope global %s\n", dev, n.c.addr(n), dev)
	if n.hasVIP && dev == "eth0" && n.VIP != "" {
		out += fmt.Sprintf("    inet %s/24 scope global secondary eth0\n", n.VIP)
	}
	return out, true
}

func (n *Node) Ping(ip string) bool { return !(n.c.drbd.unreachable && ip == n.c.sec.clusterIP) }

package clustertest

import (
	"context"
	"io"
	"strings"
	"time"

	"github.com/chefha/chefha/internal/ecmodel"
)

// Simulated keepalived: the packaging's keepalived.conf (both nodes state
// BACKUP, priority 100, nopreempt, advert_int 1) elects a node MASTER when
// it hears no master for three adverts; it never takes over from a running
// master. notify_master/backup/stop run cluster.sh (the model's Transition),
// whose service stops and starts take TransitionTime.

// electionTime is how long a BACKUP waits without adverts before it
// becomes MASTER (3 × advert_int).
const electionTime = 3 * time.Second

func (c *Cluster) keepalivedChanged(n *Node, up bool) {
	if !up {
		was := n.vrrp
		n.vrrp, n.hasVIP, n.electAt = "", false, time.Time{}
		if was != "" {
			n.notify("backup") // notify_stop
		}
		if p := n.peer; p != nil && p.vrrp == "BACKUP" && was == "MASTER" {
			p.electAt = c.now().Add(electionTime)
		}
		return
	}
	// OC-11490: cluster.sh cannot write its log as opscode on EC 11 when
	// the log directory is root's, and keepalived does not stay up.
	if o, _ := n.Owner(ecmodel.LogDir + "/keepalived"); o == "root:root" && strings.HasPrefix(n.configured().Version, "11.") {
		n.svc("keepalived").up = false
		return
	}
	conf, _ := n.ReadFile(ecmodel.KeepalivedDir + "/etc/keepalived.conf")
	if strings.Contains(string(conf), "state MASTER") && (n.peer == nil || n.peer.vrrp != "MASTER") {
		c.becomeMaster(n)
		return
	}
	n.vrrp = "BACKUP"
	n.notify("backup")
	if n.peer == nil || n.peer.vrrp != "MASTER" {
		n.electAt = c.now().Add(electionTime)
	}
}

func (c *Cluster) becomeMaster(n *Node) {
	n.vrrp, n.hasVIP, n.electAt = "MASTER", true, time.Time{}
	n.notify("master")
}

// ForceMaster makes keepalived MASTER whatever the peer says (split brain).
func (n *Node) ForceMaster() error {
	n.forcedVRRP = true
	n.c.becomeMaster(n)
	return nil
}

// notify runs cluster.sh STATE as keepalived does (output discarded).
func (n *Node) notify(to string) {
	n.curPID = n.pid()
	t, _ := ecmodel.BeginClusterSh(n, to, ecmodel.IO{Stdout: io.Discard, Stderr: io.Discard})
	if t == nil {
		return // the running loop picks the request up
	}
	n.trans, n.transArg = t, to
	n.stepTransition()
}

func (n *Node) stepTransition() {
	for n.trans != nil {
		wait, done, _ := n.trans.Step(context.Background())
		if done {
			n.trans, n.transAt = nil, time.Time{}
			return
		}
		if wait == ecmodel.Settle {
			wait = n.c.transitionTime
		}
		n.transAt = n.c.now().Add(wait)
		return
	}
}

// settle runs the events that are due, in time order, until none is.
func (c *Cluster) settle() {
	for range 10000 {
		now := c.now()
		var next *Node
		var at time.Time
		elect := false
		for _, n := range c.list {
			if n.trans != nil && !n.transAt.IsZero() && !n.transAt.After(now) && (next == nil || n.transAt.Before(at)) {
				next, at, elect = n, n.transAt, false
			}
			if !n.electAt.IsZero() && !n.electAt.After(now) && (next == nil || n.electAt.Before(at)) {
				next, at, elect = n, n.electAt, true
			}
		}
		if next == nil {
			return
		}
		c.at = at // the event happens at its time, not when it is noticed
		if !elect {
			next.transAt = time.Time{}
			next.stepTransition()
		} else {
			next.electAt = time.Time{}
			if next.vrrp == "BACKUP" && (next.peer == nil || next.peer.vrrp != "MASTER") {
				c.becomeMaster(next)
			}
		}
		c.at = time.Time{}
	}
}

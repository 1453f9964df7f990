package keepalived

import (
	"fmt"
	"strings"
)

// NotifyConfig says where a notify script keeps its state.
type NotifyConfig struct {
	StateDir string // current/requested_cluster_status and the lock
	LogFile  string // cluster.log
	// Hook, if set, is a command run with the new state as its argument
	// between "Transitioning" and "Transitioned" (where cluster.sh starts
	// and stops the HA services). A non-zero exit leaves current unchanged.
	Hook string
}

// NotifyScript returns a keepalived notify script in the shape of EC's
// cluster.sh: `script master|backup|fault` records the request, takes the
// transition lock (or logs that one is already running and leaves), logs
// to cluster.log with `date -R` stamps, runs the hook, and records the new
// current status. The real VRRP test and the simulated cluster both run
// it, so both write the same files the same way.
func NotifyScript(c NotifyConfig) string {
	q := func(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
	return fmt.Sprintf(`#!/bin/sh
# keepalived notify script in the shape of Enterprise Chef's cluster.sh
STATE_DIR=%s
LOG=%s
HOOK=%s
SVWAIT=30; export SVWAIT
state="$1"
case "$state" in master|backup|fault) ;; *) echo "usage: $0 master|backup|fault" >&2; exit 2 ;; esac
log() { echo "$(date -R): $*" >> "$LOG"; }
mkdir -p "$STATE_DIR" "$(dirname "$LOG")"
echo "$state" > "$STATE_DIR/requested_cluster_status"
lock="$STATE_DIR/cluster-transition.lock"
if [ -s "$lock" ] && kill -0 "$(cat "$lock")" 2>/dev/null; then
  log "Requested transition to $state, but state transition already running."
  exit 0
fi
echo $$ > "$lock"
trap 'rm -f "$lock"' EXIT
log "Transitioning to $state"
if [ -n "$HOOK" ] && ! $HOOK "$state"; then
  log "Cannot complete transition to $state"
  exit 1
fi
echo "$state" > "$STATE_DIR/current_cluster_status"
log "Transitioned to $state"
`, q(c.StateDir), q(c.LogFile), q(c.Hook))
}

// VRRPConfig is one back end's keepalived.conf in the shape EC writes it:
// one VRRP instance, unicast to the peer, both nodes starting as BACKUP
// with nopreempt (a recovered node does not take the master role back),
// and the notify script for every transition, stop included.
type VRRPConfig struct {
	RouterID  string // the node's name
	Interface string // the VRRP and VIP interface
	Priority  int    // the bootstrap's is higher
	SourceIP  string // this node's address
	PeerIP    string // the other back end's address
	VIP       string // backend_vip's address, without a prefix
	Notify    string // the notify script, called with master|backup|fault
}

// String renders keepalived.conf.
func (c VRRPConfig) String() string {
	return fmt.Sprintf(`global_defs {
  router_id %s
  script_user root
}
vrrp_instance chef_ha {
  state BACKUP
  nopreempt
  interface %s
  virtual_router_id 77
  priority %d
  advert_int 1
  unicast_src_ip %s
  unicast_peer {
    %s
  }
  virtual_ipaddress {
    %s/24 dev %s
  }
  notify_master "%[8]s master"
  notify_backup "%[8]s backup"
  notify_fault "%[8]s fault"
  notify_stop "%[8]s backup"
}
`, c.RouterID, c.Interface, c.Priority, c.SourceIP, c.PeerIP, c.VIP, c.Interface, c.Notify)
}

package drbd

import "fmt"

// Device is the block device of the resource, /dev/drbdN.
func (r Resource) Device() string { return fmt.Sprintf("/dev/drbd%d", r.Minor) }

// Configured reports whether the minor is set up (not "cs:Unconfigured").
func (r Resource) Configured() bool { return r.CState != Unconfigured }

// Connected reports whether the replication link to the peer is up
// (Connected, or a resync, verify or Ahead/Behind that needs it).
func (r Resource) Connected() bool { return r.CState.Connected() }

// UpToDate reports whether both disks are UpToDate: the peer holds a full
// copy of the latest data. While disconnected the peer's disk is
// DUnknown, so this is false then.
func (r Resource) UpToDate() bool { return r.Disk == UpToDate && r.PeerDisk == UpToDate }

// Syncing reports whether a resync is starting, running or paused: one
// side's data is not a copy of the other's yet. Online verify is not a
// resync (see CState.Verifying).
func (r Resource) Syncing() bool { return r.CState.Resyncing() }

// StandAlone reports whether the resource has no network link and will
// not look for one: after `drbdadm disconnect`, or when DRBD detected
// split brain and the after-sb policies could not resolve it.
func (r Resource) StandAlone() bool { return r.CState == StandAlone }

// BothPrimary reports whether this node and its peer are both Primary.
// Connected, that is dual-primary mode (not configured by Enterprise
// Chef); disconnected the peer's role is Unknown, so split brain shows as
// StandAlone or WFConnection with Primary/Unknown on both nodes — compare
// the two nodes' Role.
func (r Resource) BothPrimary() bool { return r.Role == Primary && r.PeerRole == Primary }

// Suspended reports whether I/O on the device is suspended (first flag
// 's'): writes on the primary hang until it is resumed.
func (r Resource) Suspended() bool { return len(r.Flags) > 0 && r.Flags[0] == 's' }

// Healthy reports whether the resource is in the state `private-chef-ctl
// ha-status` (EC 11.1.8, private-chef-ctl-commands/ha.rb) requires of a
// node whose local role is role: Connected, role/other role, and
// UpToDate/UpToDate. That is "cs:Connected ro:Primary/Secondary
// ds:UpToDate/UpToDate" on the master.
func (r Resource) Healthy(role Role) bool {
	peer := Secondary
	if role == Secondary {
		peer = Primary
	}
	return r.CState == Connected && r.Role == role && r.PeerRole == peer && r.UpToDate()
}

// String is the state summary ha-status greps for:
// "cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate", or
// "cs:Unconfigured".
func (r Resource) String() string {
	if r.CState == Unconfigured {
		return "cs:Unconfigured"
	}
	return fmt.Sprintf("cs:%s ro:%s/%s ds:%s/%s", r.CState, r.Role, r.PeerRole, r.Disk, r.PeerDisk)
}

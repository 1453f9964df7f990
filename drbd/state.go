package drbd

// ConnState is a DRBD connection state, the cs: field of /proc/drbd and
// the output of `drbdadm cstate`. The names are drbd_conn_s_names in
// drbd_strings.c (LINBIT/drbd, tag drbd-8.4.3), identical in 8.3.x
// except that Ahead and Behind arrived in 8.3.10.
type ConnState string

// Connection states, in the kernel's enum order: every state from
// Connected on means the replication link is up.
const (
	StandAlone     ConnState = "StandAlone" // no network config: never connected, `drbdadm disconnect`, or split brain detected
	Disconnecting  ConnState = "Disconnecting"
	Unconnected    ConnState = "Unconnected"
	Timeout        ConnState = "Timeout"
	BrokenPipe     ConnState = "BrokenPipe"
	NetworkFailure ConnState = "NetworkFailure"
	ProtocolError  ConnState = "ProtocolError"
	TearDown       ConnState = "TearDown"
	WFConnection   ConnState = "WFConnection"   // waiting for the peer to appear
	WFReportParams ConnState = "WFReportParams" // TCP up, waiting for the peer's first packet
	Connected      ConnState = "Connected"      // replicating: the normal state
	StartingSyncS  ConnState = "StartingSyncS"
	StartingSyncT  ConnState = "StartingSyncT"
	WFBitMapS      ConnState = "WFBitMapS"
	WFBitMapT      ConnState = "WFBitMapT"
	WFSyncUUID     ConnState = "WFSyncUUID"
	SyncSource     ConnState = "SyncSource" // resync running, this node has the good data
	SyncTarget     ConnState = "SyncTarget" // resync running, this node's data is Inconsistent
	PausedSyncS    ConnState = "PausedSyncS"
	PausedSyncT    ConnState = "PausedSyncT"
	VerifyS        ConnState = "VerifyS" // online verify running, this node started it
	VerifyT        ConnState = "VerifyT"
	Ahead          ConnState = "Ahead"  // protocol A congestion: replication paused, peer falls behind
	Behind         ConnState = "Behind" // the peer of Ahead: this node's data is getting stale
	// Unconfigured is no kernel state: /proc/drbd and drbdsetup print it
	// for a minor that exists but is StandAlone and Diskless (after
	// `drbdadm down` on 8.3, or before `drbdadm up`).
	Unconfigured ConnState = "Unconfigured"
)

// connOrder is the kernel's enum drbd_conns order (drbd.h), used to tell
// link-up states from link-down ones. Unconfigured sorts below everything.
var connOrder = map[ConnState]int{
	Unconfigured: -1,
	StandAlone:   0, Disconnecting: 1, Unconnected: 2, Timeout: 3, BrokenPipe: 4,
	NetworkFailure: 5, ProtocolError: 6, TearDown: 7, WFConnection: 8, WFReportParams: 9,
	Connected: 10, StartingSyncS: 11, StartingSyncT: 12, WFBitMapS: 13, WFBitMapT: 14,
	WFSyncUUID: 15, SyncSource: 16, SyncTarget: 17, VerifyS: 18, VerifyT: 19,
	PausedSyncS: 20, PausedSyncT: 21, Ahead: 22, Behind: 23,
}

// Valid reports whether c is a state DRBD 8 prints.
func (c ConnState) Valid() bool { _, ok := connOrder[c]; return ok }

// Connected reports whether the replication link is up: Connected or any
// state that needs a connection (resync, verify, Ahead/Behind).
func (c ConnState) Connected() bool { return connOrder[c] >= connOrder[Connected] && c.Valid() }

// Resyncing reports whether a resync is starting, running or paused: the
// data on one side is not yet a copy of the other.
func (c ConnState) Resyncing() bool {
	switch c {
	case StartingSyncS, StartingSyncT, WFBitMapS, WFBitMapT, WFSyncUUID,
		SyncSource, SyncTarget, PausedSyncS, PausedSyncT:
		return true
	}
	return false
}

// Verifying reports whether online verify (`drbdadm verify`) runs.
func (c ConnState) Verifying() bool { return c == VerifyS || c == VerifyT }

// showsProgress reports whether /proc/drbd prints progress lines for c
// (drbd_seq_show: SyncSource, SyncTarget, VerifyS, VerifyT).
func (c ConnState) showsProgress() bool {
	return c == SyncSource || c == SyncTarget || c.Verifying()
}

// Role is a node's role for a resource: the ro: field (st: before 8.3)
// and `drbdadm role`.
type Role string

const (
	Primary   Role = "Primary"   // may be written to; mounted on the Chef master
	Secondary Role = "Secondary" // receives the primary's writes; not mountable
	Unknown   Role = "Unknown"   // the peer's role while disconnected
)

// Valid reports whether r is a role DRBD prints.
func (r Role) Valid() bool { return r == Primary || r == Secondary || r == Unknown }

// DiskState is the state of a node's backing disk: the ds: field and
// `drbdadm dstate`.
type DiskState string

const (
	Diskless     DiskState = "Diskless" // no backing device: never attached, detached, or detached after an I/O error (EC sets on-io-error detach)
	Attaching    DiskState = "Attaching"
	Failed       DiskState = "Failed"
	Negotiating  DiskState = "Negotiating"
	Inconsistent DiskState = "Inconsistent" // not usable: a new device, or a resync target mid-resync
	Outdated     DiskState = "Outdated"     // consistent but known to be older than the peer's
	DUnknown     DiskState = "DUnknown"     // the peer's disk while disconnected
	Consistent   DiskState = "Consistent"   // consistent, disconnected: up to date or not is decided on connect
	UpToDate     DiskState = "UpToDate"     // the latest data: the only safe state to fail over onto
)

// Valid reports whether d is a disk state DRBD prints.
func (d DiskState) Valid() bool {
	switch d {
	case Diskless, Attaching, Failed, Negotiating, Inconsistent, Outdated, DUnknown, Consistent, UpToDate:
		return true
	}
	return false
}

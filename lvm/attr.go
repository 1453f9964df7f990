package lvm

import "fmt"

// Attr is lv_attr decoded: one character per position, as lvs(8)
// ("lv_attr bits") describes them. lvm2 printed 6 characters up to
// 2.02.88, 8 from 2.02.89 (target type, zero), 9 in 2.02.98 (health) and
// 10 since 2.02.99 (skip activation); a position an older lvm2 does not
// print is 0.
type Attr struct {
	// Type is the volume type: 'o' origin, 'O' origin with a merging
	// snapshot, 's' snapshot, 'S' merging snapshot (an invalid one before
	// 2.02.97, see Invalid), 'V' thin volume, 't' thin pool, 'T' thin pool
	// data, 'e' pool metadata or RAID metadata, 'm'/'M' mirror, 'r'/'R'
	// RAID, 'i'/'I' image, 'l' mirror log, 'p' pvmove, 'v' virtual,
	// 'c' under conversion, 'C' cache, 'g' integrity, 'd'/'D' VDO pool
	// and its data, '-' a plain linear or striped volume.
	Type byte
	// Perm is 'w' writeable, 'r' read-only, 'R' read-only activation of a
	// writeable volume.
	Perm byte
	// Alloc is the allocation policy: 'a'nywhere, 'c'ontiguous,
	// 'i'nherited, c'l'ing, 'n'ormal; upper case while locked (pvmove).
	Alloc byte
	// Minor is 'm' for a fixed minor number, '-' otherwise.
	Minor byte
	// State is 'a' active, 's' suspended, 'I' invalid snapshot, 'S'
	// invalid suspended snapshot, 'm'/'M' snapshot merge failed (/
	// suspended), 'd' device present without tables, 'i' with an inactive
	// table, 'c'/'C' thin pool or cache check needed (/ suspended), 'h'
	// historical, 'X' unknown, '-' inactive.
	State byte
	// Open is 'o' while the device is open (mounted, in use), 'X' unknown.
	Open byte
	// Target is the kernel target: 's' snapshot (classic snapshots and
	// their origins), 't' thin, 'm' mirror, 'r' RAID, 'C' cache, 'v'
	// virtual, 'u' unknown, '-' linear or striped.
	Target byte
	// Zero is 'z' when a thin pool zeroes newly provisioned blocks.
	Zero byte
	// Health is 'p' partial (a PV is missing), 'X' unknown; for RAID 'r'
	// refresh needed, 'm' mismatches, 'w' writemostly, 's' reshaping, 'R'
	// remove after reshape; for thin pools 'F' failed, 'D' out of data
	// space, 'M' metadata read-only; for thin volumes 'F' failed; for
	// writecache 'E' error.
	Health byte
	// Skip is 'k' when the volume is skipped on activation (the default
	// for thin snapshots: activate them with lvchange -ay -K).
	Skip byte
	n    int // how many characters lvm2 printed
}

// ParseAttr decodes an lv_attr of 6, 8, 9 or 10 characters. Letters
// lvm2 may add later are kept as they are; anything but a letter or '-'
// is an error.
func ParseAttr(s string) (Attr, error) {
	switch len(s) {
	case 6, 8, 9, 10:
	default:
		return Attr{}, fmt.Errorf("lv_attr %q: %d characters, lvm2 prints 6 (before 2.02.89), 8, 9 (2.02.98) or 10", s, len(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '-' && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') {
			return Attr{}, fmt.Errorf("lv_attr %q: position %d is %q, not a letter or '-'", s, i+1, c)
		}
	}
	a := Attr{Type: s[0], Perm: s[1], Alloc: s[2], Minor: s[3], State: s[4], Open: s[5], n: len(s)}
	if len(s) >= 8 {
		a.Target, a.Zero = s[6], s[7]
	}
	if len(s) >= 9 {
		a.Health = s[8]
	}
	if len(s) == 10 {
		a.Skip = s[9]
	}
	return a, nil
}

// String gives lv_attr back as lvm2 printed it.
func (a Attr) String() string {
	b := []byte{a.Type, a.Perm, a.Alloc, a.Minor, a.State, a.Open, a.Target, a.Zero, a.Health, a.Skip}
	n := a.n
	if n == 0 {
		return ""
	}
	return string(b[:n])
}

// IsSnapshot reports a classic (copy-on-write) snapshot, merging or not.
// A thin snapshot is a thin volume ('V') with an origin: see
// LV.IsThinSnapshot.
func (a Attr) IsSnapshot() bool { return a.Type == 's' || a.Type == 'S' }

// IsOrigin reports the origin of a snapshot ('O' while one merges into it).
func (a Attr) IsOrigin() bool { return a.Type == 'o' || a.Type == 'O' }

// IsThin reports a thin volume, a thin pool or a pool's data volume.
func (a Attr) IsThin() bool {
	return a.Type == 'V' || a.Type == 't' || a.Type == 'T' || a.Target == 't'
}

// IsThinPool reports a thin pool.
func (a Attr) IsThinPool() bool { return a.Type == 't' }

// Invalid reports a classic snapshot the kernel has dropped — overfilled,
// or failed: state 'I', or 'S' when suspended. Its data is gone for good.
//
// Type 'S' alone does not mean invalid: since lvm2 2.02.58 it is a
// merging snapshot. lvm2 2.02.58 to 2.02.96 also printed an invalid
// snapshot's type in upper case ("Swi-I-"), always together with state
// 'I' or 'S', which is what is tested here.
func (a Attr) Invalid() bool { return a.State == 'I' || a.State == 'S' }

// Merging reports a snapshot being merged back into its origin
// (lvconvert --merge), or that origin: no longer a backup to fall back on.
func (a Attr) Merging() bool { return (a.Type == 'S' || a.Type == 'O') && !a.Invalid() }

// MergeFailed reports a snapshot whose merge into its origin failed.
func (a Attr) MergeFailed() bool { return a.State == 'm' || a.State == 'M' }

// Active reports a volume with a live device-mapper table: active, even
// if suspended, invalid, or waiting for a check.
func (a Attr) Active() bool {
	switch a.State {
	case 'a', 's', 'I', 'S', 'm', 'M', 'c', 'C':
		return true
	}
	return false
}

// Suspended reports a device whose I/O is suspended.
func (a Attr) Suspended() bool {
	return a.State == 's' || a.State == 'S' || a.State == 'M' || a.State == 'C'
}

// DeviceOpen reports a device in use (mounted, or held open).
func (a Attr) DeviceOpen() bool { return a.Open == 'o' }

// Partial reports a volume with a physical volume missing.
func (a Attr) Partial() bool { return a.Health == 'p' }

// PoolFailed reports a thin pool (or thin volume) that failed: no I/O at
// all is possible.
func (a Attr) PoolFailed() bool { return a.IsThin() && a.Health == 'F' }

// OutOfDataSpace reports a thin pool that ran out of data space: writes
// to its thin volumes queue or fail.
func (a Attr) OutOfDataSpace() bool { return a.Type == 't' && a.Health == 'D' }

// MetadataReadOnly reports a thin pool whose metadata went read-only
// after an error.
func (a Attr) MetadataReadOnly() bool { return a.Type == 't' && a.Health == 'M' }

// SkipActivation reports the activation-skip flag ('k').
func (a Attr) SkipActivation() bool { return a.Skip == 'k' }

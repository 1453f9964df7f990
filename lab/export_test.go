package lab

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"syscall"
)

// HoldAlloc takes the lock under which every Start and CleanLeftovers
// removes dead labs, and returns its release: a test that must see a dead
// lab's leftovers before anyone removes them holds it meanwhile.
func HoldAlloc(ctx context.Context) (release func(), err error) {
	lf, err := lockAlloc(ctx)
	if err != nil {
		return nil, err
	}
	return func() { lf.Close() }, nil
}

// LiveBridge reports whether link is the bridge of a lab whose process
// lives (its claim locked), and the subnet that lab claims.
func LiveBridge(link string) (netip.Prefix, bool) {
	m := labName.FindStringSubmatch(link)
	if m == nil || m[2] != "br" {
		return netip.Prefix{}, false
	}
	f, err := os.Open(filepath.Join(claimDir, m[1]+".lab"))
	if err != nil {
		return netip.Prefix{}, false
	}
	defer f.Close() // drops the lock if this took it
	var rec claimRecord
	if b, err := os.ReadFile(f.Name()); err != nil || json.Unmarshal(b, &rec) != nil {
		return netip.Prefix{}, false
	}
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	return rec.Subnet, errors.Is(err, syscall.EWOULDBLOCK)
}

package upgrade

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/lvm"
)

// Backup is how the bootstrap's data is backed up before each hop: the
// runbook asks for a tested backup during the entire upgrade. Give a
// command that makes it and a command that checks it (both run on the
// bootstrap with sh -c, as root), or waive it with the reason.
type Backup struct {
	// Command makes the backup, e.g. an LVM snapshot.
	Command string
	// Check exits 0 when the backup exists and is usable, e.g. `lvs
	// vg0/chef-pre-upgrade`. It is required with Command: it is how a
	// resumed run knows the backup was made, and is not made twice.
	Check string
	// Waived says why chefha makes no backup (a snapshot taken by the
	// storage team, ticket 1234).
	Waived string
	// Description is a backup made outside chefha, for the pre-flight.
	Description string
	// LVM makes and watches an LVM snapshot instead of a command pair.
	LVM *LVMSnapshot
}

// ErrNoBackup refuses a plan without a backup.
var ErrNoBackup = errors.New("no backup: give the command that backs up the bootstrap (an LVM or VM snapshot) and the command that checks it, or waive the backup with the reason")

// ErrNoBackupCheck refuses a backup command without its check.
var ErrNoBackupCheck = errors.New("the backup command needs a check command (e.g. `lvs vg0/chef-pre-upgrade`): without one a resumed run cannot tell whether the backup was made, and would make it twice")

func (b Backup) validate() error {
	switch {
	case b.LVM != nil && (b.Command != "" || b.Check != ""):
		return errors.New("give either the LVM snapshot or the backup command pair, not both")
	case b.LVM != nil:
		return nil
	case b.Command != "" && b.Check == "":
		return ErrNoBackupCheck
	case b.Command == "" && b.Waived == "":
		return ErrNoBackup
	}
	return nil
}

// describe is what the pre-flight reports: never the commands themselves,
// which may carry a password or a volume's name the report need not show.
func (b Backup) describe() string {
	switch {
	case b.LVM != nil:
		return "made and watched by chefha: " + b.LVM.String()
	case b.Command != "":
		return "made by chefha with the backup command, checked with the check command"
	case b.Check != "":
		return "checked with the check command"
	case b.Waived != "":
		return "waived: " + b.Waived
	case b.Description != "":
		return "declared: " + b.Description
	}
	return ""
}

// fingerprint identifies the backup commands in the plan's hash without
// putting them in the journal.
func (b Backup) fingerprint() string {
	if b.LVM != nil {
		return b.LVM.String()
	}
	if b.Command == "" && b.Waived == "" {
		return backupNone
	}
	if b.Command == "" {
		return "waived: " + b.Waived
	}
	sum := sha256.Sum256([]byte(b.Command + "\x00" + b.Check))
	return "command sha256:" + hex.EncodeToString(sum[:8])
}

// backupNone is the fingerprint of a plan whose backup was not declared:
// a dry run may show it; a run refuses it (ErrNoBackup).
const backupNone = "none"

// made reports whether chefha makes the backup (a command or a snapshot).
func (b Backup) made() bool { return b.Command != "" || b.LVM != nil }

// checkOn says whether the backup is there and usable, by the check
// command or the snapshot's state.
func (b Backup) checkOn(ctx context.Context, n cluster.Node) (bool, error) {
	if b.LVM != nil {
		_, err := b.LVM.check(ctx, n)
		// A snapshot past the threshold is still the backup: the check
		// before the next step stops the run with the lvextend to run.
		var se *lvm.SnapshotError
		if errors.As(err, &se) {
			return se.Problem == lvm.SnapshotFull, nil
		}
		return err == nil, err
	}
	if b.Check == "" {
		return false, nil
	}
	_, err := n.Run(ctx, cluster.Cmd{Argv: []string{"sh", "-c", b.Check}, Sudo: true})
	var ee *cluster.ExitError
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &ee):
		return false, nil
	}
	return false, fmt.Errorf("backup check on %s: %w", n.Name(), err)
}

package upgrade

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

// Every refusal a program may branch on has a type of its own, wrapped or
// not: none falls into "error".
func TestEventErrorTypes(t *testing.T) {
	t.Parallel()
	for want, err := range map[string]error{
		"blocked":          &BlockedError{},
		"no-path":          &PlanError{Mandatory: []string{"no path"}},
		"missing-package":  &MissingPackageError{},
		"package":          &PackageError{},
		"space":            &SpaceError{},
		"arch":             &ArchError{},
		"no-backup":        ErrNoBackupCheck,
		"journal-mismatch": &JournalMismatchError{},
		"unknown-step":     &UnknownStepError{},
		"unknown-check":    &UnknownCheckError{Name: "x"},
		"locked":           &LockedError{},
		"lock":             &LockError{Err: errors.New("read-only file system")},
		"not-rehearsed":    &NotRehearsedError{},
		"replica-mismatch": &ReplicaMismatchError{},
		"foreign-backup":   &ForeignBackupError{},
		"package-digest":   &DigestError{},
		"backup-lost":      &StepError{Err: &BackupLostError{Err: errors.New("invalid")}},
		"lock-lost":        &LockLostError{},
		"stopped":          ErrStopped,
		"panic":            &PanicError{},
		"error":            errors.New("anything else"),
	} {
		assert.Equal(t, want, eventError(fmt.Errorf("wrapped: %w", err)).Type, "%T", err)
	}
}

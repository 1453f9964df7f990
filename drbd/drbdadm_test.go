package drbd

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseRole(t *testing.T) {
	// role_scmd prints "%s/%s\n" (LINBIT/drbd drbd-8.4.3 user/drbdsetup.c,
	// user/legacy/drbdsetup.c for 8.3); the user's guide shows
	// "Primary/Secondary" (UG8.4 administration.adoc § Resource roles).
	for out, want := range map[string][2]Role{
		"Primary/Secondary\n":       {Primary, Secondary},
		"Secondary/Primary\n":       {Secondary, Primary},
		"Primary/Unknown\n":         {Primary, Unknown},
		"Secondary/Unknown":         {Secondary, Unknown},
		"\n  Primary/Primary  \n\n": {Primary, Primary},
	} {
		local, peer, err := ParseRole([]byte(out))
		require.NoError(t, err, out)
		assert.Equal(t, want, [2]Role{local, peer}, out)
	}
	_, _, err := ParseRole([]byte("Unconfigured\n"))
	assert.ErrorIs(t, err, ErrUnconfigured)
	for _, bad := range []string{
		"", "\n",
		"Primary\n",                              // DRBD 9's drbdsetup role
		"Master/Slave\n",                         // Pacemaker's words, not DRBD's
		"Primary/Secondary/Secondary\n",          // not a pair
		"Primary/Secondary\nSecondary/Primary\n", // two volumes
		"'drbdsetup ... state' is deprecated, use 'drbdsetup ... role' instead.\nPrimary/Secondary\n",
	} {
		_, _, err := ParseRole([]byte(bad))
		assert.Error(t, err, "%q", bad)
		assert.NotErrorIs(t, err, ErrUnconfigured)
	}
}

func TestParseCState(t *testing.T) {
	for _, c := range []ConnState{Connected, StandAlone, WFConnection, SyncSource, SyncTarget, PausedSyncT, VerifyS, Ahead, Behind, Unconfigured} {
		got, err := ParseCState([]byte(string(c) + "\n"))
		require.NoError(t, err)
		assert.Equal(t, c, got)
	}
	for _, bad := range []string{"", "connected\n", "Connected/Connected\n", "Connecting\n" /* DRBD 9 */} {
		_, err := ParseCState([]byte(bad))
		assert.Error(t, err, "%q", bad)
	}
}

func TestParseDState(t *testing.T) {
	local, peer, err := ParseDState([]byte("UpToDate/UpToDate\n"))
	require.NoError(t, err)
	assert.Equal(t, [2]DiskState{UpToDate, UpToDate}, [2]DiskState{local, peer})
	local, peer, err = ParseDState([]byte("Inconsistent/DUnknown\n"))
	require.NoError(t, err)
	assert.Equal(t, [2]DiskState{Inconsistent, DUnknown}, [2]DiskState{local, peer})
	_, _, err = ParseDState([]byte("Unconfigured\n"))
	assert.ErrorIs(t, err, ErrUnconfigured)
	for _, bad := range []string{"", "UpToDate\n", "UpToDate/Unknown\n", "uptodate/uptodate\n"} {
		_, _, err := ParseDState([]byte(bad))
		assert.Error(t, err, "%q", bad)
	}
}

func TestAdmErrors(t *testing.T) {
	tests := []struct {
		name, out string
		kind      AdmErrorKind
		line      string
	}{
		// drbdadm_main.c (8.4.3): the resource is not in drbd.conf for this host.
		{"not in config 8.4", "'pc0' not defined in your config (for this host).\n", NotInConfig,
			"'pc0' not defined in your config (for this host)."},
		// user/legacy/drbdadm_main.c (8.3).
		{"not in config 8.3", "'pc0' not defined in your config.\n", NotInConfig, "'pc0' not defined in your config."},
		// drbdsetup.c print_config_error + error_messages[ERR_MINOR_INVALID],
		// then drbdadm's report of the failed drbdsetup (8.4: pc0 is down).
		{"minor not allocated", "0: Failure: (127) Device minor not allocated\nCommand 'drbdsetup role 0' terminated with exit code 10\n",
			MinorNotAllocated, "0: Failure: (127) Device minor not allocated"},
		// the same with the drbdadm line first (stderr read before stdout).
		{"minor not allocated, reordered", "Command 'drbdsetup cstate 0' terminated with exit code 10\n0: Failure: (127) Device minor not allocated\n",
			MinorNotAllocated, "0: Failure: (127) Device minor not allocated"},
		{"unknown resource", "pc0: Failure: (158) Unknown resource\nCommand 'drbdsetup role pc0' terminated with exit code 10\n",
			UnknownResource, "pc0: Failure: (158) Unknown resource"},
		// drbd-utils v8.9.0 user/drbdsetup.c on a DRBD 9 kernel.
		{"no such resource", "pc0: No such resource\n", NoSuchResource, "pc0: No such resource"},
		// drbdsetup.c main: is_drbd_driver_missing().
		{"module not loaded", "do you need to load the module?\ntry: modprobe drbd\nCommand 'drbdsetup role 0' terminated with exit code 20\n",
			ModuleNotLoaded, "do you need to load the module?"},
		{"no netlink family", "Could not connect to 'drbd' generic netlink family\n", ModuleNotLoaded,
			"Could not connect to 'drbd' generic netlink family"},
		// drbdadm_main.c: a failure drbdadm reports without a known reason.
		{"generic failure", "0: Failure: (120) kmalloc() failed. Out of memory?\nCommand 'drbdsetup dstate 0' terminated with exit code 10\n",
			CommandFailed, "Command 'drbdsetup dstate 0' terminated with exit code 10"},
		{"timeout", "Command 'drbdsetup role 0' did not terminate within 121 seconds\n", CommandFailed,
			"Command 'drbdsetup role 0' did not terminate within 121 seconds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for cmd, parse := range map[string]func([]byte) error{
				"role":   func(b []byte) error { _, _, err := ParseRole(b); return err },
				"cstate": func(b []byte) error { _, err := ParseCState(b); return err },
				"dstate": func(b []byte) error { _, _, err := ParseDState(b); return err },
			} {
				err := parse([]byte(tt.out))
				var ae *AdmError
				require.True(t, errors.As(err, &ae), "%s: %v", cmd, err)
				assert.Equal(t, tt.kind, ae.Kind)
				assert.Equal(t, tt.line, ae.Line)
				assert.Equal(t, cmd, ae.Cmd)
				assert.Contains(t, err.Error(), "drbdadm "+cmd)
			}
		})
	}
	// The error says what to do.
	_, _, err := ParseRole([]byte("do you need to load the module?\n"))
	assert.ErrorContains(t, err, "modprobe drbd")
	_, _, err = ParseRole([]byte("'pc0' not defined in your config (for this host).\n"))
	assert.ErrorContains(t, err, "/var/opt/opscode/drbd/etc/drbd.conf")
}

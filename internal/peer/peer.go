// Package peer lets tests find the real programs they talk to (runsvdir,
// sshd, keepalived, ip) and skip, with the Debian package to install, when
// one is missing. Under CI (CHEFHA_REQUIRE_PEERS=1, set by .ci/run) a
// missing peer fails the test instead, so nothing is skipped there.
package peer

import (
	"os"
	"os/exec"
	"testing"
)

// RequireEnv is the environment variable that turns skips into failures.
const RequireEnv = "CHEFHA_REQUIRE_PEERS"

// Look returns the path of program, searching PATH and then /usr/sbin and
// /sbin (where sshd and keepalived live but a non-root PATH may not reach).
func Look(program string) (string, bool) {
	if p, err := exec.LookPath(program); err == nil {
		return p, true
	}
	for _, dir := range []string{"/usr/sbin/", "/sbin/"} {
		if st, err := os.Stat(dir + program); err == nil && st.Mode()&0111 != 0 {
			return dir + program, true
		}
	}
	return "", false
}

// Need returns the path of program or skips t, naming the Debian package
// that provides it.
func Need(t testing.TB, program, debianPackage string) string {
	t.Helper()
	p, ok := Look(program)
	if !ok {
		Missing(t, program+" not found: install Debian's "+debianPackage+" (apt-get install -y "+debianPackage+"; make test does it when run as root)")
	}
	return p
}

// NeedRoot skips t (or fails it under CI) unless the test runs as root.
func NeedRoot(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		Missing(t, "needs root: "+why)
	}
}

// OptionalPrefix starts the message of a skip that is allowed even under
// RequireEnv: what the test needs is not a package make test could install
// (a kernel feature, a snapshot of Chef's packaging to compare with).
// make test's summary lists these skips apart.
const OptionalPrefix = "optional: "

// Optional skips t because something no install can bring is missing,
// also under RequireEnv; why says what and what the test would show.
func Optional(t testing.TB, why string) {
	t.Helper()
	t.Skip(OptionalPrefix + why)
}

// Missing skips t with msg, or fails it when RequireEnv is set.
func Missing(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv(RequireEnv) != "" {
		t.Fatalf("%s (and %s is set: CI must not skip)", msg, RequireEnv)
	}
	t.Skip(msg)
}

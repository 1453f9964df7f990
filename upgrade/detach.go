package upgrade

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/chefha/chefha/cluster"
)

// DetachDir holds, on each node, the output and exit status of the
// critical commands chefha ran detached (a package install, a migration).
const DetachDir = "/var/opt/opscode/upgrades/chefha-run"

// detachScript runs "$@" detached from the SSH session, in a session of
// its own, with its output and exit status kept in files: an interrupt, a
// step timeout or a lost connection ends the wait, never the command. A
// second call with the same id while the first still runs waits for that
// one instead of starting another (a pid file naming some other process
// is not that one); once it has finished, a new call runs the command
// afresh (a resumed run only calls it again when the step's
// effect is not on the cluster).
//
//	sh -c detachScript chefha-detached DIR ID CMD…
const detachScript = `set -u
d=$1 id=$2; shift 2
mkdir -p "$d" && chmod 700 "$d" || exit 125
pidf="$d/$id.pid" rcf="$d/$id.rc" logf="$d/$id.log"
# The pid is ours only while that process is the one started for this
# id (its $0 is DIR/ID): after a reboot or a wrap the number may be any
# other process's, which must not be waited for.
if [ -s "$pidf" ] && [ ! -e "$rcf" ] && kill -0 "$(cat "$pidf")" 2>/dev/null &&
	grep -qF -- "$d/$id" "/proc/$(cat "$pidf")/cmdline" 2>/dev/null; then
	while [ ! -e "$rcf" ]; do sleep 1; done
else
	rm -f "$rcf" "$logf"
	setsid sh -c '"$@" >"$0.log" 2>&1 </dev/null; echo $? >"$0.rc.new"; mv -f "$0.rc.new" "$0.rc"' "$d/$id" "$@" >/dev/null 2>&1 </dev/null &
	echo $! >"$pidf"
	wait $! 2>/dev/null
	while [ ! -e "$rcf" ]; do sleep 1; done
fi
cat "$logf"
exit "$(cat "$rcf")"
`

// detachMarker is $0 of the detach script: how a simulated node knows it.
const detachMarker = "chefha-detached"

// detached wraps argv so that it runs detached on the node, under an id
// derived from the step, the node and the command, so that a resumed run
// finds a command still running from the run before.
func detached(step, node string, argv []string) []string {
	return detachedIn(DetachDir, step, node, argv)
}

func detachedIn(dir, step, node string, argv []string) []string {
	return append([]string{"sh", "-c", detachScript, detachMarker, dir, detachID(step, node, argv)}, argv...)
}

// detachID names a detached command's files in its directory.
func detachID(step, node string, argv []string) string {
	sum := sha256.Sum256([]byte(step + "\x00" + node + "\x00" + strings.Join(argv, "\x00")))
	return strings.NewReplacer("/", "_", ".", "_").Replace(step) + "-" + hex.EncodeToString(sum[:4])
}

// detachedLog is the file on the node where the detached command writes
// its output as it runs.
func detachedLog(step, node string, argv []string) string {
	return DetachDir + "/" + detachID(step, node, argv) + ".log"
}

// detachedCommand is how an event shows a detached command: the command,
// not the wrapper.
func detachedCommand(argv []string) string {
	if len(argv) > 6 && argv[3] == detachMarker {
		return cluster.ShellJoin(argv[6:]) + " (detached)"
	}
	return cluster.ShellJoin(argv)
}

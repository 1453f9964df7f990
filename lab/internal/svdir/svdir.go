// Package svdir writes the scripts a lab node's package tree holds in
// place of Enterprise Chef's programs: the shims that start the node
// program in a role (private-chef-ctl, initctl, dpkg, the package's sv, …),
// the stand-in every service's run script starts, and the wrapper that
// starts the machine's keepalived where the package's would be.
package svdir

import (
	"strings"
)

// The node program (the program that started the lab, placed in the node)
// and the environment variable that, set, makes it take a role instead of
// running its own main. sshd and runsvdir give commands a clean
// environment, so every script that starts the program sets the variable
// itself.
const (
	Program = "/usr/local/bin/chefha-labnode"
	RoleEnv = "CHEFHA_LABNODE"
)

// Env is the environment, as NAME=VALUE words, that makes the node
// program take role.
func Env(role string) []string {
	if raceEnv != "" {
		return []string{raceEnv, RoleEnv + "=" + role}
	}
	return []string{RoleEnv + "=" + role}
}

func envPrefix(role string) string { return strings.Join(Env(role), " ") + " " }

// Shim is the script that stands for a role's program in the node (e.g.
// /opt/opscode/bin/private-chef-ctl): it runs the node program in that
// role with the shim's arguments.
func Shim(role string) string {
	return "#!/bin/sh\n" + envPrefix(role) + "exec " + Program + " \"$@\"\n"
}

// ShimArg0 is a Shim that passes the name it was called by first (the
// package's sv runs in LSB mode when called as /opt/opscode/init/NAME).
func ShimArg0(role string) string {
	return "#!/bin/sh\n" + envPrefix(role) + "exec " + Program + " \"$0\" \"$@\"\n"
}

// Initctl stands for Upstart's initctl: it answers `initctl status JOB`
// itself, and starts the node program in the initctl role for the rest.
// Its answer is the node program's (labnode's initctl): a job is known
// when its job file jobFile exists or it is one of jobs and runs; it runs
// when its pid file pidFile names a live runsvdir. pidFile and jobFile
// are paths in which $job stands for the job's name. Every read of a
// node's facts asks the status of three jobs: three starts of the node
// program (some 5 ms of CPU each) for what a shell reads in no time.
func Initctl(pidFile, jobFile string, jobs []string) string {
	return `#!/bin/sh
if [ $# = 2 ] && [ "$1" = status ]; then
	job=$2 pid= comm= known=
	{ read pid < "` + pidFile + `"; } 2>/dev/null
	case $pid in ''|*[!0-9]*) pid= ;; esac
	[ -n "$pid" ] && { read comm < /proc/$pid/comm; } 2>/dev/null
	if [ -e "` + jobFile + `" ] || [ -L "` + jobFile + `" ]; then
		known=1
	fi
	case $job in ` + strings.Join(jobs, "|") + `) [ "$comm" = runsvdir ] && known=1 ;; esac
	if [ -z "$known" ]; then
		echo "initctl: Unknown job: $job" >&2
		exit 1
	fi
	if [ "$comm" = runsvdir ]; then
		echo "$job start/running, process $pid"
	else
		echo "$job stop/waiting"
	fi
	exit 0
fi
` + envPrefix("initctl") + "exec " + Program + " \"$@\"\n"
}

// Service is the stand-in for an Enterprise Chef service, which the
// service's run script starts as /opt/opscode/embedded/bin/NAME (a link to
// it): it logs that it started, is ready (its ready file) once its start
// delay has passed, and on TERM drains for its stop delay. The delays come
// from delays/NAME under stateDir ("STOP START", seconds; none by
// default; the stop delay read when TERM comes), the ready file is
// ready/NAME there. Each start leaves NAME-restarted there, which a
// package install removes: the model reads redis_lb's (OC-11601).
//
// Without delays (most services, most of the time) it starts nothing but
// its long sleep: a lab starts a few thousand services, and a process
// more for each (rm, mkdir, a sleep 0, a subshell) was half of what a
// lab start spawned.
func Service(stateDir string) string {
	return `#!/bin/sh
# A lab stand-in for an Enterprise Chef service (chefha lab).
name=${0##*/}
delays() {
	stop=0 start=0
	[ -r ` + stateDir + `/delays/$name ] && read stop start < ` + stateDir + `/delays/$name
}
delays
ready=` + stateDir + `/ready/$name
: > ` + stateDir + `/$name-restarted
echo "$name: started (pid $$)"
if [ "${start:-0}" = 0 ]; then
	[ -d "${ready%/*}" ] || mkdir -p "${ready%/*}"
	: > "$ready"
else
	rm -f "$ready"
	( sleep "$start"; mkdir -p "${ready%/*}"; : > "$ready" ) >/dev/null 2>&1 &
fi
trap 'kill $! 2>/dev/null; delays; echo "$name: draining for ${stop:-0}s"; [ "${stop:-0}" = 0 ] || sleep "$stop"; echo "$name: stopped"; exit 0' TERM
# $! is the sleep as soon as it starts (a variable set after it would
# miss a TERM in between), and the sleep keeps nothing of the log pipe:
# one that outlived the script would hold svlogd's input open, and runsv,
# waiting for svlogd to see EOF, would never exit and never give up the
# service's supervise/lock.
while :; do
	sleep 3600 >/dev/null 2>&1 &
	wait $!
done
`
}

// Keepalived stands where the package's /opt/opscode/embedded/sbin/
// keepalived would: the machine's keepalived with the run script's
// arguments, and its pid files in the node's own keepalived directory (a
// node shares the machine's /run). Only the VRRP side runs: Enterprise
// Chef's configuration has no virtual servers for the checker. ps shows it
// as the package's (bash's exec -a), as chefha sees it on a real node.
func Keepalived(dir string) string {
	return "#!/bin/bash\nexec -a /opt/opscode/embedded/sbin/keepalived /usr/sbin/keepalived \"$@\" --vrrp --pid=" + dir + "/keepalived.pid --vrrp_pid=" + dir + "/vrrp.pid\n"
}

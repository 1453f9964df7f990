package ecmodel

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"syscall"
	"time"
)

// Host is what the model needs from the machine a node runs on. The
// simulation (clustertest) implements it in memory on a fake clock; the lab
// will implement it on real files, real runit and real keepalived. All node
// state the real software keeps in files lives in Host's files, so a model
// run as one short-lived process per command sees what the last one left.
type Host interface {
	Files
	Supervisor
	Network
	// DRBDAdm runs `drbdadm ARGS…` (primary|secondary|role|cstate|dstate
	// pc0) and returns what it printed and its exit status. A host without
	// DRBD returns 127 ("drbdadm: command not found").
	DRBDAdm(ctx context.Context, args ...string) (string, int)
	// Mount and Umount change the mount table that /proc/mounts shows.
	Mount(device, dir string) error
	Umount(dir string) error
	// Hostname is the node's FQDN, its name in private-chef.rb.
	Hostname() string
	// PID is the process id of the running command (cluster.sh's $$) and
	// ProcessAlive reports whether a pid still runs (cluster.sh's
	// `-d /proc/$lockpid`).
	PID() int
	ProcessAlive(pid int) bool
	Now() time.Time
	// Sleep waits d on the host's clock (upgrade.rb's `sleep 120`).
	Sleep(ctx context.Context, d time.Duration) error
}

// Files is the node's file system. Paths are absolute node paths; /proc/drbd
// and /proc/mounts read as the kernel would show them.
type Files interface {
	ReadFile(name string) ([]byte, error)
	// WriteFile replaces name (creating parent directories) with mode perm
	// masked by the umask of the running command.
	WriteFile(name string, data []byte, perm fs.FileMode) error
	AppendFile(name string, data []byte, perm fs.FileMode) error
	Remove(name string) error
	RemoveAll(name string) error
	Lstat(name string) (fs.FileInfo, error)
	Stat(name string) (fs.FileInfo, error)
	ReadDir(name string) ([]fs.DirEntry, error)
	MkdirAll(name string, perm fs.FileMode) error
	Symlink(target, link string) error
	Chmod(name string, perm fs.FileMode) error
	// Chown and Owner use "user:group" names.
	Chown(name, owner string) error
	Owner(name string) (string, error)
}

// Supervisor is runit and Upstart on the host.
type Supervisor interface {
	// Sv runs sv VERB on the service directory dir, as
	// /opt/opscode/init/NAME does when lsb is true (LSB exit codes: 1 on
	// timeout or trouble, 3 for status of a down service) or as
	// `sv -w WAIT VERB DIR` when false (exit codes count failures). It
	// returns sv's output line(s).
	Sv(ctx context.Context, verb, dir string, wait time.Duration, lsb bool) (string, int)
	// ProcessGroup is the process group of pid (`ps -p PID -o pgrp=`); ok
	// false when no such process runs.
	ProcessGroup(pid int) (pgrp int, ok bool)
	// KillGroup SIGKILLs the processes left in process group pgrp
	// (`pkill -9 -g PGRP`) and returns their pids (`pgrep -g PGRP`); none
	// when the group is empty.
	KillGroup(pgrp int) []int
	// Supervised reports whether a runsv supervises the linked service
	// (its supervise/ok pipe has a reader).
	Supervised(service string) bool
	// Jobs are the Upstart jobs whose runsvdir runs.
	Jobs() []string
	StartJob(ctx context.Context, job string) error
	// StopJob is Upstart ending a job's main process: runsvdir gets TERM
	// and exits at once, its runsv (and their services) left running,
	// orphaned to init (runsvdir(8)). The job file's pre-stop and
	// post-stop are the model's (ecmodel.StopJob).
	StopJob(ctx context.Context, job string) error
	// SignalOrphanRunsv is `pkill -SIG -P 1 runsv$`, a job's post-stop:
	// every runsv whose parent is init gets sig. On TERM a runsv stops its
	// service and exits (runsv.c @runit 2.1.1: TERM is control "x"); on
	// HUP, which runsv does not catch, it dies and leaves its service
	// running, unsupervised. It returns once they have exited.
	SignalOrphanRunsv(ctx context.Context, sig syscall.Signal) error
}

// Network is what ha-status and cluster.sh ask of the network.
type Network interface {
	// Addresses is `ip a show dev DEV` (ok false: no such device).
	Addresses(dev string) (out string, ok bool)
	// Ping is `ping -c 1 -W 1 IP` succeeding.
	Ping(ip string) bool
}

// FileLocker is a host whose files take real locks: partybus takes an
// exclusive, non-blocking flock of the migration-level file, and gives up
// when another process holds it. A host without real locks plays the
// held lock with the PartybusLocked switch.
type FileLocker interface {
	// TryLock opens name (creating it empty if missing, as partybus's
	// File.open RDWR|CREAT does) and tries LOCK_EX|LOCK_NB: ok false when
	// another process holds it.
	TryLock(name string) (unlock func(), ok bool, err error)
}

// IO is a command's standard streams and environment.
type IO struct {
	Stdout, Stderr io.Writer
	// Env holds the variables the caller exported (env VAR=… or export);
	// the model reads SVWAIT.
	Env map[string]string
}

// ErrNoDRBD is returned by hosts that cannot have DRBD (no kernel module).
var ErrNoDRBD = errors.New("no DRBD on this host")

// Paths of the real software.
const (
	SvDir          = "/opt/opscode/sv"
	ServiceDir     = "/opt/opscode/service"
	InitDir        = "/opt/opscode/init"
	CtlPath        = "/opt/opscode/bin/private-chef-ctl"
	ManifestPath   = "/opt/opscode/version-manifest.txt"
	PCVersionPath  = "/opt/opscode/pc-version.txt" // Private Chef 1.2's, in place of the manifest
	RunningJSON    = "/etc/opscode/chef-server-running.json"
	TopologyPath   = "/etc/opscode/private-chef.rb"
	LogDir         = "/var/log/opscode"
	KeepalivedDir  = "/var/opt/opscode/keepalived"
	ClusterSh      = KeepalivedDir + "/bin/cluster.sh"
	RequestedPath  = KeepalivedDir + "/requested_cluster_status"
	CurrentPath    = KeepalivedDir + "/current_cluster_status"
	LockPath       = KeepalivedDir + "/cluster-transition.lock"
	ClusterLogPath = LogDir + "/keepalived/cluster.log"
	PartybusConfig = "/var/opt/opscode/upgrades/etc/config.rb"
	DRBDDevice     = "/dev/drbd0"
	DRBDDisk       = "/dev/opscode/drbd" // attributes/default.rb drbd disk
	DRBDDataDir    = "/var/opt/opscode/drbd/data"
	DRBDResource   = "pc0"
	// ModelDir holds what only the emulation needs: the release the last
	// reconfigure applied, armed bugs, and harm done. Real nodes have none.
	ModelDir = "/var/lib/chefha-model"
	// HoldPath is a test's hold on a node's timed work, for a host on real
	// time where the test cannot stop the clock: while the file exists, a
	// cluster.sh run on the node waits, lock taken, before its transition
	// begins, and a DRBD resync the node is the target of stands still.
	// The test sees the work in flight as long as it needs and releases it
	// by removing the file. The packaging has no such thing.
	HoldPath = ModelDir + "/hold"
)

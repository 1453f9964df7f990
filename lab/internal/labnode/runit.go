package labnode

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/chefha/chefha/internal/ecmodel"
)

// Runit and Upstart on a lab node: the machine's runit (Debian's 2.1.2),
// and an Upstart stand-in that runs the packaging's runsvdir jobs as their
// job files say.

// Sv runs the machine's sv as the package's does: its default service
// directory /opt/opscode/service (the packaging patches sv.c so), the wait
// SVWAIT, and in LSB mode (the /opt/opscode/init/NAME link) named after the
// service. One difference is made good: Debian's 2.1.2 takes the LSB
// status exit code from the log service when there is one, so a down
// service whose svlogd runs exits 0; EC's runit 2.1.1 takes it from the
// service itself (3 for down), and that is what this returns.
func (h *Host) Sv(ctx context.Context, verb, dir string, wait time.Duration, lsb bool) (string, int) {
	if h.root != "" {
		return h.hostop(ctx, "sv", verb, dir, wait.String(), strconv.FormatBool(lsb))
	}
	secs := int(math.Ceil(wait.Seconds()))
	if secs <= 0 {
		secs = 7 // sv's default
	}
	argv := []string{"-w", strconv.Itoa(secs), verb, dir}
	if lsb {
		argv = []string{verb}
	}
	return svRun(ctx, path.Base(dir), lsb, argv, strconv.Itoa(secs))
}

// ProcessGroup reads pid's process group from the node's own /proc.
func (h *Host) ProcessGroup(pid int) (int, bool) {
	if h.root != "" {
		out, code := h.hostop(context.Background(), "pgrp", strconv.Itoa(pid))
		pgrp, err := strconv.Atoi(strings.TrimSpace(out))
		return pgrp, code == 0 && err == nil
	}
	return processGroup(strconv.Itoa(pid))
}

// processGroup is the pgrp field of /proc/PID/stat (the fifth; the
// command in parentheses may hold blanks).
func processGroup(pid string) (int, bool) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 3 {
		return 0, false
	}
	pgrp, err := strconv.Atoi(f[2])
	return pgrp, err == nil
}

// KillGroup is pgrep -g and pkill -9 -g in the node's own PID namespace.
func (h *Host) KillGroup(pgrp int) []int {
	if h.root != "" {
		out, _ := h.hostop(context.Background(), "killpg", strconv.Itoa(pgrp))
		var pids []int
		for _, w := range strings.Fields(out) {
			if p, err := strconv.Atoi(w); err == nil {
				pids = append(pids, p)
			}
		}
		return pids
	}
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if g, ok := processGroup(e.Name()); ok && g == pgrp {
			pids = append(pids, pid)
		}
	}
	if len(pids) > 0 {
		syscall.Kill(-pgrp, syscall.SIGKILL)
	}
	return pids
}

// svRun runs the machine's sv with argv, as argv0 in LSB mode.
func svRun(ctx context.Context, name string, lsb bool, argv []string, wait string) (string, int) {
	cmd := exec.CommandContext(ctx, tool("sv"), argv...)
	if lsb {
		cmd.Args = append([]string{name}, argv...)
	}
	cmd.Env = []string{"PATH=" + NodePath, "SVDIR=" + ecmodel.ServiceDir}
	if wait != "" {
		cmd.Env = append(cmd.Env, "SVWAIT="+wait)
	}
	out, err := cmd.CombinedOutput()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		return string(out) + err.Error() + "\n", 127
	}
	if lsb && len(argv) > 0 && argv[0] == "status" && code == 0 && strings.HasPrefix(string(out), "down: ") {
		code = 3
	}
	return string(out), code
}

// embeddedSv is /opt/opscode/embedded/bin/sv: argv0 says whether it was
// called as sv or, through /opt/opscode/init/NAME, in LSB mode.
func embeddedSv(argv0 string, args []string) int {
	name := path.Base(argv0)
	lsb := name != "sv"
	out, code := svRun(context.Background(), name, lsb, args, os.Getenv("SVWAIT"))
	fmt.Print(out)
	return code
}

// Upstart jobs: a job's runsvdir pid is kept in JobPIDFile(JOB).
func (h *Host) jobPIDFile(job string) string { return JobPIDFile(job) }

// JobPIDFile is where the pid of job's runsvdir is kept in a node.
func JobPIDFile(job string) string { return ecmodel.ModelDir + "/jobs/" + job + ".pid" }

// runsvdirJobs are the runsvdir jobs of the packaging's releases
// (packaging.RunsvdirJobs, which TestRunsvdirJobsAreThePackagings holds
// this to): typed, because the node program, started for every command,
// cannot afford to decode every release to learn them.
func runsvdirJobs() []string {
	return []string{"opscode-runsvdir", "private-chef-runsvdir", "private_chef-runsvdir"}
}

func (h *Host) jobPID(job string) int {
	b, err := os.ReadFile(h.p(h.jobPIDFile(job)))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 || !h.ProcessAlive(pid) || procComm(h.p("/proc/"+strconv.Itoa(pid))) != "runsvdir" {
		return 0
	}
	return pid
}

// Jobs are the runsvdir jobs running.
func (h *Host) Jobs() []string {
	var out []string
	for _, j := range runsvdirJobs() {
		if h.jobPID(j) > 0 {
			out = append(out, j)
		}
	}
	return out
}

// StartJob is `initctl start JOB`: runsvdir-start's runsvdir on
// /opt/opscode/service (its log: argument of dots, the window runsvdir
// writes its children's complaints into), in a session of its own. Like
// the runit cookbook's service resources after it, it returns once runsv
// supervises every linked service (when no other runsvdir competes).
func (h *Host) StartJob(ctx context.Context, job string) error {
	if h.root != "" {
		if out, code := h.hostop(ctx, "start-job", job); code != 0 {
			return errors.New(strings.TrimSpace(out))
		}
		return nil
	}
	if h.jobPID(job) > 0 {
		return fmt.Errorf("initctl: Job is already running: %s", job)
	}
	alone := len(h.Jobs()) == 0
	cmd := exec.Command(tool("runsvdir"), "-P", ecmodel.ServiceDir, "log: "+strings.Repeat(".", 395))
	cmd.Env = []string{"PATH=" + NodePath} // exec env - PATH=$PATH runsvdir …
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("initctl: %w", err)
	}
	pid := cmd.Process.Pid
	cmd.Process.Release()
	if err := h.WriteFile(h.jobPIDFile(job), []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		return err
	}
	if alone {
		h.waitSupervised(ctx, 15*time.Second)
	}
	return nil
}

// waitSupervised waits until every linked service directory has a runsv
// (its supervise/ok pipe has a reader).
func (h *Host) waitSupervised(ctx context.Context, d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		ents, _ := os.ReadDir(ecmodel.ServiceDir)
		all := true
		for _, e := range ents {
			dir := path.Join(ecmodel.ServiceDir, e.Name())
			if st, err := os.Stat(dir); err != nil || !st.IsDir() {
				continue // a stale link: runsvdir will complain, not wait
			}
			if !supervised(dir) {
				all = false
				break
			}
		}
		if all {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Supervised reports whether a runsv supervises the linked service.
func (h *Host) Supervised(service string) bool {
	return supervised(h.p(path.Join(ecmodel.ServiceDir, service)))
}

// supervised reports whether a runsv reads dir's supervise/ok (opening a
// FIFO without a reader for writing fails with ENXIO).
func supervised(dir string) bool {
	f, err := os.OpenFile(path.Join(dir, "supervise", "ok"), os.O_WRONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return false
	}
	f.Close()
	return true
}

// StopJob is Upstart's stop of a job's main process: runsvdir gets TERM
// and exits, leaving its runsv orphaned (runsvdir(8)); the job file's
// pre-stop and post-stop are the model's (ecmodel.StopJob).
func (h *Host) StopJob(ctx context.Context, job string) error {
	if h.root != "" {
		if out, code := h.hostop(ctx, "stop-job", job); code != 0 {
			return errors.New(strings.TrimSpace(out))
		}
		return nil
	}
	pid := h.jobPID(job)
	if pid == 0 {
		return fmt.Errorf("initctl: Unknown instance: ")
	}
	syscall.Kill(pid, syscall.SIGTERM)
	// Upstart runs post-stop once the main process is gone, however long
	// that takes on a loaded machine: runsv orphaned later would miss the
	// signal.
	for h.ProcessAlive(pid) && procState(pid) != "Z" {
		if ctx.Err() != nil {
			return fmt.Errorf("initctl: %s's runsvdir (pid %d) did not exit on TERM: %w", job, pid, ctx.Err())
		}
		time.Sleep(10 * time.Millisecond)
	}
	os.Remove(h.p(h.jobPIDFile(job)))
	return nil
}

// SignalOrphanRunsv is a job's post-stop `pkill -SIG -P 1 runsv$`: the
// node's runsv whose parent is its PID 1 get sig (TERM: they stop their
// service and exit; HUP: they die, the service left running).
func (h *Host) SignalOrphanRunsv(ctx context.Context, sig syscall.Signal) error {
	if h.root != "" {
		if out, code := h.hostop(ctx, "pkill-runsv", strconv.Itoa(int(sig))); code != 0 {
			return errors.New(strings.TrimSpace(out))
		}
		return nil
	}
	orphans := orphanRunsv()
	for _, p := range orphans {
		syscall.Kill(p, sig)
	}
	// Upstart returns once post-stop has signalled them. The recipe that
	// stops the job writes the new job's file and checks its status
	// before starting it, seconds in which the signalled runsv stop their
	// service and svlogd and exit: wait for them, so that the new
	// runsvdir's runsv do not meet their supervise locks still held, as
	// an instant successor would.
	for i := 0; i < 1000; i++ {
		alive := false
		for _, p := range orphans {
			if h.ProcessAlive(p) && procState(p) != "Z" {
				alive = true
			}
		}
		if !alive {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// orphanRunsv lists the runsv processes whose parent is the node's PID 1.
func orphanRunsv() []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || procComm("/proc/"+e.Name()) != "runsv" {
			continue
		}
		if procPPID(pid) == 1 {
			out = append(out, pid)
		}
	}
	slices.Sort(out)
	return out
}

func procComm(dir string) string {
	b, _ := os.ReadFile(dir + "/comm")
	return strings.TrimSpace(string(b))
}

// procStat returns the fields of /proc/PID/stat after the command.
func procStat(pid int) []string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		return strings.Fields(s[i+1:])
	}
	return nil
}

func procState(pid int) string {
	if f := procStat(pid); len(f) > 0 {
		return f[0]
	}
	return ""
}

func procPPID(pid int) int {
	if f := procStat(pid); len(f) > 1 {
		n, _ := strconv.Atoi(f[1])
		return n
	}
	return 0
}

// initctl is `initctl status|start|stop JOB`, printed as Upstart does.
// The node's initctl answers status itself (svdir.Initctl), as this does.
func initctl(h *Host, args []string) int {
	if len(args) != 2 {
		fmt.Fprintln(os.Stderr, "initctl: usage: initctl status|start|stop JOB")
		return 2
	}
	job := args[1]
	if !ecmodel.JobKnown(h, job) {
		fmt.Fprintln(os.Stderr, "initctl: Unknown job: "+job)
		return 1
	}
	ctx := context.Background()
	switch args[0] {
	case "status":
	case "start":
		if err := h.StartJob(ctx, job); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	case "stop":
		if err := ecmodel.StopJob(ctx, h, job); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	default:
		fmt.Fprintln(os.Stderr, "initctl: unknown command: "+args[0])
		return 1
	}
	if pid := h.jobPID(job); pid > 0 {
		fmt.Printf("%s start/running, process %d\n", job, pid)
	} else {
		fmt.Printf("%s stop/waiting\n", job)
	}
	return 0
}

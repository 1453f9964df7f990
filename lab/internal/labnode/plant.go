package labnode

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/chefha/chefha/internal/ecmodel"
)

// What knobs need of a lab node beyond ecmodel.Host: each does the real
// thing, or says why the lab cannot.

var (
	_ ecmodel.ServiceTiming = (*Host)(nil)
	_ ecmodel.Processes     = (*Host)(nil)
	_ ecmodel.LogServices   = (*Host)(nil)
	_ ecmodel.Disks         = (*Host)(nil)
	_ ecmodel.Transport     = (*Host)(nil)
	_ ecmodel.DRBDFaults    = (*Host)(nil)
	_ ecmodel.VRRP          = (*Host)(nil)
	_ ecmodel.Locks         = (*Host)(nil)
	_ ecmodel.FileLocker    = (*Host)(nil)
)

// Where a service's stand-in (see serviceScript) finds its delays, and
// says it is ready.
const (
	delayDir = ecmodel.ModelDir + "/delays"
	readyDir = ecmodel.ModelDir + "/ready"
)

// SetServiceDelay makes a service's process drain for stop after TERM
// (sv's stop waits, then times out), and take start to be ready: a check
// script in its service directory, which sv start runs until it passes,
// fails until then.
func (h *Host) SetServiceDelay(service string, stop, start time.Duration) error {
	secs := func(d time.Duration) string { return strconv.Itoa(int(d.Round(time.Second) / time.Second)) }
	if err := h.WriteFile(delayDir+"/"+service, []byte(secs(stop)+" "+secs(start)+"\n"), 0o644); err != nil {
		return err
	}
	check := path.Join(ecmodel.SvDir, service, "check")
	if start <= 0 {
		if err := h.Remove(check); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	return h.WriteFile(check, []byte("#!/bin/sh\nexec test -e "+readyDir+"/"+service+"\n"), 0o755)
}

// AddProcess starts an idle process in the node whose command line, as ps
// shows it, is args.
func (h *Host) AddProcess(args string) error {
	if out, code := h.hostop(context.Background(), "spawn", "idle", args); code != 0 {
		return errors.New(strings.TrimSpace(out))
	}
	return nil
}

// RespawnRunsvdir kills the running job's runsvdir (SIGKILL: its runsv
// live on, orphaned) and starts the job again, as Upstart's respawn does.
func (h *Host) RespawnRunsvdir() error {
	if h.root != "" {
		if out, code := h.hostop(context.Background(), "respawn-runsvdir"); code != 0 {
			return errors.New(strings.TrimSpace(out))
		}
		return nil
	}
	jobs := h.Jobs()
	if len(jobs) != 1 {
		return fmt.Errorf("respawn: want one runsvdir job running, have %v", jobs)
	}
	pid := h.jobPID(jobs[0])
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("respawn: kill runsvdir %d: %w", pid, err)
	}
	// The node's init reaps it; until then the job still reads as running.
	for i := 0; i < 500 && h.ProcessAlive(pid); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	return h.StartJob(context.Background(), jobs[0])
}

// SetRunsvdirLog cannot put words into a real runsvdir's argv: runsvdir
// writes what its children say there. BreakLogDir makes svlogd say it.
func (h *Host) SetRunsvdirLog(string) error {
	return &ecmodel.CannotPlantError{Why: "runsvdir writes its argv itself; the lab makes a real svlogd fail instead (BreakLogDir)"}
}

// RestartLog restarts a service's svlogd as migration 008_fix_logging.rb
// does: `sv force-restart SVDIR/NAME/log` (svlogd exits on TERM only after
// the next line it reads, so sv kills it when none comes).
func (h *Host) RestartLog(service string) error {
	dir := path.Join(ecmodel.SvDir, service, "log")
	h.Sv(context.Background(), "force-restart", dir, time.Second, false) // "kill: …", exit 1, when it had to
	return nil
}

// BreakLogDir removes a service's log directory and restarts its svlogd,
// which cannot open it; runsv restarts it, and runsvdir shows why.
func (h *Host) BreakLogDir(service string) error {
	if err := h.RemoveAll(path.Join(ecmodel.LogDir, service)); err != nil {
		return err
	}
	return h.RestartLog(service)
}

// SetLogFSFull moves a small file system holding a copy of
// /var/log/opscode over it and fills it (full), or unmounts it again.
func (h *Host) SetLogFSFull(full bool) error {
	if out, code := h.hostop(context.Background(), "logfs", strconv.FormatBool(full)); code != 0 {
		return errors.New(strings.TrimSpace(out))
	}
	return nil
}

// logFS is SetLogFSFull inside the node.
func (h *Host) logFS(full bool) (string, int) {
	if !full {
		return h.run(context.Background(), nil, tool("umount"), ecmodel.LogDir)
	}
	const tmp = "/tmp/chefha-logfs"
	os.MkdirAll(tmp, 0o755)
	for _, argv := range [][]string{
		{tool("mount"), "-t", "tmpfs", "-o", "size=4m,mode=0755", "chefha-logfs", tmp},
		{tool("cp"), "-a", ecmodel.LogDir + "/.", tmp},
		{tool("mount"), "--move", tmp, ecmodel.LogDir},
	} {
		if out, code := h.run(context.Background(), nil, argv...); code != 0 {
			return strings.Join(argv, " ") + ": " + out, code
		}
	}
	f, err := os.Create(ecmodel.LogDir + "/.chefha-fill")
	if err != nil {
		return err.Error(), 1
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return "", 0
			}
			return err.Error(), 1
		}
	}
}

// StopSSH kills the node's sshd (and with it every session).
func (h *Host) StopSSH() error {
	if out, code := h.run(context.Background(), nil, tool("pkill"), "-KILL", "-x", "sshd"); code != 0 {
		return fmt.Errorf("pkill sshd: %s", strings.TrimSpace(out))
	}
	return nil
}

// DropConnectionAfter and SetCommandDelay need a traffic shaper between
// the client and the node's sshd, which the lab does not have.
func (h *Host) DropConnectionAfter(int) error {
	return &ecmodel.CannotPlantError{Why: "cutting an SSH connection mid-command needs a traffic shaper between the client and sshd, which the lab has not"}
}

func (h *Host) SetCommandDelay(time.Duration) error {
	return &ecmodel.CannotPlantError{Why: "slowing every command needs a traffic shaper between the client and sshd, which the lab has not"}
}

// ForceMaster makes this node's keepalived master whatever its peer says:
// restarted on a virtual router id its peer does not speak, it hears no
// master and takes the VIP (a VRRP partition, the real way to split
// brain). The next reconfigure undoes it.
func (h *Host) ForceMaster() error {
	b, err := h.ReadFile(ecmodel.KeepalivedConf)
	if err != nil {
		return err
	}
	conf := strings.Replace(string(b), "virtual_router_id 1\n", "virtual_router_id 2\n", 1)
	if err := h.WriteFile(ecmodel.KeepalivedConf, []byte(conf), 0o644); err != nil {
		return err
	}
	if out, code := h.Sv(context.Background(), "restart", "keepalived", 30*time.Second, true); code != 0 {
		return fmt.Errorf("restart keepalived: %s", strings.TrimSpace(out))
	}
	return nil
}

// HoldLock starts a process in the node that holds an exclusive flock of
// name, as a second partybus would.
func (h *Host) HoldLock(name string) error {
	if out, code := h.hostop(context.Background(), "spawn", "hold-lock", name); code != 0 {
		return errors.New(strings.TrimSpace(out))
	}
	// The holder locks once it runs: wait until partybus would see it.
	for range 100 {
		unlock, ok, err := h.TryLock(name)
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		unlock()
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("the lock holder of %s did not take it", name)
}

// TryLock is partybus's File.open(RDWR|CREAT) and flock(LOCK_EX|LOCK_NB).
func (h *Host) TryLock(name string) (func(), bool, error) {
	f, err := os.OpenFile(h.p(name), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, false, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, false, nil
		}
		return nil, false, err
	}
	return func() { f.Close() }, true, nil
}

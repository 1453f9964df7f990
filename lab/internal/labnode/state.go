package labnode

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/chefha/chefha/clustertest/ecnode"
	"github.com/chefha/chefha/lab/internal/svdir"
)

const (
	labDir     = "/var/opt/opscode/chefha-lab"
	svDir      = svdir.SvDir
	serviceDir = svdir.ServiceDir
	logDir     = svdir.LogDir
	manifest   = "/opt/opscode/version-manifest.txt"
	levelPath  = "/var/opt/opscode/upgrades/migration-level"
	kaDir      = svdir.KeepalivedDir
)

func readTrim(p string) string {
	b, _ := os.ReadFile(p)
	return strings.TrimSpace(string(b))
}

// role is bootstrap, backend or frontend.
func role() string { return readTrim(filepath.Join(labDir, "role")) }

func isBackend() bool { r := role(); return r == "bootstrap" || r == "backend" }

// running is the release the node's services are configured for.
func running() ecnode.Release { return ecnode.Releases()[readTrim(filepath.Join(labDir, "release"))] }

// installed is the package version the manifest names.
func installed() string {
	f := strings.Fields(readTrim(manifest))
	if len(f) < 2 {
		return ""
	}
	return f[1]
}

func hasBug(id string) bool {
	for _, l := range strings.Split(readTrim(filepath.Join(labDir, "bugs")), "\n") {
		if strings.TrimSpace(l) == id {
			return true
		}
	}
	return false
}

// services lists the node's services (the links in the service dir).
func services() []string {
	ents, _ := os.ReadDir(serviceDir)
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

// svwait is the wait sv gets: SVWAIT if exported, else EC 11.1.8's 30 s
// or runit's 7 s before it (OC-11657).
func svwait() string {
	if v := os.Getenv("SVWAIT"); v != "" {
		return v
	}
	if running().Version == "11.1.8" {
		return "30"
	}
	return "7"
}

// sv runs runit's sv with the wait, passing its output through.
func sv(verb string, names ...string) int {
	if len(names) == 0 {
		return 0
	}
	args := []string{"-w", svwait(), verb}
	for _, n := range names {
		args = append(args, filepath.Join(serviceDir, n))
	}
	cmd := exec.Command("sv", args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		return 1
	}
	return 0
}

// writeService makes (or rewrites) a service directory inside this node.
func writeService(name string, down bool) error { return svdir.Write("/", name, down, false) }

func setDown(name string, down bool) { svdir.SetDown("/", name, down) }

// haServices are the services keepalived's transitions start and stop.
func haServices() []string {
	var out []string
	for _, s := range services() {
		if s != "keepalived" && !ecnode.RemovedInEC11(s) {
			out = append(out, s)
		}
	}
	return out
}

func currentStatus() string { return readTrim(filepath.Join(kaDir, "current_cluster_status")) }

// jobs: an Upstart stand-in keeping each runsvdir's PID in a file.
func jobPIDFile(job string) string { return filepath.Join(labDir, "jobs", job+".pid") }

func jobPID(job string) int {
	pid, err := strconv.Atoi(readTrim(jobPIDFile(job)))
	if err != nil || pid <= 0 || syscall.Kill(pid, 0) != nil {
		return 0
	}
	return pid
}

// initctl status|start|stop JOB, printing as Upstart does.
func initctl(args []string) int {
	if len(args) != 2 || (args[1] != "opscode-runsvdir" && args[1] != "private-chef-runsvdir") {
		if len(args) == 2 {
			fmt.Fprintln(os.Stderr, "initctl: Unknown job: "+args[1])
			return 1
		}
		fmt.Fprintln(os.Stderr, "usage: initctl status|start|stop JOB")
		return 2
	}
	job := args[1]
	pid := jobPID(job)
	switch args[0] {
	case "status":
		if pid > 0 {
			fmt.Printf("%s start/running, process %d\n", job, pid)
		} else {
			fmt.Printf("%s stop/waiting\n", job)
		}
		return 0
	case "start":
		if pid > 0 {
			fmt.Fprintln(os.Stderr, "initctl: Job is already running: "+job)
			return 1
		}
		os.MkdirAll(filepath.Dir(jobPIDFile(job)), 0o755)
		// runsvdir-start passes a log: argument of dots, the window runsvdir
		// writes its children's complaints into.
		cmd := exec.Command("runsvdir", "-P", serviceDir, "log: "+strings.Repeat(".", 395))
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := cmd.Start(); err != nil {
			fmt.Fprintln(os.Stderr, "initctl:", err)
			return 1
		}
		pid := cmd.Process.Pid
		os.WriteFile(jobPIDFile(job), []byte(strconv.Itoa(pid)+"\n"), 0o644)
		cmd.Process.Release()
		fmt.Printf("%s start/running, process %d\n", job, pid)
		return 0
	case "stop":
		if pid == 0 {
			fmt.Fprintln(os.Stderr, "initctl: Unknown instance: ")
			return 1
		}
		// HUP: runsvdir TERMs every runsv it started, then exits. The job
		// is down once the runsv are gone too: a new runsvdir started
		// earlier would find their supervise locks held.
		syscall.Kill(pid, syscall.SIGHUP)
		for i := 0; i < 600 && (syscall.Kill(pid, 0) == nil || len(processes("runsv")) > 0); i++ {
			if i%50 == 49 {
				// A runsv started just before the HUP is not always told:
				// as the runbook says, make sure none is left.
				for _, p := range processes("runsv") {
					syscall.Kill(p, syscall.SIGTERM)
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
		os.Remove(jobPIDFile(job))
		fmt.Printf("%s stop/waiting\n", job)
		return 0
	}
	fmt.Fprintln(os.Stderr, "usage: initctl status|start|stop JOB")
	return 2
}

// service is a service's process: it says so in its log and waits for TERM
// (opscode-expander drains for 10 s under OC-11657).
func service(args []string) int {
	if len(args) != 1 {
		return 2
	}
	name := args[0]
	fmt.Printf("%s: started (pid %d)\n", name, os.Getpid())
	sigs := make(chan os.Signal, 1)
	signalNotify(sigs)
	<-sigs
	if name == "opscode-expander" && hasBug("OC-11657") {
		fmt.Printf("%s: draining the queue before exiting\n", name)
		time.Sleep(10 * time.Second)
	}
	fmt.Printf("%s: stopped\n", name)
	return 0
}

// processes lists the PIDs of this PID namespace's processes named comm.
func processes(comm string) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if readTrim("/proc/"+e.Name()+"/comm") == comm {
			out = append(out, pid)
		}
	}
	return out
}

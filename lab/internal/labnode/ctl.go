package labnode

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/chefha/chefha/clustertest/ecnode"
)

func signalNotify(c chan os.Signal) { signal.Notify(c, syscall.SIGTERM, syscall.SIGINT) }

// ctl is private-chef-ctl on the node's real runit.
func ctl(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: private-chef-ctl status|start|stop|restart|reconfigure|upgrade|cleanup|ha-status [SERVICE]")
		return 2
	}
	var names []string
	if len(args) > 1 {
		names = []string{args[1]}
		if _, err := os.Lstat(filepath.Join(serviceDir, args[1])); err != nil {
			fmt.Fprintf(os.Stderr, "%s: no such service\n", args[1])
			return 1
		}
	} else {
		names = services()
	}
	switch args[0] {
	case "status":
		return sv("status", names...)
	case "stop":
		return sv("stop", names...)
	case "start":
		if len(args) == 1 {
			// start-all leaves services with a down file (HA services on
			// a backup) alone.
			var up []string
			for _, n := range names {
				if _, err := os.Stat(filepath.Join(svDir, n, "down")); err != nil || n == "keepalived" {
					up = append(up, n)
				}
			}
			names = up
		}
		return sv("start", names...)
	case "restart":
		return sv("restart", names...)
	case "reconfigure":
		return reconfigure()
	case "upgrade":
		return upgrade()
	case "cleanup":
		return cleanup()
	case "ha-status":
		return haStatus()
	}
	fmt.Fprintf(os.Stderr, "private-chef-ctl: unknown command %s\n", args[0])
	return 2
}

// reconfigure converges the node on the installed package: its services,
// its runsvdir job (renamed from 1.x to EC 11, which restarts every
// service, keepalived included: OC-11669), log ownership (not on OC-11426).
func reconfigure() int {
	fmt.Println("Starting Chef Client, version 11.4.4")
	pkg := installed()
	rel, ok := ecnode.Releases()[pkg]
	if !ok {
		fmt.Fprintf(os.Stderr, "reconfigure: no release %q installed\n", pkg)
		return 1
	}
	old := running()
	standby := role() == "backend" && currentStatus() != "master"
	renamed := old.RunsvdirJob != rel.RunsvdirJob
	if renamed {
		// Stop the old tree before touching the service dir (so it starts
		// nothing new) and before the new one starts: two runsvdirs on one
		// service dir fight over supervise/lock. The restart takes
		// keepalived down and up (OC-11669).
		initctl([]string{"stop", old.RunsvdirJob})
	}
	for _, s := range rel.Services {
		down := isBackend() && standby && s != "keepalived"
		if err := writeService(s, down); err != nil {
			fmt.Fprintln(os.Stderr, "reconfigure:", err)
			return 1
		}
	}
	if strings.HasPrefix(rel.Version, "11.") {
		for _, s := range old.Services {
			if ecnode.RemovedInEC11(s) {
				setDown(s, true) // the new runsvdir leaves it down
				if !renamed {
					sv("stop", s)
				}
			}
		}
		if !hasBug("OC-11426") {
			exec.Command("chown", "-R", "opscode:opscode", logDir).Run()
		}
	}
	os.Chmod(logDir, 0o755)
	os.WriteFile(filepath.Join(labDir, "release"), []byte(rel.Version+"\n"), 0o644)
	if renamed {
		initctl([]string{"start", rel.RunsvdirJob})
	}
	// Like chef's runit_service resources, wait until every service is
	// supervised again before saying reconfigure is done.
	for _, s := range services() {
		ok := filepath.Join(svDir, s, "supervise", "ok")
		for i := 0; i < 300; i++ {
			if _, err := os.Stat(ok); err == nil && supervised(s) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	fmt.Println("Chef Client finished, 84 resources updated")
	fmt.Println("private-chef Reconfigured!")
	return 0
}

func readLevel() (ecnode.Level, bool) {
	var l struct{ Major, Minor *int }
	b, _ := os.ReadFile(levelPath)
	if json.Unmarshal(b, &l) != nil || l.Major == nil || l.Minor == nil {
		return ecnode.Level{}, false
	}
	return ecnode.Level{Major: *l.Major, Minor: *l.Minor}, true
}

// upgrade is reconfigure, then partybus's migrations, each level written.
func upgrade() int {
	if code := reconfigure(); code != 0 {
		return code
	}
	fmt.Println("Sleeping for 2 minutes before migration")
	from, ok := readLevel()
	if !ok {
		fmt.Println("[private-chef-upgrade] - migration-level unreadable: starting from 0.0")
	}
	for _, m := range ecnode.Migrations(from, running().Level) {
		if role() == "bootstrap" && currentStatus() != "master" {
			fmt.Print(ecnode.MustBeMaster)
			return 1
		}
		fmt.Println("[private-chef-upgrade] - Starting Migration " + m.String())
		fmt.Println("[private-chef-upgrade] - Finished Migration " + m.String() + " in 0.1 seconds")
		writeLevel(m)
	}
	writeLevel(running().Level)
	fmt.Println("Chef Server Upgraded!")
	return 0
}

func writeLevel(l ecnode.Level) {
	os.MkdirAll(filepath.Dir(levelPath), 0o755)
	tmp := levelPath + ".tmp"
	os.WriteFile(tmp, []byte(fmt.Sprintf(`{"major":%d,"minor":%d}`+"\n", l.Major, l.Minor)), 0o644)
	os.Rename(tmp, levelPath)
}

// cleanup removes what EC 11 no longer has.
func cleanup() int {
	if !strings.HasPrefix(running().Version, "11.") {
		fmt.Fprintln(os.Stderr, "cleanup: nothing to clean up before EC 11")
		return 1
	}
	for _, s := range services() {
		if ecnode.RemovedInEC11(s) {
			sv("stop", s)
			os.Remove(filepath.Join(serviceDir, s))
			os.RemoveAll(filepath.Join(svDir, s))
			fmt.Println("Removing " + s)
		}
	}
	if jobPID("opscode-runsvdir") > 0 && jobPID("private-chef-runsvdir") > 0 {
		initctl([]string{"stop", "opscode-runsvdir"})
	}
	return 0
}

// haStatus checks what EC 11.1.8's ha-status checks, on the real node.
func haStatus() int {
	if !isBackend() {
		fmt.Println("[ERROR] not a back end\n\n[ERROR] ERRORS WERE DETECTED.")
		return 1
	}
	code := 0
	cur, req := currentStatus(), readTrim(filepath.Join(kaDir, "requested_cluster_status"))
	if cur != req {
		fmt.Printf("[WARN] inconsistent cluster status, requested: %s, current: %s, failover running?\n", req, cur)
		code = 2
	} else {
		fmt.Printf("[OK] cluster status = %s\n", cur)
	}
	vip := readTrim(filepath.Join(labDir, "vip"))
	out, _ := exec.Command("ip", "-o", "-4", "addr", "show").Output()
	has := vip != "" && strings.Contains(string(out), " "+vip+"/")
	switch {
	case cur == "master" && has:
		fmt.Println("[OK] found VIP IP address and I am master")
	case (cur == "master") != has:
		fmt.Println("[ERROR] VIP and master status disagree")
		code = 3
	}
	if code == 0 {
		fmt.Println("\n[OK] all checks passed.")
	} else {
		fmt.Println("\n[ERROR] ERRORS WERE DETECTED.")
	}
	return code
}

// haHook is cluster.sh's service work: a master runs the HA services, a
// backup does not (a down file keeps them down across runsvdir restarts).
func haHook(args []string) int {
	if len(args) != 1 {
		return 2
	}
	master := args[0] == "master"
	for _, s := range haServices() {
		setDown(s, !master)
	}
	verb := "stop"
	if master {
		verb = "start"
	}
	// The hook runs under keepalived: give sv a bounded time, in the background
	// of the transition, as cluster.sh does with SVWAIT.
	done := make(chan int, 1)
	go func() { done <- sv(verb, haServices()...) }()
	select {
	case <-done:
	case <-time.After(40 * time.Second):
	}
	return 0
}

// install is dpkg -i / rpm -Uvh of a package file naming its version.
func install(tool string, args []string) int {
	if len(args) != 2 || (args[0] != "-i" && args[0] != "-Uvh") {
		fmt.Fprintf(os.Stderr, "%s: only -i/-Uvh FILE is available in the lab\n", tool)
		return 2
	}
	b, err := os.ReadFile(args[1])
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: error: cannot access archive '%s': No such file or directory\n", tool, args[1])
		return 2
	}
	f := strings.Fields(string(b))
	if len(f) < 2 || f[0] != "private-chef" {
		fmt.Fprintf(os.Stderr, "%s: %s is not a private-chef package\n", tool, args[1])
		return 2
	}
	if _, ok := ecnode.Releases()[f[1]]; !ok {
		fmt.Fprintf(os.Stderr, "%s: no release %s\n", tool, f[1])
		return 2
	}
	os.WriteFile(manifest, []byte("private-chef "+f[1]+"\n"), 0o644)
	fmt.Printf("Unpacking private-chef (%s-1) ...\nSetting up private-chef (%s-1) ...\nThank you for installing Chef Server!\n", f[1], f[1])
	return 0
}

// supervised reports whether runsv answers for a service (sv status works).
func supervised(name string) bool {
	return exec.Command("sv", "status", filepath.Join(serviceDir, name)).Run() == nil
}

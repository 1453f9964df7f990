package replica

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/chefha/chefha/internal/proc"
)

// ownerFile, in a replica's private directory, names the process that
// made it: "PID START" (START is the process's start time in clock ticks,
// /proc/PID/stat field 22, so that a reused PID is not taken for it).
const ownerFile = "owner"

// claim writes the owner file of dir for this process.
func claim(dir string) error {
	pid := os.Getpid()
	return os.WriteFile(filepath.Join(dir, ownerFile), []byte(fmt.Sprintf("%d %s\n", pid, proc.Start(pid))), 0o600)
}

// removeLeftovers removes the private directories under base of replicas
// whose process is gone: one killed (SIGKILL, a crash) never ran Close,
// and its directory holds a copy of production's /etc/opscode, keys and
// passwords included. A directory without an owner file is left alone:
// it is not known to be dead.
func removeLeftovers(base string) []string {
	dirs, _ := filepath.Glob(filepath.Join(base, "chefha-replica-*"))
	var removed []string
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, ownerFile))
		if err != nil {
			continue
		}
		f := strings.Fields(string(b))
		if len(f) != 2 {
			continue
		}
		pid, err := strconv.Atoi(f[0])
		if err != nil || pid <= 0 {
			continue
		}
		if start := proc.Start(pid); start != "" && start == f[1] {
			continue // its process still runs
		}
		if os.RemoveAll(d) == nil {
			removed = append(removed, d)
		}
	}
	return removed
}

// Package proc reads what Linux's /proc says about a process, for telling
// a live process from a dead one whose PID was reused.
package proc

import (
	"os"
	"strconv"
	"strings"
)

// Start is a process's start time in clock ticks since boot (/proc/PID/
// stat field 22), "" when no such process runs or /proc cannot tell. A
// PID with the start time recorded names one process for good.
func Start(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	s := string(b)
	// The command (field 2) is in parentheses and may hold blanks and ')'.
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		if f := strings.Fields(s[i+1:]); len(f) > 19 {
			return f[19]
		}
	}
	return ""
}

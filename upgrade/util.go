package upgrade

import (
	"fmt"
	"io/fs"
)

// fmtMode prints a file mode as chmod takes it, with the setuid, setgid and
// sticky bits: "1755", not the "0755" that hides what a check objected to.
func fmtMode(m fs.FileMode) string {
	v := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		v |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		v |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		v |= 0o1000
	}
	return fmt.Sprintf("%04o", v)
}

package cluster

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/chefha/chefha/internal/atomicfile"
)

// ModeError is a file or directory whose permissions open to other users
// what chefha keeps there: node data that may hold secrets, or the
// known_hosts that says which hosts are genuine.
type ModeError struct {
	What string      // "recording directory", "known_hosts file", …
	Path string      // the file or directory
	Mode fs.FileMode // its permissions now
	Why  string      // what the looser mode risks
	Fix  string      // the command that mends it
}

func (e *ModeError) Error() string {
	return fmt.Sprintf("%s %s has mode %04o: %s; fix: %s", e.What, e.Path, e.Mode.Perm(), e.Why, e.Fix)
}

// privateDir makes dir (and missing parents) 0700, or checks that an
// existing dir is closed to group and others.
func privateDir(dir, what string) error {
	st, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("%s %s is not a directory", what, dir)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return &ModeError{What: what, Path: dir, Mode: st.Mode(),
			Why: "it holds node data (command output, files, possibly secrets) that other users could read",
			Fix: "chmod 700 " + ShellQuote(dir)}
	}
	return nil
}

// privateFiles checks that the files directly in dir are closed to group
// and others.
func privateFiles(dir string, ents []fs.DirEntry, what string) error {
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		st, err := e.Info()
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if st.Mode().Perm()&0o077 != 0 {
			p := filepath.Join(dir, e.Name())
			return &ModeError{What: what, Path: p, Mode: st.Mode(),
				Why: "it holds node data that other users could read",
				Fix: "chmod 600 " + ShellQuote(dir) + "/*"}
		}
	}
	return nil
}

// writePrivate creates name 0600 (it must not exist yet) and writes data.
func writePrivate(name string, data []byte) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// WritePrivate replaces the file path with data, atomically, mode 0600: for
// what chefha writes that can hold node data or secrets (saved facts,
// journals, reports). A missing directory is made 0700; an existing file,
// or a directory others can write to, that is looser is refused with a
// *ModeError naming what it is (what: "journal", "facts file", …).
func WritePrivate(path, what string, data []byte) error {
	if err := CheckPrivate(path, what); err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("%s %s: %w", what, path, err)
	}
	if err := atomicfile.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("%s %s: %w", what, path, err)
	}
	return nil
}

// CheckPrivate refuses a file others can read or write, or a directory
// others can write to (unless it is sticky, like /tmp): what chefha keeps
// there could be read or replaced.
func CheckPrivate(path, what string) error {
	if st, err := os.Stat(path); err == nil {
		if st.Mode().Perm()&0o077 != 0 {
			return &ModeError{What: what, Path: path, Mode: st.Mode(),
				Why: "it holds node data that other users could read or change",
				Fix: "chmod 600 " + ShellQuote(path)}
		}
		if uid, other := otherOwner(st); other {
			return &ModeError{What: what, Path: path, Mode: st.Mode(),
				Why: fmt.Sprintf("it belongs to uid %d, who can read and change it whatever its mode", uid),
				Fix: "chown " + fmt.Sprint(os.Getuid()) + " " + ShellQuote(path) + ", or choose another path"}
		}
	}
	dir := filepath.Dir(path)
	if st, err := os.Stat(dir); err == nil {
		if st.Mode().Perm()&0o022 != 0 && st.Mode()&fs.ModeSticky == 0 {
			return &ModeError{What: what + " directory", Path: dir, Mode: st.Mode(),
				Why: "other users could replace the " + what + " in it",
				Fix: "chmod go-w " + ShellQuote(dir) + ", or choose another directory"}
		}
		if uid, other := otherOwner(st); other && st.Mode()&fs.ModeSticky == 0 {
			return &ModeError{What: what + " directory", Path: dir, Mode: st.Mode(),
				Why: fmt.Sprintf("it belongs to uid %d, who could replace the %s in it", uid, what),
				Fix: "choose a directory of your own"}
		}
	}
	return nil
}

// otherOwner reports a file owned by neither this user nor root: its
// owner can change its mode, and its content, whatever the mode says.
func otherOwner(st fs.FileInfo) (uint32, bool) {
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return sys.Uid, sys.Uid != uint32(os.Getuid()) && sys.Uid != 0
}

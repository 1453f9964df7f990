// Package atomicfile replaces files so that a reader, or a crash, sees the
// old contents or the new, never a part: temp file in the same directory,
// fsync, rename, fsync of the directory.
package atomicfile

import (
	"bytes"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// WriteFile replaces name with data, mode perm.
func WriteFile(name string, data []byte, perm fs.FileMode) error {
	return WriteFrom(name, bytes.NewReader(data), perm)
}

// WriteFrom replaces name with what r yields, mode perm.
func WriteFrom(name string, r io.Reader, perm fs.FileMode) error {
	dir := filepath.Dir(name)
	f, err := os.CreateTemp(dir, "."+filepath.Base(name)+".chefha-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			os.Remove(tmp)
		}
	}()
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, name); err != nil {
		return err
	}
	ok = true
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Package stockhome writes root's home directory as a freshly installed
// Debian machine has it, for the test machines chefha logs in to: a lab
// node, a test's OpenSSH sshd. Every SSH command starts the login shell,
// and bash reads ~/.bashrc even for `ssh host command`; the developer's
// own dotfiles (a pyenv init, say) would make each command slower and
// could hold all of them on a lock of the developer's machine.
package stockhome

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Skeleton is where Debian's base-files package keeps root's stock
// dotfiles (dot.bashrc, dot.profile), which its postinst copies to /root.
const Skeleton = "/usr/share/base-files"

// Files are the dotfiles written, each from Skeleton's "dot"+name.
var files = []string{".bashrc", ".profile"}

// Write makes dir (mode 0700) root's stock home: Debian's dotfiles from
// Skeleton, or empty ones where the machine has no base-files (a shell
// then reads nothing of the developer's either).
func Write(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("stock home %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("stock home %s: %w", dir, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(Skeleton, "dot"+f[1:]))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("stock home: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			return fmt.Errorf("stock home %s: %w", dir, err)
		}
	}
	return nil
}

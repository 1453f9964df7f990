package pkgfile

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
)

// Format is the kind of package file.
type Format string

// The formats Chef's omnibus builds shipped Enterprise Chef in.
const (
	Deb Format = "deb" // Debian and Ubuntu nodes
	RPM Format = "rpm" // RHEL and CentOS nodes
)

// Info is what a package file holds, as read from its own metadata.
type Info struct {
	Path   string // as given to Inspect; empty from Read
	Format Format

	Name string
	// Version is the upstream version (deb: the part of the version field
	// before the last '-', epoch removed; rpm: the VERSION tag).
	Version string
	// Release is the Debian revision or the rpm RELEASE tag ("1" for
	// omnibus debs, "1.el6" style for omnibus rpms); empty when a deb has
	// no revision.
	Release string
	// Epoch is the deb epoch or the rpm EPOCH tag; empty when there is none.
	Epoch string
	// RawVersion is the version as the package manager shows it:
	// the deb Version field verbatim, or [EPOCH:]VERSION-RELEASE for rpm.
	RawVersion string
	Arch       string

	Size   int64
	SHA256 string // hex digest of the whole file
}

// FormatError says a file is not a package of the wanted format: not a
// package at all, or a .rpm given for a Debian node and the like.
type FormatError struct {
	Path string
	Want Format // empty: any package format
	Got  string // what the file is instead: "rpm", "empty file", "gzip data", …
}

func (e *FormatError) Error() string {
	want := "a .deb or .rpm package"
	if e.Want != "" {
		want = "a ." + string(e.Want) + " package"
	}
	return fmt.Sprintf("%s is %s, not %s: give the package file built for the node's platform", name(e.Path), e.Got, want)
}

// CorruptError says a file has a package's signature but its metadata is
// damaged, truncated or beyond this reader's limits.
type CorruptError struct {
	Path   string
	Format Format
	Reason string
	Err    error // underlying cause, when there is one
}

func (e *CorruptError) Error() string {
	msg := fmt.Sprintf("%s: damaged .%s package: %s", name(e.Path), e.Format, e.Reason)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg + " (download or copy it again)"
}

func (e *CorruptError) Unwrap() error { return e.Err }

// MismatchError says a package is real but not the one wanted for a hop.
type MismatchError struct {
	Path        string
	HasName     string
	HasVersion  string // RawVersion of the file
	WantName    string
	WantVersion string
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("%s holds %s %s, not %s %s: give the package for that hop",
		name(e.Path), e.HasName, e.HasVersion, e.WantName, e.WantVersion)
}

func name(path string) string {
	if path == "" {
		return "package file"
	}
	return path
}

// Matches reports whether i is package name at version, or returns a
// *MismatchError. version matches the upstream version alone ("11.1.8"),
// version and release ("11.1.8-1") or the raw version, epoch included.
func (i Info) Matches(name, version string) error {
	if i.Name == name && version != "" {
		if version == i.Version || version == i.RawVersion || i.Release != "" && version == i.Version+"-"+i.Release {
			return nil
		}
	}
	return &MismatchError{Path: i.Path, HasName: i.Name, HasVersion: i.RawVersion, WantName: name, WantVersion: version}
}

// CheckFormat returns a *FormatError unless i is of format want.
func (i Info) CheckFormat(want Format) error {
	if i.Format == want {
		return nil
	}
	return &FormatError{Path: i.Path, Want: want, Got: "a ." + string(i.Format) + " package"}
}

// Inspect reads the package file at path. A missing or unreadable file
// gives the *os.PathError (errors.Is fs.ErrNotExist, fs.ErrPermission);
// anything that is not a sound package gives *FormatError or *CorruptError.
func Inspect(path string) (Info, error) {
	f, err := os.Open(path)
	if err != nil {
		return Info{}, fmt.Errorf("package file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Info{}, fmt.Errorf("package file: %w", err)
	}
	if !st.Mode().IsRegular() {
		got := "not a regular file"
		if st.IsDir() {
			got = "a directory"
		}
		return Info{}, &FormatError{Path: path, Got: got}
	}
	return read(path, f, st.Size())
}

// Read reads a package of size bytes from r.
func Read(r io.ReaderAt, size int64) (Info, error) {
	return read("", r, size)
}

var (
	debMagic = []byte("!<arch>\n")
	rpmMagic = []byte{0xed, 0xab, 0xee, 0xdb}
)

func read(path string, r io.ReaderAt, size int64) (Info, error) {
	if size < 0 {
		return Info{}, fmt.Errorf("read %s: negative size %d", name(path), size)
	}
	head := make([]byte, min(size, 8))
	n, err := r.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return Info{}, fmt.Errorf("read %s: %w", name(path), err)
	}
	head = head[:n]
	var info Info
	var check *rpmCheck
	switch {
	case bytes.HasPrefix(head, debMagic):
		info, err = readDeb(r, size)
	case bytes.HasPrefix(head, rpmMagic):
		info, check, err = readRPM(r, size)
	default:
		return Info{}, &FormatError{Path: path, Got: sniff(head)}
	}
	if err != nil {
		return Info{}, withPath(err, path)
	}
	info.Path = path
	info.Size = size
	if info.SHA256, err = digest(r, size, check); err != nil {
		return Info{}, withPath(err, path)
	}
	return info, nil
}

// withPath puts path into the typed errors the format readers return.
func withPath(err error, path string) error {
	var fe *FormatError
	if errors.As(err, &fe) {
		fe.Path = path
	}
	var ce *CorruptError
	if errors.As(err, &ce) {
		ce.Path = path
	}
	if fe == nil && ce == nil {
		return fmt.Errorf("read %s: %w", name(path), err)
	}
	return err
}

// rpmCheck asks digest to verify the MD5 the rpm signature holds over
// header and payload, in the same pass as the SHA-256 of the file.
type rpmCheck struct {
	from int64 // offset of the main header
	md5  []byte
}

func digest(r io.ReaderAt, size int64, check *rpmCheck) (string, error) {
	buf := make([]byte, max(1, min(size, 128<<10)))
	sum := sha256.New()
	from := size
	if check != nil {
		from = check.from
	}
	if err := copyN(sum, r, 0, from, buf); err != nil {
		return "", err
	}
	if check != nil {
		m := md5.New()
		if err := copyN(io.MultiWriter(sum, m), r, from, size-from, buf); err != nil {
			return "", err
		}
		if !bytes.Equal(m.Sum(nil), check.md5) {
			return "", &CorruptError{Format: RPM, Reason: "the MD5 digest of header and payload does not match the one in its signature"}
		}
	}
	return hex.EncodeToString(sum.Sum(nil)), nil
}

// copyN copies n bytes at off to w; fewer means the file shrank under us.
func copyN(w io.Writer, r io.ReaderAt, off, n int64, buf []byte) error {
	got, err := io.CopyBuffer(w, io.NewSectionReader(r, off, n), buf)
	if err != nil {
		return err
	}
	if got != n {
		return fmt.Errorf("read %d bytes at offset %d, want %d: %w", got, off, n, io.ErrUnexpectedEOF)
	}
	return nil
}

// sniff names what a file that is no package looks like, for the error.
func sniff(head []byte) string {
	switch {
	case len(head) == 0:
		return "an empty file"
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return "gzip data"
	case bytes.HasPrefix(head, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		return "xz data"
	case bytes.HasPrefix(head, []byte("0.939000")):
		return "an old-style (0.939) Debian package"
	case bytes.HasPrefix(head, []byte("<")):
		return "an HTML or XML document (a download error page?)"
	case bytes.HasPrefix(head, []byte("PK\x03\x04")):
		return "a zip archive"
	}
	for _, c := range head {
		if c < 0x20 && c != '\n' && c != '\r' && c != '\t' {
			return "an unknown binary file"
		}
	}
	return "a text file"
}

package pkgfile

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// Limits on what a .deb may make this reader decompress or hold.
const (
	maxControlTar  = 64 << 20 // decompressed control.tar (md5sums of ~30k files is ~3 MiB)
	maxControlFile = 1 << 20  // the control file itself
	maxZstdWindow  = 64 << 20
)

func debCorrupt(reason string, err error) error {
	return &CorruptError{Format: Deb, Reason: reason, Err: err}
}

// readDeb reads the metadata of a binary .deb (deb(5)): debian-binary,
// then control.tar[.gz|.xz|.zst], then data.tar.*, members named '_…'
// skipped between them as dpkg does.
func readDeb(r io.ReaderAt, size int64) (Info, error) {
	ar := newArReader(r, size)
	m, err := ar.next()
	if errors.Is(err, io.EOF) {
		return Info{}, debCorrupt("the ar archive ends before debian-binary", nil)
	}
	if err != nil {
		return Info{}, debCorrupt("reading the ar archive", err)
	}
	if m.name != "debian-binary" {
		return Info{}, &FormatError{Want: Deb, Got: fmt.Sprintf("an ar archive whose first member is %q, not debian-binary", m.name)}
	}
	if err := checkDebianBinary(r, m); err != nil {
		return Info{}, err
	}
	ctl, err := nextMember(ar)
	if err != nil {
		return Info{}, err
	}
	if !strings.HasPrefix(ctl.name, "control.tar") {
		return Info{}, debCorrupt(fmt.Sprintf("member %q where control.tar belongs", ctl.name), nil)
	}
	data, err := nextMember(ar)
	if err != nil {
		return Info{}, err
	}
	if !strings.HasPrefix(data.name, "data.tar") {
		return Info{}, debCorrupt(fmt.Sprintf("member %q where data.tar belongs", data.name), nil)
	}
	text, err := controlFile(io.NewSectionReader(r, ctl.off, ctl.size), ctl.name, maxControlTar)
	if err != nil {
		return Info{}, err
	}
	return debInfo(text)
}

func checkDebianBinary(r io.ReaderAt, m arMember) error {
	if m.size > 64 {
		return debCorrupt(fmt.Sprintf("debian-binary is %d bytes", m.size), nil)
	}
	b := make([]byte, m.size)
	if _, err := r.ReadAt(b, m.off); err != nil {
		return debCorrupt("reading debian-binary", err)
	}
	// dpkg-deb reads "MAJOR.MINOR\n" and accepts major 2 only.
	line, _, ok := strings.Cut(string(b), "\n")
	major, minor, dot := strings.Cut(line, ".")
	if !ok || !dot || major != "2" || minor == "" || strings.Trim(minor, "0123456789") != "" {
		return debCorrupt(fmt.Sprintf("debian-binary says %q; dpkg reads format 2.x", string(b)), nil)
	}
	return nil
}

// nextMember returns the next member that is not one of the '_'-named
// ones dpkg ignores.
func nextMember(ar *arReader) (arMember, error) {
	for {
		m, err := ar.next()
		if errors.Is(err, io.EOF) {
			return arMember{}, debCorrupt("the ar archive ends before control.tar and data.tar", nil)
		}
		if err != nil {
			return arMember{}, debCorrupt("reading the ar archive", err)
		}
		if !strings.HasPrefix(m.name, "_") {
			return m, nil
		}
	}
}

// controlFile decompresses the control member, at most limit bytes of
// it, and returns ./control.
func controlFile(sr *io.SectionReader, member string, limit int64) ([]byte, error) {
	var z io.Reader
	switch member {
	case "control.tar":
		z = sr
	case "control.tar.gz":
		g, err := gzip.NewReader(sr)
		if err != nil {
			return nil, debCorrupt(member, err)
		}
		z = g
	case "control.tar.xz":
		if err := checkXZDict(sr); err != nil {
			return nil, debCorrupt(member, err)
		}
		// The smallest DictCap: the decoder then allocates what the
		// stream's own header asks for, which checkXZDict bounded.
		x, err := xz.ReaderConfig{DictCap: 4096, SingleStream: true}.NewReader(sr)
		if err != nil {
			return nil, debCorrupt(member, err)
		}
		z = x
	case "control.tar.zst":
		d, err := zstd.NewReader(sr, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(maxZstdWindow), zstd.WithDecoderMaxMemory(uint64(limit)))
		if err != nil {
			return nil, debCorrupt(member, err)
		}
		defer d.Close()
		z = d
	default:
		return nil, debCorrupt(fmt.Sprintf("%s is compressed in a way dpkg does not accept for control data (it takes none, .gz, .xz or .zst)", member), nil)
	}
	tr := tar.NewReader(&capReader{r: z, left: limit, limit: limit})
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, debCorrupt(member+" holds no ./control file", nil)
		}
		if err != nil {
			return nil, debCorrupt(member, err)
		}
		if h.Name != "./control" && h.Name != "control" {
			continue
		}
		if h.Typeflag != tar.TypeReg {
			return nil, debCorrupt(fmt.Sprintf("./control in %s is not a regular file", member), nil)
		}
		if h.Size > maxControlFile {
			return nil, debCorrupt(fmt.Sprintf("./control in %s is %d bytes, over the %d this reader allows", member, h.Size, maxControlFile), nil)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, debCorrupt("./control in "+member, err)
		}
		return b, nil
	}
}

// capReader fails, rather than truncating, once more than left bytes
// are read: a decompression bomb is an error, not a short file.
type capReader struct {
	r           io.Reader
	left, limit int64
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, fmt.Errorf("holds more than %d KiB of control data", c.limit>>10)
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

func debInfo(text []byte) (Info, error) {
	f, err := parseControl(text)
	if err != nil {
		return Info{}, debCorrupt("./control", err)
	}
	info := Info{Format: Deb, Name: f["package"], RawVersion: f["version"], Arch: f["architecture"]}
	for _, need := range []struct{ field, value string }{
		{"Package", info.Name}, {"Version", info.RawVersion}, {"Architecture", info.Arch},
	} {
		if need.value == "" {
			return Info{}, debCorrupt("./control has no "+need.field+" field", nil)
		}
	}
	if !validDebName(info.Name) {
		return Info{}, debCorrupt(fmt.Sprintf("./control names an invalid package %q", info.Name), nil)
	}
	if !validDebArch(info.Arch) {
		return Info{}, debCorrupt(fmt.Sprintf("./control names an invalid architecture %q", info.Arch), nil)
	}
	if info.Epoch, info.Version, info.Release, err = splitDebVersion(info.RawVersion); err != nil {
		return Info{}, debCorrupt("./control", err)
	}
	return info, nil
}

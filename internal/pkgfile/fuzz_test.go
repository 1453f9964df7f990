package pkgfile

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ulikunitz/xz"
)

// maxSeed leaves out the big inputs (rpmbuild's 4 KiB of reserved
// signature space, dpkg-deb's uncompressed tar blocks, WriteRPM's file
// lists): the fuzzer minimizes each new input in time quadratic in its
// size, and with large seeds spends its whole run doing that.
const maxSeed = 1024

// seed adds the small fixtures of format f, what the writer makes and a
// minimal package with only the fields the reader needs.
func seed(f *testing.F, format Format) {
	var all [][]byte
	for _, fx := range fixtures {
		if fx.want.Format == format {
			b, err := os.ReadFile(filepath.Join("testdata", fx.file))
			if err != nil {
				f.Fatal(err)
			}
			all = append(all, b)
		}
	}
	for _, c := range writeCases {
		var buf bytes.Buffer
		write := WriteDeb
		if format == RPM {
			if c.meta.Release == "" {
				continue
			}
			write = WriteRPM
		}
		if err := write(&buf, c.meta); err != nil {
			f.Fatal(err)
		}
		all = append(all, buf.Bytes())
	}
	if format == Deb {
		all = append(all, debWithControl(f, goodControl))
		var plain bytes.Buffer
		tw := tar.NewWriter(&plain)
		if err := tarFile(tw, "./control", []byte(goodControl)); err != nil || tw.Close() != nil {
			f.Fatal(err)
		}
		all = append(all,
			arBytes(f, debBinary, member{"control.tar", plain.Bytes()}, dataTar),
			arBytes(f, debBinary, member{"control.tar.xz", xzBytes(f, plain.Bytes())}, dataTar),
			arBytes(f, debBinary, member{"control.tar.zst", zstdBytes(f, plain.Bytes())}, dataTar))
	} else {
		all = append(all, minimalRPM(f))
	}
	for _, b := range all {
		if len(b) <= maxSeed {
			f.Add(b)
		}
	}
}

// xzBytes compresses b with a 4 KiB dictionary, so that decoding it
// allocates little.
func xzBytes(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	w, err := xz.WriterConfig{DictCap: 4096}.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// minimalRPM has a main header with NAME, VERSION, RELEASE, ARCH and
// SOURCERPM only, and a one-byte payload.
func minimalRPM(t testing.TB) []byte {
	var h hdrBuilder
	h.strings(tagName, rpmString, "private-chef")
	h.strings(tagVersion, rpmString, "11.1.8")
	h.strings(tagRelease, rpmString, "1")
	h.strings(tagArch, rpmString, "noarch")
	h.strings(tagSourceRPM, rpmString, "p.src.rpm")
	var buf bytes.Buffer
	if err := writeRPM(&buf, rpmLead("private-chef-11.1.8-1"), &h, []byte{0}, 0); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// checkFuzz: Read never panics, fails only with a typed error, and on
// success returns what a package manager would accept. format is the one
// the seeds have; a mutation may of course hit the other magic.
func checkFuzz(t *testing.T, b []byte, format Format) {
	info, err := Read(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		var fe *FormatError
		var ce *CorruptError
		if !errors.As(err, &fe) && !errors.As(err, &ce) {
			t.Fatalf("untyped error %T: %v", err, err)
		}
		return
	}
	if bytes.HasPrefix(b, rpmMagic) {
		format = RPM
	}
	if info.Format != format || info.Size != int64(len(b)) || len(info.SHA256) != 64 {
		t.Fatalf("bad info %+v for %d bytes", info, len(b))
	}
	for _, s := range []string{info.Name, info.Version, info.RawVersion, info.Arch} {
		if s == "" || strings.ContainsAny(s, " \t\n\x00") {
			t.Fatalf("bad field %q in %+v", s, info)
		}
	}
	if strings.Contains(info.Release, "-") {
		t.Fatalf("release %q holds '-'", info.Release)
	}
	if err := info.Matches(info.Name, info.RawVersion); err != nil {
		t.Fatalf("does not match itself: %v", err)
	}
}

func FuzzReadDeb(f *testing.F) {
	seed(f, Deb)
	f.Fuzz(func(t *testing.T, b []byte) { checkFuzz(t, b, Deb) })
}

func FuzzReadRPM(f *testing.F) {
	seed(f, RPM)
	f.Fuzz(func(t *testing.T, b []byte) { checkFuzz(t, b, RPM) })
}

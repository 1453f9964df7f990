package pkgfile

import (
	"archive/tar"
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/chefha/chefha/internal/peer"
	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// member is one ar member of a hand-made .deb.
type member struct {
	name string
	data []byte
}

func arBytes(t testing.TB, members ...member) []byte {
	t.Helper()
	var buf bytes.Buffer
	a := newArWriter(&buf)
	for _, m := range members {
		a.add(m.name, m.data)
	}
	require.NoError(t, a.err)
	return buf.Bytes()
}

func controlTar(t testing.TB, fill func(*tar.Writer) error) []byte {
	t.Helper()
	b, err := tarGz(fill)
	require.NoError(t, err)
	return b
}

func controlWith(t testing.TB, text string) []byte {
	return controlTar(t, func(tw *tar.Writer) error { return tarFile(tw, "./control", []byte(text)) })
}

const goodControl = "Package: private-chef\nVersion: 11.1.8-1\nArchitecture: amd64\n"

var (
	debBinary = member{"debian-binary", []byte("2.0\n")}
	dataTar   = member{"data.tar.gz", []byte("not read")}
)

func debWithControl(t testing.TB, text string) []byte {
	return arBytes(t, debBinary, member{"control.tar.gz", controlWith(t, text)}, dataTar)
}

// debMember returns the data of the named member of a .deb.
func debMember(t *testing.T, deb []byte, name string) []byte {
	t.Helper()
	ar := newArReader(bytes.NewReader(deb), int64(len(deb)))
	for m, err := ar.next(); err == nil; m, err = ar.next() {
		if m.name == name {
			return deb[m.off : m.off+m.size]
		}
	}
	t.Fatalf("no member %s", name)
	return nil
}

func fixtureBytes(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

func readBytes(b []byte) (Info, error) { return Read(bytes.NewReader(b), int64(len(b))) }

// wantCorrupt checks err is a *CorruptError of format f saying want.
func wantCorrupt(t *testing.T, err error, f Format, want string) {
	t.Helper()
	var ce *CorruptError
	if assert.True(t, errors.As(err, &ce), "want *CorruptError, got %T %v", err, err) {
		assert.Equal(t, f, ce.Format)
		assert.Contains(t, ce.Error(), want)
	}
}

func TestDebHostile(t *testing.T) {
	good := debWithControl(t, goodControl)
	_, err := readBytes(good)
	require.NoError(t, err)
	ctlOff := 8 + 60 + 4 // after the magic and debian-binary
	patch := func(off int, s string) []byte {
		b := bytes.Clone(good)
		copy(b[off:], s)
		return b
	}
	xzDeb := fixtureBytes(t, "private-chef_1.4.6-1_amd64.xz.deb")
	zstDeb := fixtureBytes(t, "private-chef_11.1.6-1_amd64.zst.deb")

	cases := []struct {
		name string
		deb  []byte
		want string
	}{
		{"magic only", []byte("!<arch>\n"), "ends before"},
		{"member size past the end", patch(ctlOff+48, "9999999999"), "claims 9999999999 bytes"},
		{"member size not decimal", patch(ctlOff+48, "12a       "), "not a decimal"},
		{"member end marker", patch(ctlOff+58, "xx"), "end marker"},
		{"debian-binary 3.0", arBytes(t, member{"debian-binary", []byte("3.0\n")}, member{"control.tar.gz", controlWith(t, goodControl)}, dataTar), "format 2.x"},
		{"debian-binary no newline", arBytes(t, member{"debian-binary", []byte("2.0")}, member{"control.tar.gz", controlWith(t, goodControl)}, dataTar), "format 2.x"},
		{"debian-binary huge", arBytes(t, member{"debian-binary", bytes.Repeat([]byte("2"), 100)}, dataTar, dataTar), "debian-binary is 100 bytes"},
		{"bzip2 control", arBytes(t, debBinary, member{"control.tar.bz2", []byte("BZh9")}, dataTar), "none, .gz, .xz or .zst"},
		{"data before control", arBytes(t, debBinary, dataTar, member{"control.tar.gz", controlWith(t, goodControl)}), "where control.tar belongs"},
		{"no data member", arBytes(t, debBinary, member{"control.tar.gz", controlWith(t, goodControl)}), "ends before control.tar and data.tar"},
		{"control not gzip", arBytes(t, debBinary, member{"control.tar.gz", []byte("plain text")}, dataTar), "control.tar.gz"},
		{"no ./control", arBytes(t, debBinary, member{"control.tar.gz", controlTar(t, func(tw *tar.Writer) error {
			return tarFile(tw, "./md5sums", []byte("x"))
		})}, dataTar), "holds no ./control"},
		{"./control a symlink", arBytes(t, debBinary, member{"control.tar.gz", controlTar(t, func(tw *tar.Writer) error {
			return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "./control", Linkname: "/etc/passwd"})
		})}, dataTar), "not a regular file"},
		{"./control too big", arBytes(t, debBinary, member{"control.tar.gz", controlWith(t, strings.Repeat("X-Pad: y\n", 120000))}, dataTar), "over the"},
		{"xz dictionary 4 GiB", withXZDict(t, xzDeb, 40), "LZMA2 dictionary of 4095 MiB"},
		{"xz trailing garbage", replaceMember(t, xzDeb, "control.tar.xz", append(bytes.Clone(debMember(t, xzDeb, "control.tar.xz")), "junk"...)), "footer magic"},
		{"zstd window 2 TiB", replaceMember(t, zstDeb, "control.tar.zst", []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 0xf8, 1, 0, 0, 0}), "control.tar.zst"},
		{"no Version", debWithControl(t, "Package: private-chef\nArchitecture: amd64\n"), "no Version field"},
		{"no Architecture", debWithControl(t, "Package: private-chef\nVersion: 1\n"), "no Architecture field"},
		{"empty control", debWithControl(t, "\n\n"), "no fields"},
		{"field twice", debWithControl(t, goodControl+"Package: chef-server-core\n"), "given twice"},
		{"second paragraph", debWithControl(t, goodControl+"\nPackage: other\n"), "second paragraph"},
		{"continuation first", debWithControl(t, " Package: private-chef\n"), "continuation line before any field"},
		{"not a field line", debWithControl(t, goodControl+"garbage\n"), "not a \"Field: value\" line"},
		{"bad package name", debWithControl(t, "Package: private chef\nVersion: 1\nArchitecture: all\n"), "invalid package"},
		{"bad arch", debWithControl(t, "Package: p\nVersion: 1\nArchitecture: x86_64\n"), "invalid architecture"},
		{"space in version", debWithControl(t, "Package: p\nVersion: 11.1.8 1\nArchitecture: all\n"), "not a Debian version"},
		{"bad epoch", debWithControl(t, "Package: p\nVersion: x:11.1.8\nArchitecture: all\n"), "bad epoch"},
		{"empty revision", debWithControl(t, "Package: p\nVersion: 11.1.8-\nArchitecture: all\n"), "bad revision"},
		{"empty upstream", debWithControl(t, "Package: p\nVersion: -1\nArchitecture: all\n"), "not a Debian version"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := readBytes(c.deb)
			wantCorrupt(t, err, Deb, c.want)
		})
	}
}

// withXZDict sets the LZMA2 dictionary code of the first block of the
// control.tar.xz in deb and fixes the block header's CRC32, so that only
// the size is wrong.
func withXZDict(t *testing.T, deb []byte, code byte) []byte {
	t.Helper()
	x := bytes.Clone(debMember(t, deb, "control.tar.xz"))
	hs := (int(x[12]) + 1) * 4
	h := x[12 : 12+hs]
	require.Equal(t, byte(0), h[1]&3, "dpkg-deb writes one filter")
	r := bytes.NewReader(h[2:])
	for _, bit := range []byte{0x40, 0x80} { // compressed, uncompressed size
		if h[1]&bit != 0 {
			_, err := xzVarint(r)
			require.NoError(t, err)
		}
	}
	at := len(h) - r.Len()
	require.Equal(t, []byte{0x21, 0x01}, h[at:at+2], "LZMA2 filter")
	h[at+2] = code
	binary.LittleEndian.PutUint32(h[hs-4:], crc32.ChecksumIEEE(h[:hs-4]))
	return replaceMember(t, deb, "control.tar.xz", x)
}

func replaceMember(t *testing.T, deb []byte, name string, data []byte) []byte {
	t.Helper()
	ar := newArReader(bytes.NewReader(deb), int64(len(deb)))
	var ms []member
	for m, err := ar.next(); err == nil; m, err = ar.next() {
		d := deb[m.off : m.off+m.size]
		if m.name == name {
			d = data
		}
		ms = append(ms, member{m.name, d})
	}
	return arBytes(t, ms...)
}

// TestDebBomb: a control member that inflates past the limit is refused
// without being inflated whole. readDeb's limit is maxControlTar (64 MiB);
// the test uses 1 MiB to stay fast under -race.
func TestDebBomb(t *testing.T) {
	const limit = 1 << 20
	tarBomb := func(tw *tar.Writer) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "./padding", Mode: 0o644, Size: limit + 1}); err != nil {
			return err
		}
		if _, err := io.CopyN(tw, zeros{}, limit+1); err != nil {
			return err
		}
		return tarFile(tw, "./control", []byte(goodControl))
	}
	gz := controlTar(t, tarBomb)
	var plain bytes.Buffer
	tw := tar.NewWriter(&plain)
	require.NoError(t, tarBomb(tw))
	require.NoError(t, tw.Close())
	zst := zstdBytes(t, plain.Bytes())
	cases := []struct {
		member string
		data   []byte
		want   string
	}{
		{"control.tar.gz", gz, "holds more than 1024 KiB of control data"},
		{"control.tar", plain.Bytes(), "holds more than 1024 KiB of control data"},
		// zstd's decoder stops at the frame's declared size first.
		{"control.tar.zst", zst, "decompressed size exceeds configured limit"},
	}
	for _, c := range cases {
		member, data := c.member, c.data
		t.Run(member, func(t *testing.T) {
			_, err := controlFile(io.NewSectionReader(bytes.NewReader(data), 0, int64(len(data))), member, limit)
			wantCorrupt(t, err, Deb, c.want)
			text, err := controlFile(io.NewSectionReader(bytes.NewReader(data), 0, int64(len(data))), member, 2*limit)
			require.NoError(t, err)
			assert.Equal(t, goodControl, string(text))
		})
	}
}

func zstdBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	enc, err := zstd.NewWriter(nil)
	require.NoError(t, err)
	defer enc.Close()
	return enc.EncodeAll(b, nil)
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// TestDebNameForms: dpkg-deb writes plain space-padded names; GNU ar ends
// them with '/', BSD ar puts long names in the data ("#1/LEN"); '_'
// members are skipped.
func TestDebNameForms(t *testing.T) {
	good := debWithControl(t, goodControl)
	gnu := bytes.Clone(good)
	for _, name := range []string{"debian-binary", "control.tar.gz", "data.tar.gz"} {
		i := bytes.Index(gnu, []byte(name+" "))
		require.GreaterOrEqual(t, i, 0)
		gnu[i+len(name)] = '/'
	}
	bsd := bsdAr(t, debBinary, member{"control.tar.gz", controlWith(t, goodControl)}, dataTar)
	extra := arBytes(t, debBinary, member{"_gpgorigin", []byte("sig")}, member{"control.tar.gz", controlWith(t, goodControl)}, member{"_x", nil}, dataTar)
	for name, deb := range map[string][]byte{"gnu": gnu, "bsd": bsd, "underscore members": extra} {
		t.Run(name, func(t *testing.T) {
			info, err := readBytes(deb)
			require.NoError(t, err)
			assert.Equal(t, "private-chef", info.Name)
			assert.Equal(t, "11.1.8-1", info.RawVersion)
		})
	}
}

// bsdAr writes members with BSD long names: "#1/LEN" and the name first
// in the data.
func bsdAr(t *testing.T, members ...member) []byte {
	var buf bytes.Buffer
	buf.WriteString("!<arch>\n")
	for _, m := range members {
		data := append([]byte(m.name), m.data...)
		buf.WriteString(padRight("#1/"+strconv.Itoa(len(m.name)), 16) + padRight("0", 12) + padRight("0", 6) + padRight("0", 6) +
			padRight("100644", 8) + padRight(strconv.Itoa(len(data)), 10) + "`\n")
		buf.Write(data)
		if len(data)%2 == 1 {
			buf.WriteByte('\n')
		}
	}
	return buf.Bytes()
}

func padRight(s string, n int) string { return s + strings.Repeat(" ", n-len(s)) }

// rpmWith builds an rpm from a main header edited by edit.
func rpmWith(t *testing.T, edit func(h *hdrBuilder)) []byte {
	t.Helper()
	m := Meta{Name: "private-chef", Version: "11.1.8", Release: "1", Arch: "x86_64"}
	payload := []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	h := rpmMainHeader(m, nil, payload)
	edit(&h)
	var buf bytes.Buffer
	require.NoError(t, writeRPM(&buf, rpmLead("private-chef-11.1.8-1"), &h, payload, 0))
	return buf.Bytes()
}

func (h *hdrBuilder) remove(tag uint32) {
	var keep []hdrEntry
	for _, e := range h.entries {
		if e.tag != tag {
			keep = append(keep, e)
		}
	}
	h.entries = keep
}

func (h *hdrBuilder) replace(tag, typ, count uint32, data []byte) {
	h.remove(tag)
	h.add(tag, typ, count, data)
}

func TestRPMHostile(t *testing.T) {
	good := rpmWith(t, func(*hdrBuilder) {})
	info, err := readBytes(good)
	require.NoError(t, err)
	require.Equal(t, "x86_64", info.Arch)
	patch := func(off int, b ...byte) []byte {
		p := bytes.Clone(good)
		copy(p[off:], b)
		return p
	}
	sigIL := rpmLeadSize + 8
	mainOff := rpmLeadSize + int(((16+6*16+binary.BigEndian.Uint32(good[sigIL+4:]))+7)&^7)
	require.Equal(t, rpmHeaderMagic, good[mainOff:mainOff+4])

	corrupt := []struct {
		name string
		rpm  []byte
		want string
	}{
		{"lead only", good[:rpmLeadSize], "ends inside the header"},
		{"lead version 2", patch(4, 2), "lead format version 2"},
		{"lead type 7", patch(6, 0, 7), "neither binary nor source"},
		{"lead signature type 4", patch(78, 0, 4), "not a header signature"},
		{"signature magic", patch(rpmLeadSize, 0), "no header magic"},
		{"signature 2^31 entries", patch(sigIL, 0x7f, 0xff, 0xff, 0xff), "exceed rpm's limits"},
		{"signature zero entries", patch(sigIL, 0, 0, 0, 0), "exceed rpm's limits"},
		{"main 4 GiB data", patch(mainOff+12, 0xff, 0xff, 0xff, 0xff), "exceed rpm's limits"},
		{"main data past the end", patch(mainOff+12, 0x0f, 0, 0, 0), "run past the end"},
		{"one byte more", append(bytes.Clone(good), 0), "the signature says header and payload are"},
		{"payload changed", patch(len(good)-1, good[len(good)-1]^1), "MD5 digest"},
		{"NAME an integer", rpmWith(t, func(h *hdrBuilder) { h.replace(tagName, rpmInt32, 1, []byte{0, 0, 0, 1}) }), "want a string"},
		{"NAME twice", rpmWith(t, func(h *hdrBuilder) { h.strings(tagName, rpmString, "chef-server-core") }), "given twice"},
		{"no NAME", rpmWith(t, func(h *hdrBuilder) { h.remove(tagName) }), "no NAME"},
		{"empty VERSION", rpmWith(t, func(h *hdrBuilder) { h.replace(tagVersion, rpmString, 1, []byte{0}) }), "no VERSION"},
		{"dash in RELEASE", rpmWith(t, func(h *hdrBuilder) { h.replace(tagRelease, rpmString, 1, []byte("1-2\x00")) }), "RELEASE \"1-2\" is not valid"},
		{"space in NAME", rpmWith(t, func(h *hdrBuilder) { h.replace(tagName, rpmString, 1, []byte("private chef\x00")) }), "is not valid"},
		{"NAME without end", rpmWith(t, func(h *hdrBuilder) {
			h.replace(tagName, rpmString, 1, append(bytes.Repeat([]byte("p"), 5000), 0))
		}), "not terminated within 4096 bytes"},
		{"EPOCH a string", rpmWith(t, func(h *hdrBuilder) { h.strings(tagEpoch, rpmString, "1") }), "EPOCH"},
	}
	for _, c := range corrupt {
		t.Run(c.name, func(t *testing.T) {
			_, err := readBytes(c.rpm)
			wantCorrupt(t, err, RPM, c.want)
		})
	}

	t.Run("NAME outside the data store", func(t *testing.T) {
		// The index entry for NAME (the third, after the region and
		// I18NTABLE) gets an offset past the data.
		b := bytes.Clone(good)
		e := mainOff + 16 + 2*16
		require.Equal(t, uint32(tagName), binary.BigEndian.Uint32(b[e:]))
		binary.BigEndian.PutUint32(b[e+8:], 0x00ffffff)
		_, err := readBytes(b)
		wantCorrupt(t, err, RPM, "points outside the data store")
	})

	for name, rpm := range map[string][]byte{
		"source lead":               patch(6, 0, 1),
		"binary lead, no SOURCERPM": rpmWith(t, func(h *hdrBuilder) { h.remove(tagSourceRPM) }),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := readBytes(rpm)
			var fe *FormatError
			require.True(t, errors.As(err, &fe), "%T %v", err, err)
			assert.Equal(t, "a source rpm", fe.Got)
			assert.Equal(t, RPM, fe.Want)
		})
	}
}

// TestTruncated cuts every package at every length: each prefix must be
// refused.
func TestTruncated(t *testing.T) {
	pkgs := map[string][]byte{}
	for _, f := range fixtures {
		pkgs[f.file] = fixtureBytes(t, f.file)
	}
	for _, c := range writeCases[:2] {
		pkgs["WriteDeb "+c.name] = writePkg(t, Deb, c.meta)
		pkgs["WriteRPM "+c.name] = writePkg(t, RPM, c.meta)
	}
	for name, b := range pkgs {
		t.Run(name, func(t *testing.T) {
			for n := 0; n < len(b); n++ {
				if _, err := readBytes(b[:n]); err == nil {
					t.Fatalf("a %d-byte prefix of %d bytes was accepted", n, len(b))
				}
			}
		})
	}
}

func TestNotAPackage(t *testing.T) {
	dir := t.TempDir()
	files := map[string]struct {
		data []byte
		got  string
	}{
		"empty":      {nil, "an empty file"},
		"short":      {[]byte("!<a"), "a text file"},
		"text":       {[]byte("private-chef 11.1.8\n"), "a text file"},
		"html":       {[]byte("<!DOCTYPE html><title>404</title>"), "HTML"},
		"gzip":       {[]byte{0x1f, 0x8b, 8, 0}, "gzip data"},
		"xz":         {[]byte{0xfd, '7', 'z', 'X', 'Z', 0, 0, 4}, "xz data"},
		"zip":        {[]byte("PK\x03\x04rest"), "a zip archive"},
		"binary":     {[]byte{0x7f, 'E', 'L', 'F', 2, 1, 1, 0}, "an unknown binary file"},
		"old deb":    {[]byte("0.939000\n"), "old-style"},
		"static lib": {arBytes(t, member{"foo.o", []byte("\x7fELF")}), "first member is \"foo.o\""},
	}
	for name, f := range files {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			require.NoError(t, os.WriteFile(path, f.data, 0o644))
			_, err := Inspect(path)
			var fe *FormatError
			require.True(t, errors.As(err, &fe), "%T %v", err, err)
			assert.Equal(t, path, fe.Path)
			assert.Contains(t, fe.Got, f.got)
			assert.Contains(t, err.Error(), path)
		})
	}
	t.Run("directory", func(t *testing.T) {
		_, err := Inspect(dir)
		var fe *FormatError
		require.True(t, errors.As(err, &fe), "%T %v", err, err)
		assert.Equal(t, "a directory", fe.Got)
	})
	t.Run("missing", func(t *testing.T) {
		_, err := Inspect(filepath.Join(dir, "private-chef_11.1.8-1_amd64.deb"))
		assert.ErrorIs(t, err, fs.ErrNotExist)
		assert.Contains(t, err.Error(), "private-chef_11.1.8-1_amd64.deb")
	})
	t.Run("unreadable", func(t *testing.T) {
		if os.Geteuid() == 0 {
			peer.Optional(t, "run as root, which reads a mode-000 file: no unreadable package to refuse (go test as another user shows it)")
		}
		path := filepath.Join(dir, "secret.deb")
		require.NoError(t, os.WriteFile(path, debWithControl(t, goodControl), 0o000))
		_, err := Inspect(path)
		assert.ErrorIs(t, err, fs.ErrPermission)
	})
	t.Run("path in corrupt error", func(t *testing.T) {
		path := filepath.Join(dir, "cut.rpm")
		b := fixtureBytes(t, "private-chef-11.1.8-1.noarch.rpm")
		require.NoError(t, os.WriteFile(path, b[:len(b)-10], 0o644))
		_, err := Inspect(path)
		var ce *CorruptError
		require.True(t, errors.As(err, &ce), "%T %v", err, err)
		assert.Equal(t, path, ce.Path)
		assert.True(t, strings.HasPrefix(err.Error(), path+": damaged .rpm package: "), err.Error())
	})
}

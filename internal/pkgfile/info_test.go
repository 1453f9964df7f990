package pkgfile

import (
	"bytes"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMatches(t *testing.T) {
	deb := Info{Path: "/srv/private-chef_11.1.8-1_amd64.deb", Format: Deb, Name: "private-chef",
		Version: "11.1.8", Release: "1", RawVersion: "11.1.8-1", Arch: "amd64"}
	rpm := Info{Path: "/srv/private-chef-11.1.8-1.el6.x86_64.rpm", Format: RPM, Name: "private-chef", Epoch: "1",
		Version: "11.1.8", Release: "1.el6", RawVersion: "1:11.1.8-1.el6", Arch: "x86_64"}
	cases := []struct {
		info          Info
		name, version string
		ok            bool
	}{
		{deb, "private-chef", "11.1.8", true},
		{deb, "private-chef", "11.1.8-1", true},
		{deb, "private-chef", "11.1.8-2", false},
		{deb, "private-chef", "11.1.6", false},
		{deb, "private-chef", "11.1", false},
		{deb, "chef-server-core", "11.1.8", false},
		{deb, "private-chef", "", false},
		{rpm, "private-chef", "11.1.8", true},
		{rpm, "private-chef", "11.1.8-1.el6", true},
		{rpm, "private-chef", "1:11.1.8-1.el6", true},
		{rpm, "private-chef", "11.1.8-1", false},
		{rpm, "private-chef", "1.el6", false},
		{Info{Name: "p", Version: "2.0", RawVersion: "2.0"}, "p", "2.0", true},
		{Info{Name: "p", Version: "2.0", RawVersion: "2.0"}, "p", "2.0-", false},
	}
	for _, c := range cases {
		err := c.info.Matches(c.name, c.version)
		if c.ok {
			assert.NoError(t, err, "%s %s", c.name, c.version)
			continue
		}
		var me *MismatchError
		if assert.True(t, errors.As(err, &me), "%s %s: %v", c.name, c.version, err) {
			assert.Equal(t, MismatchError{Path: c.info.Path, HasName: c.info.Name, HasVersion: c.info.RawVersion,
				WantName: c.name, WantVersion: c.version}, *me)
		}
	}
	assert.EqualError(t, deb.Matches("private-chef", "11.1.6"),
		"/srv/private-chef_11.1.8-1_amd64.deb holds private-chef 11.1.8-1, not private-chef 11.1.6: give the package for that hop")
}

func TestCheckFormat(t *testing.T) {
	info := Info{Path: "/srv/p.rpm", Format: RPM}
	require.NoError(t, info.CheckFormat(RPM))
	err := info.CheckFormat(Deb)
	var fe *FormatError
	require.True(t, errors.As(err, &fe))
	assert.Equal(t, FormatError{Path: "/srv/p.rpm", Want: Deb, Got: "a .rpm package"}, *fe)
	assert.EqualError(t, err, "/srv/p.rpm is a .rpm package, not a .deb package: give the package file built for the node's platform")
}

func TestErrorMessages(t *testing.T) {
	assert.EqualError(t, &FormatError{Path: "/srv/x", Got: "an empty file"},
		"/srv/x is an empty file, not a .deb or .rpm package: give the package file built for the node's platform")
	assert.EqualError(t, &CorruptError{Path: "/srv/x.deb", Format: Deb, Reason: "./control has no Version field"},
		"/srv/x.deb: damaged .deb package: ./control has no Version field (download or copy it again)")
	inner := errors.New("unexpected EOF")
	ce := &CorruptError{Format: RPM, Reason: "main header", Err: inner}
	assert.ErrorIs(t, ce, inner)
	assert.EqualError(t, ce, "package file: damaged .rpm package: main header: unexpected EOF (download or copy it again)")
}

func TestParseControl(t *testing.T) {
	f, err := parseControl([]byte("Package: private-chef\nversion:  11.1.8-1 \nDescription: one\n two\n\tthree\n .\n\n\n"))
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"package": "private-chef", "version": "11.1.8-1", "description": "one\ntwo\nthree\n."}, f)
	for _, bad := range []string{"", "\n", "Package private-chef\n", ": x\n", "#Package: x\n", "-Package: x\n",
		"Pack age: x\n", "A: 1\na: 2\n", "A: 1\n\nB: 2\n", " A: 1\n"} {
		_, err := parseControl([]byte(bad))
		assert.Error(t, err, "%q", bad)
	}
}

func TestSplitDebVersion(t *testing.T) {
	cases := []struct{ raw, epoch, upstream, revision string }{
		{"11.1.8-1", "", "11.1.8", "1"},
		{"11.1.8", "", "11.1.8", ""},
		{"1:11.1.8-1", "1", "11.1.8", "1"},
		{"11.2.0-rc.1-3", "", "11.2.0-rc.1", "3"},
		{"2:1.0:beta-1+deb7u1", "2", "1.0:beta", "1+deb7u1"},
		{"1.0~rc1-0ubuntu1", "", "1.0~rc1", "0ubuntu1"},
	}
	for _, c := range cases {
		e, u, r, err := splitDebVersion(c.raw)
		require.NoError(t, err, c.raw)
		assert.Equal(t, []string{c.epoch, c.upstream, c.revision}, []string{e, u, r}, c.raw)
	}
	for _, bad := range []string{"", "-1", "1-", ":1", "a:1", "1.0:beta-1", "1 0", "1_0", "1.0-1_2", "11.1.8\r"} {
		_, _, _, err := splitDebVersion(bad)
		assert.Error(t, err, "%q", bad)
	}
}

func TestLZMA2Dict(t *testing.T) {
	// xz format 5.3.1: code 0 is 4 KiB, 1 is 6 KiB, 18 is 2 MiB, 40 is 4 GiB - 1.
	for code, want := range map[byte]uint64{0: 4 << 10, 1: 6 << 10, 18: 2 << 20, 22: 8 << 20, 39: 3 << 30, 40: 1<<32 - 1} {
		assert.Equal(t, want, lzma2Dict(code), "code %d", code)
	}
}

// failAt is a file whose reads fail from offset at on, like a disk error
// or a file shrinking under the reader.
type failAt struct {
	b  []byte
	at int64
}

func (f failAt) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > f.at {
		return 0, errors.New("input/output error")
	}
	return copy(p, f.b[off:]), nil
}

func TestReadErrors(t *testing.T) {
	_, err := Read(bytes.NewReader(nil), -1)
	assert.ErrorContains(t, err, "negative size")

	deb := writePkg(t, Deb, writeCases[0].meta)
	for _, at := range []int64{0, 100, int64(len(deb)) - 1} {
		_, err := Read(failAt{deb, at}, int64(len(deb)))
		assert.ErrorContains(t, err, "input/output error", "failing at %d", at)
	}
	// A size larger than the data: the hash must not cover less than size.
	_, err = Read(bytes.NewReader(deb), int64(len(deb))+10)
	assert.Error(t, err)
}

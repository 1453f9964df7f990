package pkgfile

import (
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"path"
	"sort"
)

// WriteRPM writes m as a binary rpm with the tags rpmbuild writes for a
// plain package (lead, signature header with SHA-1/SHA-256 header digests,
// size and MD5, main header with the file list, gzip cpio payload), so
// rpm -qp, rpm -K and rpm -i accept it. The same m always gives the same
// bytes.
func WriteRPM(w io.Writer, m Meta) error {
	paths, err := m.check(RPM)
	if err != nil {
		return err
	}
	if m.Arch == "" {
		m.Arch = "noarch"
	}
	cpio := cpioNewc(paths, m.Files)
	var payload bytes.Buffer
	gz, err := gzip.NewWriterLevel(&payload, gzip.BestCompression)
	if err != nil {
		return err
	}
	if _, err := gz.Write(cpio); err != nil {
		return err
	}
	if err := gz.Close(); err != nil {
		return err
	}
	h := rpmMainHeader(m, paths, payload.Bytes())
	return writeRPM(w, rpmLead(m.Name+"-"+m.Version+"-"+m.Release), &h, payload.Bytes(), len(cpio))
}

func rpmMainHeader(m Meta, paths []string, payload []byte) hdrBuilder {
	var h hdrBuilder
	h.strings(tagI18NTable, rpmStringArray, "C")
	h.strings(tagName, rpmString, m.Name)
	h.strings(tagVersion, rpmString, m.Version)
	h.strings(tagRelease, rpmString, m.Release)
	h.strings(tagSummary, rpmI18NString, m.Name+" "+m.Version+" written by chefha's pkgfile")
	h.strings(tagDescription, rpmI18NString, "Stand-in package for tests and the simulated cluster.")
	h.int32s(tagBuildTime, uint32(buildTime.Unix()))
	h.strings(tagBuildHost, rpmString, "localhost")
	var total uint32
	for _, p := range paths {
		total += uint32(len(m.Files[p]))
	}
	h.int32s(tagSize, total)
	h.strings(tagLicense, rpmString, "Apache-2.0")
	h.strings(tagGroup, rpmI18NString, "Unspecified")
	h.strings(tagOS, rpmString, "linux")
	h.strings(tagArch, rpmString, m.Arch)
	h.strings(tagSourceRPM, rpmString, m.Name+"-"+m.Version+"-"+m.Release+".src.rpm")
	if len(paths) > 0 {
		fileTags(&h, paths, m.Files)
	}
	h.strings(tagPayloadFormat, rpmString, "cpio")
	h.strings(tagPayloadComp, rpmString, "gzip")
	h.strings(tagPayloadFlags, rpmString, "9")
	sum := sha256.Sum256(payload)
	h.strings(tagPayloadDigest, rpmStringArray, hex.EncodeToString(sum[:]))
	h.int32s(tagPayloadDigestAlg, 8) // PGPHASHALGO_SHA256
	return h
}

func rpmLead(nvr string) []byte {
	lead := make([]byte, rpmLeadSize)
	copy(lead, rpmMagic)
	lead[4], lead[5] = 3, 0                  // format 3.0
	binary.BigEndian.PutUint16(lead[6:], 0)  // binary package
	copy(lead[10:10+65], nvr)                // NUL-terminated, cut at 65
	binary.BigEndian.PutUint16(lead[76:], 1) // os: Linux
	binary.BigEndian.PutUint16(lead[78:], rpmSigTypeHeader)
	return lead
}

// writeRPM writes lead, a signature for main and payload, main, payload.
func writeRPM(w io.Writer, lead []byte, main *hdrBuilder, payload []byte, cpioLen int) error {
	header := main.marshal(tagHeaderImmutable)
	sha1Sum := sha1.Sum(header)
	sha256Sum := sha256.Sum256(header)
	all := md5.New()
	all.Write(header)
	all.Write(payload)
	var sig hdrBuilder
	sig.strings(tagSHA1Header, rpmString, hex.EncodeToString(sha1Sum[:]))
	sig.strings(tagSHA256Header, rpmString, hex.EncodeToString(sha256Sum[:]))
	sig.int32s(sigSize, uint32(len(header)+len(payload)))
	sig.add(sigMD5, rpmBin, 16, all.Sum(nil))
	sig.int32s(sigPayloadSize, uint32(cpioLen))
	sigBytes := sig.marshal(tagHeaderSignatures)
	sigBytes = append(sigBytes, make([]byte, (8-len(sigBytes)%8)%8)...)
	for _, b := range [][]byte{lead, sigBytes, header, payload} {
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// fileTags adds the file list in rpm's compressed form (dirnames,
// basenames, indexes) with one value per file in every per-file tag.
func fileTags(h *hdrBuilder, paths []string, files map[string][]byte) {
	n := len(paths)
	var dirs, bases, digests []string
	dirIndex := map[string]uint32{}
	var sizes, mtimes, flags, devices, inodes, indexes []uint32
	var modes, rdevs []uint16
	for i, p := range paths {
		d := path.Dir(p) + "/"
		if d == "//" {
			d = "/"
		}
		idx, ok := dirIndex[d]
		if !ok {
			idx = uint32(len(dirs))
			dirIndex[d] = idx
			dirs = append(dirs, d)
		}
		sum := sha256.Sum256(files[p])
		bases = append(bases, path.Base(p))
		digests = append(digests, hex.EncodeToString(sum[:]))
		indexes = append(indexes, idx)
		sizes = append(sizes, uint32(len(files[p])))
		mtimes = append(mtimes, uint32(buildTime.Unix()))
		flags = append(flags, 0)
		devices = append(devices, 1)
		inodes = append(inodes, uint32(i+1))
		modes = append(modes, 0o100644)
		rdevs = append(rdevs, 0)
	}
	h.int32s(tagFileSizes, sizes...)
	h.int16s(tagFileModes, modes...)
	h.int16s(tagFileRdevs, rdevs...)
	h.int32s(tagFileMtimes, mtimes...)
	h.strings(tagFileDigests, rpmStringArray, digests...)
	h.strings(tagFileLinkTos, rpmStringArray, make([]string, n)...)
	h.int32s(tagFileFlags, flags...)
	h.strings(tagFileUserName, rpmStringArray, repeat("root", n)...)
	h.strings(tagFileGroupName, rpmStringArray, repeat("root", n)...)
	h.int32s(tagFileDevices, devices...)
	h.int32s(tagFileInodes, inodes...)
	h.strings(tagFileLangs, rpmStringArray, make([]string, n)...)
	h.int32s(tagDirIndexes, indexes...)
	h.strings(tagBaseNames, rpmStringArray, bases...)
	h.strings(tagDirNames, rpmStringArray, dirs...)
	h.int32s(tagFileDigestAlgo, 8) // PGPHASHALGO_SHA256
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// cpioNewc writes the files as a "newc" (070701) cpio archive with
// "./"-relative names and the inode numbers fileTags gives them.
func cpioNewc(paths []string, files map[string][]byte) []byte {
	var b bytes.Buffer
	entry := func(ino, mode, nlink uint32, name string, data []byte) {
		fmt.Fprintf(&b, "070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
			ino, mode, 0, 0, nlink, uint32(buildTime.Unix()), len(data), 0, 0, 0, 0, len(name)+1, 0)
		b.WriteString(name)
		b.WriteByte(0)
		pad4(&b)
		b.Write(data)
		pad4(&b)
	}
	for i, p := range paths {
		entry(uint32(i+1), 0o100644, 1, "."+p, files[p])
	}
	entry(0, 0, 1, "TRAILER!!!", nil)
	return b.Bytes()
}

func pad4(b *bytes.Buffer) {
	for b.Len()%4 != 0 {
		b.WriteByte(0)
	}
}

// hdrBuilder collects header entries and lays them out as rpm does: an
// immutable region tag first, entries sorted by tag, data aligned to its
// type, the region trailer last.
type hdrBuilder struct{ entries []hdrEntry }

type hdrEntry struct {
	tag, typ, count uint32
	data            []byte
}

func (h *hdrBuilder) add(tag, typ, count uint32, data []byte) {
	h.entries = append(h.entries, hdrEntry{tag, typ, count, data})
}

func (h *hdrBuilder) strings(tag, typ uint32, ss ...string) {
	var b []byte
	for _, s := range ss {
		b = append(append(b, s...), 0)
	}
	h.add(tag, typ, uint32(len(ss)), b)
}

func (h *hdrBuilder) int32s(tag uint32, vs ...uint32) {
	b := make([]byte, 0, 4*len(vs))
	for _, v := range vs {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	h.add(tag, rpmInt32, uint32(len(vs)), b)
}

func (h *hdrBuilder) int16s(tag uint32, vs ...uint16) {
	b := make([]byte, 0, 2*len(vs))
	for _, v := range vs {
		b = binary.BigEndian.AppendUint16(b, v)
	}
	h.add(tag, rpmInt16, uint32(len(vs)), b)
}

func (h *hdrBuilder) marshal(region uint32) []byte {
	entries := append([]hdrEntry(nil), h.entries...)
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].tag < entries[j].tag })
	il := len(entries) + 1
	var index, data []byte
	for _, e := range entries {
		align := map[uint32]int{rpmInt16: 2, rpmInt32: 4, rpmInt64: 8}[e.typ]
		for align > 0 && len(data)%align != 0 {
			data = append(data, 0)
		}
		index = appendEntry(index, e.tag, e.typ, int32(len(data)), e.count)
		data = append(data, e.data...)
	}
	// The region tag comes first and points at the trailer, an entry
	// whose negated offset is the size of the region's index: all of it.
	index = append(appendEntry(nil, region, rpmBin, int32(len(data)), 16), index...)
	data = appendEntry(data, region, rpmBin, int32(-il*rpmEntrySize), 16)

	out := make([]byte, 0, rpmIntroSize+len(index)+len(data))
	out = append(out, rpmHeaderMagic...)
	out = append(out, 0, 0, 0, 0)
	out = binary.BigEndian.AppendUint32(out, uint32(il))
	out = binary.BigEndian.AppendUint32(out, uint32(len(data)))
	out = append(out, index...)
	return append(out, data...)
}

func appendEntry(b []byte, tag, typ uint32, off int32, count uint32) []byte {
	b = binary.BigEndian.AppendUint32(b, tag)
	b = binary.BigEndian.AppendUint32(b, typ)
	b = binary.BigEndian.AppendUint32(b, uint32(off))
	return binary.BigEndian.AppendUint32(b, count)
}

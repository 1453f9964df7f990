package pkgfile

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// The rpm file format (rpm's doc/manual/format.md and lib/rpmtag.h,
// lib/header.c): a 96-byte lead, the signature header padded to 8 bytes,
// the main header, the compressed cpio payload. A header is a 16-byte
// intro (magic 8e ad e8 01, 4 reserved bytes, index count, data length),
// 16-byte index entries (tag, type, offset, count; big-endian) and the
// data store they point into.
const (
	rpmLeadSize      = 96
	rpmIntroSize     = 16
	rpmEntrySize     = 16
	rpmMaxEntries    = 0xffff     // rpm's hdrchkTags
	rpmMaxData       = 0x0fffffff // rpm's hdrchkData
	rpmMaxString     = 4096       // longest NAME, VERSION, … this reader takes
	rpmSigTypeHeader = 5          // lead signature_type: a header-style signature
)

// Tag data types.
const (
	rpmInt16       = 3
	rpmInt32       = 4
	rpmInt64       = 5
	rpmString      = 6
	rpmBin         = 7
	rpmStringArray = 8
	rpmI18NString  = 9
)

// Tags this package reads or writes.
const (
	tagHeaderSignatures = 62 // region tag of the signature header
	tagHeaderImmutable  = 63 // region tag of the main header
	tagI18NTable        = 100
	tagSHA1Header       = 269 // signature: hex SHA-1 of the main header
	tagLongSize         = 270 // signature: header+payload size (int64)
	tagSHA256Header     = 273 // signature: hex SHA-256 of the main header
	tagName             = 1000
	tagVersion          = 1001
	tagRelease          = 1002
	tagEpoch            = 1003
	tagSummary          = 1004
	tagDescription      = 1005
	tagBuildTime        = 1006
	tagBuildHost        = 1007
	tagSize             = 1009
	tagLicense          = 1014
	tagGroup            = 1016
	tagOS               = 1021
	tagArch             = 1022
	tagFileSizes        = 1028
	tagFileModes        = 1030
	tagFileRdevs        = 1033
	tagFileMtimes       = 1034
	tagFileDigests      = 1035
	tagFileLinkTos      = 1036
	tagFileFlags        = 1037
	tagFileUserName     = 1039
	tagFileGroupName    = 1040
	tagSourceRPM        = 1044
	tagFileDevices      = 1095
	tagFileInodes       = 1096
	tagFileLangs        = 1097
	tagDirIndexes       = 1116
	tagBaseNames        = 1117
	tagDirNames         = 1118
	tagPayloadFormat    = 1124
	tagPayloadComp      = 1125
	tagPayloadFlags     = 1126
	tagFileDigestAlgo   = 5011
	tagPayloadDigest    = 5092
	tagPayloadDigestAlg = 5093

	// In the signature header the same numbers mean other things.
	sigSize        = 1000 // header+payload size (int32)
	sigMD5         = 1004 // MD5 of header+payload (bin, 16)
	sigPayloadSize = 1007 // uncompressed payload size (int32)
)

var rpmHeaderMagic = []byte{0x8e, 0xad, 0xe8, 0x01}

func rpmCorrupt(reason string, err error) error {
	return &CorruptError{Format: RPM, Reason: reason, Err: err}
}

// readRPM reads the NEVRA of a binary rpm and checks that the file is as
// long as its signature says; the MD5 over header and payload, when the
// signature has one, is left for digest to verify while it hashes.
func readRPM(r io.ReaderAt, size int64) (Info, *rpmCheck, error) {
	if size < rpmLeadSize {
		return Info{}, nil, rpmCorrupt("the file ends inside the 96-byte lead", nil)
	}
	var lead [rpmLeadSize]byte
	if _, err := r.ReadAt(lead[:], 0); err != nil {
		return Info{}, nil, rpmCorrupt("reading the lead", err)
	}
	if lead[4] != 3 && lead[4] != 4 {
		return Info{}, nil, rpmCorrupt(fmt.Sprintf("lead format version %d.%d (rpm reads 3 and 4)", lead[4], lead[5]), nil)
	}
	switch binary.BigEndian.Uint16(lead[6:8]) {
	case 0:
	case 1:
		return Info{}, nil, &FormatError{Want: RPM, Got: "a source rpm"}
	default:
		return Info{}, nil, rpmCorrupt("lead type is neither binary nor source", nil)
	}
	if binary.BigEndian.Uint16(lead[78:80]) != rpmSigTypeHeader {
		return Info{}, nil, rpmCorrupt("lead signature type is not a header signature", nil)
	}
	sig, err := readRPMHeader(r, size, rpmLeadSize)
	if err != nil {
		return Info{}, nil, rpmCorrupt("signature header", err)
	}
	mainOff := rpmLeadSize + (sig.length()+7)&^7
	h, err := readRPMHeader(r, size, mainOff)
	if err != nil {
		return Info{}, nil, rpmCorrupt("main header", err)
	}
	if mainOff+h.length() >= size {
		return Info{}, nil, rpmCorrupt("the file ends before the payload", nil)
	}
	sum, err := sigCheck(sig, size-mainOff)
	if err != nil {
		return Info{}, nil, err
	}
	var check *rpmCheck
	if sum != nil {
		check = &rpmCheck{from: mainOff, md5: sum}
	}
	info, err := rpmInfo(h)
	return info, check, err
}

// sigCheck compares the signature's size with the file and returns the
// MD5 to verify, if the signature has one.
func sigCheck(sig *rpmHeader, have int64) ([]byte, error) {
	var want int64 = -1
	if v, ok, err := sig.integer(sigSize, rpmInt32); err != nil {
		return nil, rpmCorrupt("signature size tag", err)
	} else if ok {
		want = v
	}
	if v, ok, err := sig.integer(tagLongSize, rpmInt64); err != nil {
		return nil, rpmCorrupt("signature size tag", err)
	} else if ok {
		want = v
	}
	if want >= 0 && want != have {
		return nil, rpmCorrupt(fmt.Sprintf("the signature says header and payload are %d bytes, the file has %d (truncated?)", want, have), nil)
	}
	sum, ok, err := sig.bin(sigMD5)
	if err != nil || ok && len(sum) != 16 {
		return nil, rpmCorrupt("signature MD5 tag", err)
	}
	return sum, nil
}

func rpmInfo(h *rpmHeader) (Info, error) {
	info := Info{Format: RPM}
	for _, f := range []struct {
		tag  uint32
		name string
		dst  *string
	}{{tagName, "NAME", &info.Name}, {tagVersion, "VERSION", &info.Version}, {tagRelease, "RELEASE", &info.Release}, {tagArch, "ARCH", &info.Arch}} {
		s, ok, err := h.str(f.tag)
		if err != nil {
			return Info{}, rpmCorrupt(f.name+" tag", err)
		}
		if !ok || s == "" {
			return Info{}, rpmCorrupt("the header has no "+f.name, nil)
		}
		if strings.ContainsFunc(s, func(c rune) bool { return c <= ' ' || c > '~' }) ||
			f.tag != tagName && f.tag != tagArch && strings.Contains(s, "-") {
			return Info{}, rpmCorrupt(fmt.Sprintf("%s %q is not valid", f.name, clip(s)), nil)
		}
		*f.dst = s
	}
	if e, ok, err := h.integer(tagEpoch, rpmInt32); err != nil {
		return Info{}, rpmCorrupt("EPOCH tag", err)
	} else if ok {
		info.Epoch = strconv.FormatInt(e, 10)
	}
	if _, ok, err := h.str(tagSourceRPM); err != nil {
		return Info{}, rpmCorrupt("SOURCERPM tag", err)
	} else if !ok {
		// rpm itself tells a source package by its lacking SOURCERPM.
		return Info{}, &FormatError{Want: RPM, Got: "a source rpm"}
	}
	info.RawVersion = info.Version + "-" + info.Release
	if info.Epoch != "" {
		info.RawVersion = info.Epoch + ":" + info.RawVersion
	}
	return info, nil
}

// rpmHeader is a header's index, read into memory (at most 1 MiB), and
// where its data store lies in the file, read on demand.
type rpmHeader struct {
	r     io.ReaderAt
	index []byte
	data  int64 // file offset of the data store
	dl    int64
}

func (h *rpmHeader) length() int64 { return rpmIntroSize + int64(len(h.index)) + h.dl }

func readRPMHeader(r io.ReaderAt, size, off int64) (*rpmHeader, error) {
	if size-off < rpmIntroSize {
		return nil, fmt.Errorf("the file ends inside the header at offset %d", off)
	}
	var intro [rpmIntroSize]byte
	if _, err := r.ReadAt(intro[:], off); err != nil {
		return nil, err
	}
	if !bytes.Equal(intro[:4], rpmHeaderMagic) {
		return nil, fmt.Errorf("no header magic at offset %d", off)
	}
	il := int64(binary.BigEndian.Uint32(intro[8:12]))
	dl := int64(binary.BigEndian.Uint32(intro[12:16]))
	if il < 1 || il > rpmMaxEntries || dl > rpmMaxData {
		return nil, fmt.Errorf("%d index entries and %d data bytes exceed rpm's limits", il, dl)
	}
	if off+rpmIntroSize+il*rpmEntrySize+dl > size {
		return nil, fmt.Errorf("%d index entries and %d data bytes run past the end of the file (truncated?)", il, dl)
	}
	h := &rpmHeader{r: r, index: make([]byte, il*rpmEntrySize), data: off + rpmIntroSize + il*rpmEntrySize, dl: dl}
	if _, err := r.ReadAt(h.index, off+rpmIntroSize); err != nil {
		return nil, err
	}
	return h, nil
}

// find returns the entry for tag; a tag given twice is an error.
func (h *rpmHeader) find(tag uint32) (typ uint32, off int64, count uint32, ok bool, err error) {
	for e := h.index; len(e) >= rpmEntrySize; e = e[rpmEntrySize:] {
		if binary.BigEndian.Uint32(e[0:4]) != tag {
			continue
		}
		if ok {
			return 0, 0, 0, false, fmt.Errorf("tag %d given twice", tag)
		}
		typ, off, count, ok = binary.BigEndian.Uint32(e[4:8]), int64(int32(binary.BigEndian.Uint32(e[8:12]))), binary.BigEndian.Uint32(e[12:16]), true
	}
	if ok && (off < 0 || off >= h.dl) {
		return 0, 0, 0, false, fmt.Errorf("tag %d points outside the data store", tag)
	}
	return typ, off, count, ok, err
}

// str reads a STRING tag.
func (h *rpmHeader) str(tag uint32) (string, bool, error) {
	typ, off, count, ok, err := h.find(tag)
	if err != nil || !ok {
		return "", false, err
	}
	if typ != rpmString || count != 1 {
		return "", false, fmt.Errorf("type %d count %d, want a string", typ, count)
	}
	b := make([]byte, min(h.dl-off, rpmMaxString+1))
	if _, err := h.r.ReadAt(b, h.data+off); err != nil {
		return "", false, err
	}
	end := bytes.IndexByte(b, 0)
	if end < 0 {
		return "", false, fmt.Errorf("string not terminated within %d bytes", rpmMaxString)
	}
	return string(b[:end]), true, nil
}

// integer reads a one-element INT32 or INT64 tag.
func (h *rpmHeader) integer(tag uint32, want uint32) (int64, bool, error) {
	typ, off, count, ok, err := h.find(tag)
	if err != nil || !ok {
		return 0, false, err
	}
	n := int64(4)
	if want == rpmInt64 {
		n = 8
	}
	if typ != want || count != 1 || off+n > h.dl {
		return 0, false, fmt.Errorf("tag %d: type %d count %d, want one integer of type %d", tag, typ, count, want)
	}
	b := make([]byte, n)
	if _, err := h.r.ReadAt(b, h.data+off); err != nil {
		return 0, false, err
	}
	if n == 4 {
		return int64(binary.BigEndian.Uint32(b)), true, nil
	}
	return int64(binary.BigEndian.Uint64(b) & (1<<63 - 1)), true, nil
}

// bin reads a BIN tag of at most 64 bytes (a digest).
func (h *rpmHeader) bin(tag uint32) ([]byte, bool, error) {
	typ, off, count, ok, err := h.find(tag)
	if err != nil || !ok {
		return nil, false, err
	}
	if typ != rpmBin || count > 64 || off+int64(count) > h.dl {
		return nil, false, fmt.Errorf("tag %d: type %d count %d, want at most 64 binary bytes", tag, typ, count)
	}
	b := make([]byte, count)
	if _, err := h.r.ReadAt(b, h.data+off); err != nil {
		return nil, false, err
	}
	return b, true, nil
}

package pkgfile

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
)

// xzMaxDict bounds the LZMA2 dictionary an xz member may ask for. The xz
// decoder allocates the dictionary a block header names (up to 4 GiB), so
// the headers are checked first. xz -9 uses 64 MiB; dpkg-deb uses xz -6
// (8 MiB).
const xzMaxDict = 64 << 20

const xzMaxBlocks = 4096

// checkXZDict walks the block headers of the single xz stream in r, found
// through the stream's index (xz file format 1.0.4, sections 2.1, 3.1,
// 4), and refuses a dictionary over xzMaxDict. Anything malformed is left
// to the decoder to report, except what stops the walk.
func checkXZDict(r *io.SectionReader) error {
	size := r.Size()
	if size < 12+12 {
		return fmt.Errorf("xz stream of %d bytes is too short", size)
	}
	var foot [12]byte
	if _, err := r.ReadAt(foot[:], size-12); err != nil {
		return fmt.Errorf("xz stream footer: %w", err)
	}
	if foot[10] != 'Y' || foot[11] != 'Z' {
		return fmt.Errorf("xz stream footer magic missing (trailing data or padding?)")
	}
	indexSize := (int64(binary.LittleEndian.Uint32(foot[4:8])) + 1) * 4
	indexOff := size - 12 - indexSize
	if indexOff < 12 || indexSize > 1<<20 {
		return fmt.Errorf("xz index of %d bytes does not fit the stream", indexSize)
	}
	index := make([]byte, indexSize)
	if _, err := r.ReadAt(index, indexOff); err != nil {
		return fmt.Errorf("xz index: %w", err)
	}
	if index[0] != 0 {
		return fmt.Errorf("xz index indicator missing")
	}
	ir := bytes.NewReader(index[1:])
	count, err := xzVarint(ir)
	if err != nil || count > xzMaxBlocks {
		return fmt.Errorf("xz index: bad record count")
	}
	off := int64(12)
	for i := uint64(0); i < count; i++ {
		unpadded, err := xzVarint(ir)
		if err != nil {
			return fmt.Errorf("xz index record %d: %w", i, err)
		}
		if _, err := xzVarint(ir); err != nil { // uncompressed size
			return fmt.Errorf("xz index record %d: %w", i, err)
		}
		if unpadded > uint64(indexOff-off) {
			return fmt.Errorf("xz block %d runs past the index", i)
		}
		if err := checkXZBlockHeader(r, off); err != nil {
			return fmt.Errorf("xz block %d: %w", i, err)
		}
		off += (int64(unpadded) + 3) &^ 3
	}
	if off != indexOff {
		return fmt.Errorf("xz blocks end at %d, the index starts at %d", off, indexOff)
	}
	return nil
}

func checkXZBlockHeader(r io.ReaderAt, off int64) error {
	var b [1]byte
	if _, err := r.ReadAt(b[:], off); err != nil {
		return err
	}
	if b[0] == 0 {
		return fmt.Errorf("index indicator where a block header belongs")
	}
	h := make([]byte, (int(b[0])+1)*4)
	if _, err := r.ReadAt(h, off); err != nil {
		return err
	}
	hr := bytes.NewReader(h[2 : len(h)-4]) // after size and flags, before CRC32
	flags := h[1]
	for _, present := range []bool{flags&0x40 != 0, flags&0x80 != 0} {
		if present {
			if _, err := xzVarint(hr); err != nil {
				return err
			}
		}
	}
	for f := 0; f <= int(flags&3); f++ {
		id, err := xzVarint(hr)
		if err != nil {
			return err
		}
		n, err := xzVarint(hr)
		if err != nil || n > uint64(hr.Len()) {
			return fmt.Errorf("filter properties do not fit the block header")
		}
		props := make([]byte, n)
		_, _ = io.ReadFull(hr, props)
		if id == 0x21 { // LZMA2
			if n != 1 || props[0] > 40 {
				return fmt.Errorf("bad LZMA2 properties")
			}
			if dict := lzma2Dict(props[0]); dict > xzMaxDict {
				return fmt.Errorf("LZMA2 dictionary of %d MiB exceeds the %d MiB this reader allows", dict>>20, xzMaxDict>>20)
			}
		}
	}
	return nil
}

// lzma2Dict decodes the LZMA2 dictionary size byte (xz format 5.3.1).
func lzma2Dict(c byte) uint64 {
	if c == 40 {
		return 1<<32 - 1
	}
	return uint64(2|c&1) << (c/2 + 11)
}

// xzVarint reads an xz multibyte integer (at most 9 bytes, 63 bits).
func xzVarint(r io.ByteReader) (uint64, error) {
	var v uint64
	for i := 0; i < 9; i++ {
		c, err := r.ReadByte()
		if err != nil {
			return 0, fmt.Errorf("xz integer cut off")
		}
		v |= uint64(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			if i > 0 && c == 0 {
				return 0, fmt.Errorf("xz integer not minimally encoded")
			}
			return v, nil
		}
	}
	return 0, fmt.Errorf("xz integer longer than 9 bytes")
}

package pkgfile

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
)

// The common ar format .deb files use (deb(5)): the magic, then members
// each with a 60-byte header of space-padded ASCII fields and data padded
// to an even length with '\n'.
const (
	arHeaderSize = 60
	arMaxMembers = 64 // a .deb has three; dpkg skips only '_'-named extras
)

// arMember is one member of an ar archive: its name and where its data is.
type arMember struct {
	name string
	off  int64 // offset of the data in the archive
	size int64
}

// arReader walks the members of an ar archive held in r.
type arReader struct {
	r    io.ReaderAt
	size int64
	off  int64 // offset of the next member header
	seen int
}

func newArReader(r io.ReaderAt, size int64) *arReader {
	return &arReader{r: r, size: size, off: int64(len(debMagic))}
}

// next returns the next member, io.EOF after the last. Every member must
// lie, padding included, inside the file: a short member means a cut-off
// download.
func (a *arReader) next() (arMember, error) {
	if a.off == a.size {
		return arMember{}, io.EOF
	}
	if a.seen++; a.seen > arMaxMembers {
		return arMember{}, fmt.Errorf("more than %d ar members", arMaxMembers)
	}
	if a.size-a.off < arHeaderSize {
		return arMember{}, fmt.Errorf("ar member header at offset %d is cut off at the end of the file", a.off)
	}
	var h [arHeaderSize]byte
	if _, err := a.r.ReadAt(h[:], a.off); err != nil {
		return arMember{}, fmt.Errorf("ar member header at offset %d: %w", a.off, err)
	}
	if h[58] != '`' || h[59] != '\n' {
		return arMember{}, fmt.Errorf("ar member header at offset %d lacks its end marker", a.off)
	}
	size, err := arDecimal(h[48:58])
	if err != nil {
		return arMember{}, fmt.Errorf("ar member header at offset %d: size: %w", a.off, err)
	}
	m := arMember{off: a.off + arHeaderSize, size: size}
	end := m.off + size + size&1
	if size > a.size-m.off || end > a.size {
		return arMember{}, fmt.Errorf("ar member at offset %d claims %d bytes, the file ends %d bytes after its header (truncated?)", a.off, size, a.size-m.off)
	}
	raw := string(bytes.TrimRight(h[:16], " "))
	switch {
	case len(raw) > 3 && raw[:3] == "#1/":
		// BSD ar: the name is the first N bytes of the data.
		n, err := arDecimal([]byte(raw[3:]))
		if err != nil || n == 0 || n > size || n > 256 {
			return arMember{}, fmt.Errorf("ar member at offset %d has a bad BSD long name %q", a.off, raw)
		}
		name := make([]byte, n)
		if _, err := a.r.ReadAt(name, m.off); err != nil {
			return arMember{}, fmt.Errorf("ar member name at offset %d: %w", m.off, err)
		}
		m.name = string(bytes.TrimRight(name, "\x00"))
		m.off += n
		m.size -= n
	case len(raw) > 1 && raw[len(raw)-1] == '/' && raw != "//":
		m.name = raw[:len(raw)-1] // GNU ar ends short names with '/'
	default:
		m.name = raw
	}
	a.off = end
	return m, nil
}

// arDecimal parses a space-padded decimal ar field.
func arDecimal(f []byte) (int64, error) {
	s := string(bytes.TrimRight(f, " "))
	if s == "" {
		return 0, fmt.Errorf("empty number")
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%q is not a decimal number", s)
		}
	}
	return strconv.ParseInt(s, 10, 64)
}

// arWriter writes an ar archive the way dpkg-deb does: short names
// without the GNU '/', owner 0, mode 100644.
type arWriter struct {
	w   io.Writer
	err error
}

func newArWriter(w io.Writer) *arWriter {
	a := &arWriter{w: w}
	_, a.err = w.Write(debMagic)
	return a
}

func (a *arWriter) add(name string, data []byte) {
	if a.err != nil {
		return
	}
	if len(name) > 16 {
		a.err = fmt.Errorf("ar member name %q longer than 16 bytes", name)
		return
	}
	h := fmt.Sprintf("%-16s%-12d%-6d%-6d%-8s%-10d`\n", name, 0, 0, 0, "100644", len(data))
	buf := make([]byte, 0, len(h)+len(data)+1)
	buf = append(append(buf, h...), data...)
	if len(data)%2 == 1 {
		buf = append(buf, '\n')
	}
	_, a.err = a.w.Write(buf)
}

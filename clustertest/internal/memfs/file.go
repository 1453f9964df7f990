package memfs

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// File is an open file, as os.File is: the SFTP server reads and writes
// through one (several requests at once, at their offsets), AppendFile
// appends through one.
type File struct {
	f      *FS
	ino    *inode
	name   string
	flag   int
	off    int64 // where Read and Write go on
	closed bool
}

// OpenFile is os.OpenFile: flag is os.O_RDONLY, O_WRONLY or O_RDWR with
// O_CREATE, O_EXCL, O_TRUNC and O_APPEND; perm is the mode of a file it
// creates.
func (f *FS) OpenFile(name string, flag int, perm fs.FileMode) (*File, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ino, err := f.open(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &File{f: f, ino: ino, name: name, flag: flag}, nil
}

func (h *File) readable() bool { return h.flag&(os.O_WRONLY|os.O_RDWR) != os.O_WRONLY }
func (h *File) writable() bool { return h.flag&(os.O_WRONLY|os.O_RDWR) != 0 }

// check is the error an operation on h gets before it starts, if any.
func (h *File) check(op string, ok bool) error {
	switch {
	case h.closed:
		return &fs.PathError{Op: op, Path: h.name, Err: os.ErrClosed}
	case !ok:
		return &fs.PathError{Op: op, Path: h.name, Err: syscall.EBADF}
	case h.ino.isDir():
		return &fs.PathError{Op: op, Path: h.name, Err: syscall.EISDIR}
	}
	return nil
}

func (h *File) ReadAt(b []byte, off int64) (int, error) {
	h.f.mu.Lock()
	defer h.f.mu.Unlock()
	return h.readAt(b, off)
}

func (h *File) readAt(b []byte, off int64) (int, error) {
	if err := h.check("read", h.readable()); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, &fs.PathError{Op: "readat", Path: h.name, Err: errors.New("negative offset")}
	}
	if off >= int64(len(h.ino.data)) {
		return 0, io.EOF
	}
	n := copy(b, h.ino.data[off:])
	if n < len(b) {
		return n, io.EOF
	}
	return n, nil
}

func (h *File) Read(b []byte) (int, error) {
	h.f.mu.Lock()
	defer h.f.mu.Unlock()
	n, err := h.readAt(b, h.off)
	h.off += int64(n)
	if err == io.EOF && n > 0 {
		err = nil // io.Reader's EOF comes with the read after the last
	}
	return n, err
}

// WriteAt writes at off, zero-filling a gap past the end. Like os.File's,
// it refuses a file opened with O_APPEND.
func (h *File) WriteAt(b []byte, off int64) (int, error) {
	h.f.mu.Lock()
	defer h.f.mu.Unlock()
	if h.flag&os.O_APPEND != 0 {
		return 0, errors.New("os: invalid use of WriteAt on file opened with O_APPEND")
	}
	return h.writeAt(b, off)
}

func (h *File) writeAt(b []byte, off int64) (int, error) {
	if err := h.check("write", h.writable()); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, &fs.PathError{Op: "writeat", Path: h.name, Err: errors.New("negative offset")}
	}
	if end := off + int64(len(b)); end > int64(len(h.ino.data)) {
		h.ino.data = resize(h.ino.data, end)
	}
	copy(h.ino.data[off:], b)
	h.ino.mtime = h.f.now()
	return len(b), nil
}

// Write writes where the last Write ended, or at the end with O_APPEND.
func (h *File) Write(b []byte) (int, error) {
	h.f.mu.Lock()
	defer h.f.mu.Unlock()
	if h.flag&os.O_APPEND != 0 {
		h.off = int64(len(h.ino.data))
	}
	n, err := h.writeAt(b, h.off)
	h.off += int64(n)
	return n, err
}

// Stat is the open file's: it follows the file through renames.
func (h *File) Stat() (fs.FileInfo, error) {
	h.f.mu.Lock()
	defer h.f.mu.Unlock()
	if h.closed {
		return nil, &fs.PathError{Op: "stat", Path: h.name, Err: os.ErrClosed}
	}
	return h.ino.info(baseName(h.name)), nil
}

func (h *File) Close() error {
	h.f.mu.Lock()
	defer h.f.mu.Unlock()
	if h.closed {
		return &fs.PathError{Op: "close", Path: h.name, Err: os.ErrClosed}
	}
	h.closed = true
	return nil
}

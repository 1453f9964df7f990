package memfs

import (
	"io/fs"
	"path"
	"time"
)

// info is a FileInfo taken under the lock: it does not change after.
type info struct {
	name  string
	size  int64
	mode  fs.FileMode
	mtime time.Time
}

func (i info) Name() string       { return i.name }
func (i info) Size() int64        { return i.size }
func (i info) Mode() fs.FileMode  { return i.mode }
func (i info) ModTime() time.Time { return i.mtime }
func (i info) IsDir() bool        { return i.mode.IsDir() }
func (i info) Sys() any           { return nil }

func (i *inode) info(name string) info {
	return info{name: name, size: i.size(), mode: i.mode, mtime: i.mtime}
}

// baseName is os.Stat's Name: the last element of the name as given.
func baseName(name string) string { return path.Base(clean(name)) }

//go:build !linux

package replica

// memoryDir is "" where there is no known memory file system: the
// replica goes to os.TempDir.
func memoryDir() string { return "" }

//go:build !linux

package clustertest

// memoryDir is "" where there is no known memory file system: the node
// trees go to os.TempDir.
func memoryDir() string { return "" }

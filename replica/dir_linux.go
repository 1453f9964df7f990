package replica

import "syscall"

// tmpfsMagic is statfs(2)'s f_type of tmpfs (linux/magic.h TMPFS_MAGIC).
const tmpfsMagic = 0x01021994

// memoryDir is /dev/shm when it is a tmpfs: a replica's node trees are
// hundreds of small files, written in milliseconds there.
func memoryDir() string {
	var st syscall.Statfs_t
	if err := syscall.Statfs("/dev/shm", &st); err != nil || st.Type != tmpfsMagic {
		return ""
	}
	return "/dev/shm"
}

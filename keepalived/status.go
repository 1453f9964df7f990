package keepalived

import (
	"bytes"
	"fmt"
	"strconv"
)

// Files cluster.sh keeps (EC 11; Private Chef 1.x uses the same names).
const (
	StateDir          = "/var/opt/opscode/keepalived"
	CurrentStatusPath = StateDir + "/current_cluster_status"
	RequestedPath     = StateDir + "/requested_cluster_status"
	LockPath          = StateDir + "/cluster-transition.lock"
	ClusterLogPath    = "/var/log/opscode/keepalived/cluster.log"
	// ClusterShPath is the notify script keepalived runs on every state
	// change (keepalived.conf.erb, opscode-omnibus 11.1.8: notify_master,
	// notify_backup, notify_fault, notify_stop).
	ClusterShPath = StateDir + "/bin/cluster.sh"
)

// Status is a back end's cluster status word. There is no "transition"
// word: a transition shows as requested ≠ current (and the lock held).
type Status string

const (
	Master Status = "master"
	Backup Status = "backup"
	Fault  Status = "fault"
)

// FormatError is a file whose content is not what cluster.sh writes.
type FormatError struct {
	File    string
	Content string
	Want    string
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("%s: %q is not %s", e.File, e.Content, e.Want)
}

// ParseStatus reads current_cluster_status or requested_cluster_status
// (file names the file, for the error): one word and a newline.
func ParseStatus(file string, b []byte) (Status, error) {
	w := string(bytes.TrimSpace(b))
	switch s := Status(w); s {
	case Master, Backup, Fault:
		return s, nil
	}
	c := w
	if len(c) > 40 {
		c = c[:40] + "…"
	}
	return "", &FormatError{File: file, Content: c, Want: "master, backup or fault"}
}

// ParseLock reads cluster-transition.lock: the PID of the cluster.sh that
// holds it.
func ParseLock(file string, b []byte) (int, error) {
	w := string(bytes.TrimSpace(b))
	pid, err := strconv.Atoi(w)
	if err != nil || pid <= 0 {
		return 0, &FormatError{File: file, Content: w, Want: "a PID"}
	}
	return pid, nil
}

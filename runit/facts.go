package runit

import (
	"bufio"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"
	"time"
)

// The commands whose output the parsers below read. Each is the one form
// chefha sends; GNU coreutils, findutils and procps print them the same way
// on every RHEL 6+ and Ubuntu 10.04+ host the runbook covers.
const (
	// StatFormat is the -c format ParseStat reads: mode (octal), owner
	// name and id, group name and id, size, mtime (epoch), type, name. The
	// ids are there because a name can lie (two systems' opscode users) or
	// be missing (stat prints UNKNOWN); the file name is last because it
	// may hold the separator.
	StatFormat = "%a:%U:%u:%G:%g:%s:%Y:%F:%n"
	// LinkFormat is the find -printf format ParseLinks reads, for
	// `find DIR -mindepth 1 -maxdepth 1 -printf LinkFormat`: name, type,
	// link target, type of what the link resolves to (N when it does not
	// exist).
	LinkFormat = `%f\t%y\t%l\t%Y\n`
)

// Default paths of an Enterprise Chef / Private Chef node.
const (
	DefaultServiceDir = "/opt/opscode/service"
	DefaultLogDir     = "/var/log/opscode"
)

// FileStat is one file as `stat -c StatFormat` prints it.
type FileStat struct {
	Path    string
	Mode    fs.FileMode // permission bits, with setuid/setgid/sticky mapped to fs.Mode*
	Owner   string      // user name, UNKNOWN when the id has none
	UID     int
	Group   string // group name, UNKNOWN when the id has none
	GID     int
	Size    int64
	ModTime time.Time
	// Type is stat's %F: "directory", "regular file", "symbolic link", …
	Type string
}

// Owners is the owner and group by name and id, as evidence shows them:
// "opscode(994):opscode(993)".
func (f FileStat) Owners() string {
	return fmt.Sprintf("%s(%d):%s(%d)", f.Owner, f.UID, f.Group, f.GID)
}

// IsDir reports whether the file is a directory.
func (f FileStat) IsDir() bool { return f.Type == "directory" }

// ParseStat reads `stat -c StatFormat FILE…` output. Files stat could not
// read are not in it (stat says so on stderr); callers compare with what
// they asked for.
func ParseStat(r io.Reader) ([]FileStat, error) {
	var out []FileStat
	err := eachLine(r, "stat output", func(line string) error {
		f := strings.SplitN(line, ":", 9)
		if len(f) != 9 || f[8] == "" {
			return fmt.Errorf("want mode:owner:uid:group:gid:size:mtime:type:name")
		}
		mode, err := strconv.ParseUint(f[0], 8, 32)
		if err != nil || mode > 07777 {
			return fmt.Errorf("mode %q is not octal permissions", f[0])
		}
		uid, err := strconv.ParseUint(f[2], 10, 31)
		if err != nil {
			return fmt.Errorf("uid %q", f[2])
		}
		gid, err := strconv.ParseUint(f[4], 10, 31)
		if err != nil {
			return fmt.Errorf("gid %q", f[4])
		}
		size, err := strconv.ParseInt(f[5], 10, 64)
		if err != nil || size < 0 {
			return fmt.Errorf("size %q", f[5])
		}
		mtime, err := strconv.ParseInt(f[6], 10, 64)
		if err != nil {
			return fmt.Errorf("mtime %q", f[6])
		}
		if f[1] == "" || f[3] == "" || f[7] == "" {
			return fmt.Errorf("empty owner, group or type")
		}
		out = append(out, FileStat{
			Path: f[8], Mode: unixMode(uint32(mode)), Owner: f[1], UID: int(uid), Group: f[3], GID: int(gid),
			Size: size, ModTime: time.Unix(mtime, 0).UTC(), Type: f[7],
		})
		return nil
	})
	return out, err
}

func unixMode(m uint32) fs.FileMode {
	mode := fs.FileMode(m & 0777)
	if m&04000 != 0 {
		mode |= fs.ModeSetuid
	}
	if m&02000 != 0 {
		mode |= fs.ModeSetgid
	}
	if m&01000 != 0 {
		mode |= fs.ModeSticky
	}
	return mode
}

// DiskUsage is one row of `df -P` (blocks) or `df -Pi` (inodes).
type DiskUsage struct {
	Filesystem string
	Inodes     bool // the row counts inodes, not 1024-byte blocks
	Total      int64
	Used       int64
	Available  int64
	Capacity   int // percent used, as df rounds it
	MountedOn  string
}

// Full reports whether nothing more can be written: no blocks (or inodes)
// left, or df's own rounding says 100%. Filesystems that keep no counts
// (proc, and inodes on some: df prints 0 or "-") are never full.
func (d DiskUsage) Full() bool { return d.Total > 0 && (d.Available <= 0 || d.Capacity >= 100) }

// ParseDF reads `df -P` or `df -Pi` output; the header says which.
func ParseDF(r io.Reader) ([]DiskUsage, error) {
	var out []DiskUsage
	header, inodes := false, false
	err := eachLine(r, "df output", func(line string) error {
		f := strings.Fields(line)
		if !header {
			if len(f) < 6 || f[0] != "Filesystem" {
				return fmt.Errorf("want the df -P header (Filesystem … Mounted on)")
			}
			header, inodes = true, f[1] == "Inodes"
			return nil
		}
		if len(f) < 6 {
			return fmt.Errorf("want 6 columns")
		}
		var n [3]int64
		for i := range n {
			v, err := strconv.ParseInt(f[1+i], 10, 64)
			if err != nil {
				// df prints "-" for inode counts of filesystems without them.
				if inodes && f[1+i] == "-" {
					continue
				}
				return fmt.Errorf("column %d %q is not a number", i+2, f[1+i])
			}
			n[i] = v
		}
		capText := strings.TrimSuffix(f[4], "%")
		c, err := strconv.Atoi(capText)
		if err != nil {
			if !(inodes && f[4] == "-") {
				return fmt.Errorf("capacity %q is not N%%", f[4])
			}
			c = 0
		}
		// The mount point is the rest of the line after the fifth column.
		mount := line
		for i := 0; i < 5; i++ {
			mount = strings.TrimLeft(mount, " \t")
			mount = mount[strings.IndexAny(mount, " \t"):]
		}
		u := DiskUsage{Filesystem: f[0], Inodes: inodes, Total: n[0], Used: n[1], Available: n[2],
			Capacity: c, MountedOn: strings.TrimSpace(mount)}
		out = append(out, u)
		return nil
	})
	if err == nil && !header {
		err = fmt.Errorf("df output: empty")
	}
	return out, err
}

// Link is one entry of a service directory listing.
type Link struct {
	Name   string
	Target string // empty when the entry is not a symlink
	// Dangling is true for a symlink whose target does not exist (find's
	// %Y is N) or loops (L).
	Dangling bool
	IsLink   bool
}

// ParseLinks reads `find DIR -mindepth 1 -maxdepth 1 -printf LinkFormat`.
func ParseLinks(r io.Reader) ([]Link, error) {
	var out []Link
	err := eachLine(r, "find output", func(line string) error {
		f := strings.Split(line, "\t")
		if len(f) != 4 || f[0] == "" || len(f[1]) != 1 || len(f[3]) != 1 {
			return fmt.Errorf("want name\\ttype\\ttarget\\ttargettype")
		}
		l := Link{Name: f[0], IsLink: f[1] == "l"}
		if l.IsLink {
			if f[2] == "" {
				return fmt.Errorf("symlink without a target")
			}
			l.Target = f[2]
			l.Dangling = f[3] == "N" || f[3] == "L"
		}
		out = append(out, l)
		return nil
	})
	return out, err
}

// JobState is an Upstart job as `initctl status JOB` reports it.
type JobState struct {
	Job     string
	Goal    string // "start" or "stop"
	State   string // "running", "waiting", …
	PID     int
	Unknown bool // initctl: Unknown job
}

// Running reports whether the job's main process is alive.
func (j JobState) Running() bool { return j.Goal == "start" && j.State == "running" && j.PID > 0 }

// ParseInitctlStatus reads lines of `initctl status JOB…`:
// "private-chef-runsvdir start/running, process 1543",
// "opscode-runsvdir stop/waiting" and "initctl: Unknown job: NAME".
func ParseInitctlStatus(r io.Reader) ([]JobState, error) {
	var out []JobState
	err := eachLine(r, "initctl status", func(line string) error {
		if name, ok := strings.CutPrefix(line, "initctl: Unknown job: "); ok {
			out = append(out, JobState{Job: strings.TrimSpace(name), Unknown: true})
			return nil
		}
		job, rest, ok := strings.Cut(line, " ")
		goalState, proc, _ := strings.Cut(rest, ", ")
		goal, state, ok2 := strings.Cut(goalState, "/")
		if !ok || !ok2 || job == "" || goal == "" || state == "" {
			return fmt.Errorf("want JOB GOAL/STATE[, process PID]")
		}
		j := JobState{Job: job, Goal: goal, State: state}
		if proc != "" {
			pid, ok := strings.CutPrefix(proc, "process ")
			n, err := strconv.Atoi(pid)
			if !ok || err != nil || n <= 0 {
				return fmt.Errorf("want process PID, got %q", proc)
			}
			j.PID = n
		}
		out = append(out, j)
		return nil
	})
	return out, err
}

// eachLine calls fn for each non-blank line, wrapping its error with the
// line number.
func eachLine(r io.Reader, what string, fn func(string) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20) // grows from 4 KiB as lines need
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		if err := fn(line); err != nil {
			return &ParseError{What: what, Line: n, Text: line, Err: err.Error()}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading %s: %w", what, err)
	}
	return nil
}

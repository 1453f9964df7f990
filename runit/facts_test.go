package runit

import (
	"bytes"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseStat(t *testing.T) {
	got, err := ParseStat(bytes.NewReader(fixture(t, "stat-logdir.txt")))
	require.NoError(t, err)
	mtime := time.Unix(1795629077, 0).UTC()
	assert.Equal(t, []FileStat{
		{Path: "/var/log/opscode", Mode: 0o700, Owner: "root", Group: "root", Size: 4096, ModTime: mtime, Type: "directory"},
		{Path: "/var/log/opscode/bookshelf/current", Mode: 0o644, Owner: "UNKNOWN", UID: 4242, Group: "UNKNOWN", GID: 4242, ModTime: mtime, Type: "regular empty file"},
		{Path: "/var/log/opscode/nginx/current", Mode: 0o644, Owner: "opscode", UID: 994, Group: "opscode", GID: 993, ModTime: mtime, Type: "regular empty file"},
	}, got)
	assert.True(t, got[0].IsDir())
	assert.Equal(t, "UNKNOWN(4242):UNKNOWN(4242)", got[1].Owners())

	special, err := ParseStat(strings.NewReader("2755:root:0:opscode:993:1:2:directory:/a:b\n1777:root:0:root:0:1:2:directory:/tmp\n"))
	require.NoError(t, err)
	assert.Equal(t, fs.ModeSetgid|0o755, special[0].Mode)
	assert.Equal(t, "/a:b", special[0].Path, "the name keeps its colons")
	assert.Equal(t, fs.ModeSticky|0o777, special[1].Mode)

	for _, bad := range []string{
		"755:root:0:root:0:1:2:directory",      // no name
		"755:root:root:1:2:directory:/x",       // the old format, without ids
		"abc:root:0:root:0:1:2:directory:/x",   // mode
		"99999:root:0:root:0:1:2:directory:/x", // mode too large
		"755:root:x:root:0:1:2:directory:/x",   // uid
		"755:root:0:root:-1:1:2:directory:/x",  // gid
		"755:root:0:root:0:-1:2:directory:/x",  // size
		"755:root:0:root:0:1:x:directory:/x",   // mtime
		"755::0:root:0:1:2:directory:/x",       // owner
	} {
		_, err := ParseStat(strings.NewReader(bad))
		assert.Error(t, err, bad)
	}
}

func TestParseDF(t *testing.T) {
	tests := []struct {
		file   string
		inodes bool
		full   []bool
	}{
		{"df-P.txt", false, []bool{false, false}},
		{"df-Pi.txt", true, []bool{false, false, false}},
		{"df-P-full.txt", false, []bool{true}},
		{"df-Pi-full.txt", true, []bool{true}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := ParseDF(bytes.NewReader(fixture(t, tt.file)))
			require.NoError(t, err)
			require.Len(t, got, len(tt.full))
			for i, u := range got {
				assert.Equal(t, tt.inodes, u.Inodes)
				assert.Equal(t, tt.full[i], u.Full(), "row %d: %+v", i, u)
			}
		})
	}
	full, err := ParseDF(bytes.NewReader(fixture(t, "df-P-full.txt")))
	require.NoError(t, err)
	assert.Equal(t, DiskUsage{Filesystem: "tmpfs", Total: 64, Used: 64, Available: 0, Capacity: 100, MountedOn: "/var/log/opscode"}, full[0])

	spaced, err := ParseDF(strings.NewReader("Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/sdb1 10 5 5 50% /mnt/with space\n"))
	require.NoError(t, err)
	assert.Equal(t, "/mnt/with space", spaced[0].MountedOn)

	for _, bad := range []string{
		"",
		"/dev/sda1 10 5 5 50% /\n",
		"Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/sda1 10 5 x 50% /\n",
		"Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/sda1 10 5 5 half /\n",
		"Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/sda1 10 5\n",
	} {
		_, err := ParseDF(strings.NewReader(bad))
		assert.Error(t, err, "%q", bad)
	}
}

func TestParseLinks(t *testing.T) {
	got, err := ParseLinks(bytes.NewReader(fixture(t, "find-service-links.txt")))
	require.NoError(t, err)
	assert.Equal(t, []Link{
		{Name: "nagios", Target: "/opt/opscode/sv/nagios", Dangling: true, IsLink: true},
		{Name: "bookshelf", Target: "/opt/opscode/sv/bookshelf", Dangling: true, IsLink: true},
		{Name: "stray-dir"},
		{Name: "nginx", Target: "/opt/opscode/sv/nginx", IsLink: true},
	}, got)
	for _, bad := range []string{"x\tl\t\tN", "x\tl\t/y", "\tl\t/y\tN", "x\tll\t/y\tN"} {
		_, err := ParseLinks(strings.NewReader(bad))
		assert.Error(t, err, "%q", bad)
	}
}

func TestParseInitctlStatus(t *testing.T) {
	in := "private-chef-runsvdir start/running, process 1543\nopscode-runsvdir stop/waiting\ninitctl: Unknown job: opscode-runsvdir\n"
	got, err := ParseInitctlStatus(strings.NewReader(in))
	require.NoError(t, err)
	assert.Equal(t, []JobState{
		{Job: "private-chef-runsvdir", Goal: "start", State: "running", PID: 1543},
		{Job: "opscode-runsvdir", Goal: "stop", State: "waiting"},
		{Job: "opscode-runsvdir", Unknown: true},
	}, got)
	assert.True(t, got[0].Running())
	assert.False(t, got[1].Running())
	for _, bad := range []string{"private-chef-runsvdir", "x start/running, pid 3", "x start/running, process -1", "x /running"} {
		_, err := ParseInitctlStatus(strings.NewReader(bad))
		assert.Error(t, err, bad)
	}
}

func FuzzParseStat(f *testing.F) {
	f.Add(fixture(f, "stat-logdir.txt"))
	f.Add([]byte("2755:root:0:opscode:993:1:2:directory:/a:b\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := ParseStat(bytes.NewReader(in))
		if err != nil {
			return
		}
		for _, st := range got {
			if st.Path == "" || st.UID < 0 || st.GID < 0 || st.Size < 0 || st.Mode&^(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) != 0 {
				t.Fatalf("accepted a wrong stat line: %+v", st)
			}
		}
	})
}

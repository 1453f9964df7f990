package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/chefha/chefha/upgrade"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestHostsBuildTheTopologyWithParseHosts(t *testing.T) {
	c := Cluster{Hosts: "be1=backend:bootstrap,be2=backend,fe1=frontend"}
	top, err := c.Topology()
	require.NoError(t, err)
	require.Len(t, top.Servers, 3)
	boot, _ := top.Bootstrap()
	assert.Equal(t, "be1", boot.Name)
	assert.Nil(t, top.BackendVIP)

	for hosts, want := range map[string]string{
		"be1\n=backend:bootstrap,be2=backend":             `entry 1: server name "be1\n" is not a host name: it holds a control character`,
		"be1=backend:bootstrap,be\t2=backend":             `entry 2: server name "be\t2" is not a host name: it holds a control character`,
		"be1=backend:bootstrap,be2=backend\nserver \"x\"": `entry 2: server "be2": unknown role`,
	} {
		_, err := (&Cluster{Hosts: hosts}).Topology()
		require.Error(t, err, "%q", hosts)
		assert.Contains(t, err.Error(), "-hosts: hosts: "+want)
	}
	_, err = (&Cluster{Hosts: "be1=backend:bootstrap,be2=backend", Config: "x.rb"}).Topology()
	assert.ErrorContains(t, err, "not both")
	_, err = (&Cluster{}).Topology()
	assert.ErrorContains(t, err, "no cluster named")
	_, err = (&Cluster{Config: filepath.Join(t.TempDir(), "missing.rb")}).Topology()
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestRegisterGivesBothCommandsTheSameFlags(t *testing.T) {
	var c Cluster
	fl := flag.NewFlagSet("x", flag.ContinueOnError)
	c.Register(fl, "give up after this long")
	require.NoError(t, fl.Parse([]string{"-hosts", "a=backend:bootstrap,b=backend", "-accept-new-host-keys", "-ignore", "backup", "-timeout", "5s", "-ssh-config", "/c"}))
	assert.Equal(t, Cluster{Hosts: "a=backend:bootstrap,b=backend", AcceptNewHostKeys: true, Ignore: "backup", Timeout: 5e9, SSHConfig: "/c"}, c)
	assert.True(t, c.Named())
}

func TestIgnoreNames(t *testing.T) {
	names, err := (&Cluster{Ignore: " backup, Log-Dir ,,"}).IgnoreNames()
	require.NoError(t, err)
	assert.Equal(t, []string{"backup", "Log-Dir"}, names)
	names, err = (&Cluster{}).IgnoreNames()
	require.NoError(t, err)
	assert.Empty(t, names)
	_, err = (&Cluster{Ignore: "all"}).IgnoreNames()
	assert.NoError(t, err)
	_, err = (&Cluster{Ignore: "backup,nosuch"}).IgnoreNames()
	var uce *upgrade.UnknownCheckError
	assert.True(t, errors.As(err, &uce), "%v", err)
	_, err = (&Cluster{Ignore: "version,reachable"}).IgnoreNames()
	var ie *upgrade.IgnoreError
	require.True(t, errors.As(err, &ie), "%v", err)
	assert.Equal(t, []string{"version", "reachable"}, ie.Names)
}

func TestMarkSimulation(t *testing.T) {
	for in, want := range map[string]string{
		`{"kind":"plan"}`:    `{"simulation":true,"kind":"plan"}`,
		"{\n  \"a\": 1\n}\n": "{\"simulation\":true,\n  \"a\": 1\n}\n",
		`{}`:                 `{"simulation":true}`,
		`[1]`:                `[1]`,
		`{`:                  `{`,
	} {
		got := MarkSimulation([]byte(in))
		assert.Equal(t, want, string(got), "%q", in)
		if json.Valid([]byte(in)) {
			assert.True(t, json.Valid(got), "%q stays JSON", got)
		}
	}
}

// openPTY returns a pseudo-terminal's follower side, cols columns wide.
func openPTY(t *testing.T, cols int) *os.File {
	t.Helper()
	leader, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here (/dev/ptmx: %v)", err)
	}
	t.Cleanup(func() { leader.Close() })
	fd := int(leader.Fd())
	require.NoError(t, unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0))
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	require.NoError(t, err)
	follower, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	require.NoError(t, err)
	t.Cleanup(func() { follower.Close() })
	require.NoError(t, unix.IoctlSetWinsize(int(follower.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Col: uint16(cols), Row: 24}))
	return follower
}

func TestWidth(t *testing.T) {
	t.Setenv("COLUMNS", "")
	var b bytes.Buffer
	assert.Equal(t, 80, Width(&b, 0), "not a terminal: 80")
	assert.Equal(t, 132, Width(&b, 132), "the option wins")
	assert.False(t, IsTerminal(&b))
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	require.NoError(t, err)
	defer f.Close()
	assert.Equal(t, 80, Width(f, 0), "a file: 80")
	assert.False(t, IsTerminal(f))

	pty := openPTY(t, 123)
	assert.True(t, IsTerminal(pty))
	assert.Equal(t, 123, Width(pty, 0), "a terminal: its columns")
	assert.Equal(t, 90, Width(pty, 90))

	t.Setenv("COLUMNS", "100")
	assert.Equal(t, 100, Width(&b, 0), "COLUMNS, as the shell exports it")
	assert.Equal(t, 100, Width(pty, 0), "COLUMNS wins over the terminal's size")
	assert.Equal(t, 90, Width(pty, 90), "the option wins over COLUMNS")
}

func TestWrap(t *testing.T) {
	assert.Equal(t, "one two\nthree\n", Wrap("one two three", 8))
	assert.Equal(t, "a\nlongerthanwidth\nb\n", Wrap("a longerthanwidth b", 5))
	assert.Equal(t, "→ → →\n", Wrap("→ → →", 5), "runes, not bytes")
}

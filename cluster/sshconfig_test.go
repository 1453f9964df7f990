package cluster_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chefha/chefha/cluster"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestServerConfigsReach: how ServerConfigs says a node is reached.
func TestServerConfigsReach(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "config")
	require.NoError(t, os.WriteFile(conf, []byte(`
Host be1.example.com
  HostName 127.0.0.1
  Port 2201
  User ops

Host 192.168.4.*
  Port 2202

Host *
  User deploy
  IdentityFile /keys/chef_ed25519
`), 0o600))
	reach := cluster.ServerConfigs(conf, false)
	tests := []struct {
		name       string
		server     cluster.Server
		host, user string
		port       int
	}{
		{"named in the config", cluster.Server{Name: "be1.example.com", IPAddress: "10.9.9.9"}, "127.0.0.1", "ops", 2201},
		{"not named: its address, with the file's lines for it", cluster.Server{Name: "fe1.example.com", IPAddress: "192.168.4.2"}, "192.168.4.2", "deploy", 2202},
		{"Host * alone does not name it", cluster.Server{Name: "fe2.example.com", IPAddress: "10.0.0.3"}, "10.0.0.3", "deploy", 0},
		{"no address: its name", cluster.Server{Name: "fe3.example.com"}, "fe3.example.com", "deploy", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := reach(tt.server)
			require.NoError(t, err)
			assert.Equal(t, tt.server.Name, cfg.Name, "named as in the topology")
			assert.Equal(t, tt.host, cfg.Host)
			assert.Equal(t, tt.user, cfg.User)
			assert.Equal(t, tt.port, cfg.Port)
			assert.Equal(t, []string{"/keys/chef_ed25519"}, cfg.IdentityFiles)
		})
	}

	// Without a config file: the address, else the name.
	noFile := cluster.ServerConfigs(filepath.Join(dir, "missing"), true)
	cfg, err := noFile(cluster.Server{Name: "be1.example.com", IPAddress: "192.168.4.1"})
	require.NoError(t, err)
	assert.Equal(t, "192.168.4.1", cfg.Host)
	assert.Equal(t, cluster.HostKeyAcceptNew, cfg.HostKeyPolicy)
	cfg, err = noFile(cluster.Server{Name: "be1.example.com"})
	require.NoError(t, err)
	assert.Equal(t, "be1.example.com", cfg.Host)
}

// TestServerNameNeverChoosesUserOrPort: a server called
// "attacker@127.0.0.1:PORT" used to be dialled as user attacker on PORT.
func TestServerNameNeverChoosesUserOrPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	accepted := make(chan struct{}, 1)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
			select {
			case accepted <- struct{}{}:
			default:
			}
		}
	}()
	evil := "attacker@" + ln.Addr().String()
	dir := t.TempDir()
	conf := filepath.Join(dir, "config")
	require.NoError(t, os.WriteFile(conf, []byte("Host *\n  IdentityFile /nonexistent\n"), 0o600))

	_, err = cluster.LoadSSHConfig(conf, evil)
	assert.ErrorContains(t, err, `"`+evil+`" is not a host name: '@' is not allowed`)
	_, err = cluster.LoadSSHConfig(conf, "be1:2222")
	assert.ErrorContains(t, err, "is not a host name")
	for _, file := range []string{conf, filepath.Join(dir, "missing")} {
		_, err = cluster.ServerConfigs(file, false)(cluster.Server{Name: evil, Role: cluster.RoleBackend})
		assert.ErrorContains(t, err, `server name "`+evil+`" is not a host name`)
	}

	// A topology built by hand, past ParseTopology's checks, still does not
	// reach the port the name points at.
	top := cluster.Topology{Kind: cluster.TopologyTier, Servers: []cluster.Server{{Name: evil, Role: cluster.RoleBackend, Bootstrap: true}}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := cluster.Dial(ctx, top, cluster.ServerConfigs(conf, false))
	require.Error(t, err)
	assert.ErrorContains(t, err, "is not a host name")
	if cl != nil {
		cl.Close()
	}
	select {
	case <-accepted:
		t.Fatal("something dialled the port named in the server's name")
	case <-time.After(200 * time.Millisecond):
	}
}

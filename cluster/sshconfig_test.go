package cluster_test

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chefha/chefha/cluster"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestServerConfigsReach: how ServerConfigs says a node is reached.
func TestServerConfigsReach(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
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

func TestSSHConfigTokens(t *testing.T) {
	t.Setenv("CHEFHA_TEST_CERTS", "/srv/certs")
	dir := t.TempDir()
	conf := filepath.Join(dir, "config")
	require.NoError(t, os.WriteFile(conf, []byte(`
Host be1 be2
  HostName %h.chef.example.com
  User deploy
  Port 2222
  IdentityFile ~/.ssh/%n_%r@%h:%p
  IdentityFile %d/keys/%u-%i-%L-%l
  CertificateFile /certs/%C-cert.pub
  CertificateFile ${CHEFHA_TEST_CERTS}/%k-cert.pub
  UserKnownHostsFile /kh/%h_%%_known /kh/global
  IdentityAgent /run/%u/agent
  ProxyJump %r@bastion-%n:2200

Host bastion-be1
  HostName 10.0.0.5

Host fe1
  IdentityFile /keys/%r-%p

Host bad-hostname
  HostName %n.example.com
Host bad-token
  IdentityFile /keys/%x
Host bad-env
  CertificateFile ${CHEFHA_UNSET_TEST_VAR}/c
Host bad-jump
  ProxyJump %d
Host bad-lone
  IdentityFile /keys/%
Host bad-user
  HostName deploy@10.0.0.9
Host bad-proxy
  ProxyCommand ssh -W %h:%p bastion
Host proxy-none
  ProxyCommand none
`), 0o600))
	cfg, err := cluster.LoadSSHConfig(conf, "be1")
	require.NoError(t, err)
	home, err := os.UserHomeDir()
	require.NoError(t, err)
	long, err := os.Hostname()
	require.NoError(t, err)
	short, _, _ := strings.Cut(long, ".")
	me := localUserName()
	if me == "" {
		me = "root"
	}
	assert.Equal(t, "be1.chef.example.com", cfg.Host)
	assert.Equal(t, []string{
		filepath.Join(home, ".ssh", "be1_deploy@be1.chef.example.com:2222"),
		fmt.Sprintf("%s/keys/%s-%d-%s-%s", home, me, os.Getuid(), short, long),
	}, cfg.IdentityFiles)
	sum := sha1.Sum([]byte(long + "be1.chef.example.com" + "2222" + "deploy"))
	assert.Equal(t, []string{"/certs/" + hex.EncodeToString(sum[:]) + "-cert.pub", "/srv/certs/be1-cert.pub"}, cfg.CertificateFiles)
	assert.Equal(t, []string{"/kh/be1.chef.example.com_%_known", "/kh/global"}, cfg.KnownHostsFiles)
	assert.Equal(t, "/run/"+me+"/agent", cfg.AgentSocket)
	require.Len(t, cfg.ProxyJump, 1)
	assert.Equal(t, "deploy", cfg.ProxyJump[0].User)
	assert.Equal(t, "10.0.0.5", cfg.ProxyJump[0].Host)
	assert.Equal(t, 2200, cfg.ProxyJump[0].Port)

	cfg, err = cluster.LoadSSHConfig(conf, "fe1")
	require.NoError(t, err)
	assert.Equal(t, []string{"/keys/" + me + "-22"}, cfg.IdentityFiles, "%r is the local user and %p 22 when unset")
	_, err = cluster.LoadSSHConfig(conf, "proxy-none")
	assert.NoError(t, err, "ProxyCommand none says there is none")

	for alias, msg := range map[string]string{
		"bad-hostname": `HostName "%n.example.com": %n is not a token HostName takes`,
		"bad-token":    `IdentityFile "/keys/%x": %x is not a token IdentityFile takes`,
		"bad-env":      "environment variable CHEFHA_UNSET_TEST_VAR is not set",
		"bad-jump":     "%d is not a token ProxyJump takes",
		"bad-lone":     "lone %",
		"bad-user":     `HostName "deploy@10.0.0.9" is not a host name`,
		"bad-proxy":    "ProxyCommand is not supported",
	} {
		_, err := cluster.LoadSSHConfig(conf, alias)
		assert.ErrorContains(t, err, msg, alias)
		assert.ErrorContains(t, err, "ssh config "+conf+": Host "+alias, alias)
	}
}

package bench

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/internal/peer"
	"github.com/chefha/chefha/upgrade"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// BenchmarkConnection breaks chefha's cost for one node (be1, the
// bootstrap, whose script is the longest) into its parts, against the
// lab's real sshd. Each sub-benchmark is one part:
//
//	config      cluster.ServerConfigs: the node's ~/.ssh/config entry (here the lab's)
//	tcp         TCP connect to sshd, and close
//	kex         TCP + SSH version exchange and key exchange, up to the
//	            server's refusal of auth "none" (x/crypto/ssh, no key)
//	rawdial     ssh.Dial + Close: TCP + key exchange + public-key auth, with
//	            x/crypto/ssh alone (the key parsed once, beforehand)
//	dial        cluster.DialSSH + Close: the same as chefha dials (key file,
//	            known_hosts and host key algorithms read each time)
//	session     session start on a live connection: open a channel and have
//	            sshd accept an exec request (it forks the login shell before
//	            it answers; the command's run, exit and close untimed)
//	SHELL/exec-true    a raw x/crypto session running `true`: sshd forks the
//	                   login shell, which reads its rc file, and runs it
//	SHELL/run-true     cluster.SSH.Run of `true`: the same, through chefha's
//	                   wrapper (`echo $$; exec true`)
//	SHELL/run-sh-true  cluster.SSH.Run of `sh -c true`: what the script's sh
//	                   layer adds to run-true
//	SHELL/openssh-true `ssh -F <lab ssh_config> be1 true`, OpenSSH's client, no
//	                   ControlMaster: a whole connection and command, as a tool
//	                   that spawns ssh pays it
//	SHELL/run-script   cluster.SSH.Run of be1's gather script, as Gather runs it
//	nsenter/true, nsenter/script   the same inside the node without SSH (nsenter
//	            into its namespaces): script minus true is the script's own
//	            time; their cpu_ms/op is the node's CPU, not chefha's
//	judge       upgrade.Preflight on facts already read: chefha's checks alone
//
// SHELL is bashrc or clean (see shellMode).
func BenchmarkConnection(b *testing.B) {
	l := shared.start(b)
	node := l.Nodes[0]
	srv, _ := l.Topology.Server(node.Name)
	configs := cluster.ServerConfigs(l.SSHConfig, false)
	argv := shared.scripts[node.Name]
	addr := net.JoinHostPort(node.Addr, "22")
	ctx := context.Background()

	cfg, err := configs(srv)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("config", func(b *testing.B) {
		for range b.N {
			if _, err := configs(srv); err != nil {
				b.Fatal(err)
			}
		}
		shared.record(b)
	})
	b.Run("tcp", func(b *testing.B) {
		for range b.N {
			c, err := net.DialTimeout("tcp", addr, opTimeout)
			if err != nil {
				b.Fatal(err)
			}
			c.Close()
		}
		shared.record(b)
	})
	raw := rawClientConfig(b, cfg)
	b.Run("kex", func(b *testing.B) {
		noAuth := *raw
		noAuth.Auth = nil
		for range b.N {
			c, err := net.DialTimeout("tcp", addr, opTimeout)
			if err != nil {
				b.Fatal(err)
			}
			c.SetDeadline(time.Now().Add(opTimeout))
			_, _, _, err = ssh.NewClientConn(c, addr, &noAuth)
			c.Close()
			if err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
				b.Fatalf("want a refusal after the key exchange, got %v", err)
			}
		}
		shared.record(b)
	})
	b.Run("rawdial", func(b *testing.B) {
		for range b.N {
			c, err := ssh.Dial("tcp", addr, raw)
			if err != nil {
				b.Fatal(err)
			}
			c.Close()
		}
		shared.record(b)
	})
	b.Run("dial", func(b *testing.B) {
		for range b.N {
			n, err := cluster.DialSSH(ctx, cfg)
			if err != nil {
				b.Fatal(err)
			}
			n.Close()
		}
		shared.record(b)
	})
	client, err := ssh.Dial("tcp", addr, raw)
	if err != nil {
		b.Fatal(err)
	}
	defer client.Close()
	b.Run("session", func(b *testing.B) {
		for range b.N {
			s, err := client.NewSession()
			if err != nil {
				b.Fatal(err)
			}
			if err := s.Start("true"); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if err := s.Wait(); err != nil {
				b.Fatal(err)
			}
			s.Close()
			b.StartTimer()
		}
		shared.record(b)
	})
	n, err := cluster.DialSSH(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer n.Close()
	run := func(b *testing.B, c cluster.Cmd) {
		for range b.N {
			cctx, cancel := context.WithTimeout(ctx, opTimeout)
			res, err := n.Run(cctx, c)
			cancel()
			if err != nil || res.ExitCode != 0 {
				b.Fatalf("%s: %v", c, err)
			}
		}
		shared.record(b)
	}
	for _, sh := range shells {
		b.Run(string(sh)+"/exec-true", func(b *testing.B) {
			shared.setShell(b, sh)
			b.ResetTimer()
			for range b.N {
				s, err := client.NewSession()
				if err != nil {
					b.Fatal(err)
				}
				if err := s.Run("true"); err != nil {
					b.Fatal(err)
				}
				s.Close()
			}
			shared.record(b)
		})
		b.Run(string(sh)+"/run-true", func(b *testing.B) {
			shared.setShell(b, sh)
			b.ResetTimer()
			run(b, cluster.Command("true"))
		})
		b.Run(string(sh)+"/run-sh-true", func(b *testing.B) {
			shared.setShell(b, sh)
			b.ResetTimer()
			run(b, cluster.Command("sh", "-c", "true"))
		})
		b.Run(string(sh)+"/openssh-true", func(b *testing.B) {
			sshBin := peer.Need(b, "ssh", "openssh-client")
			shared.setShell(b, sh)
			b.ResetTimer()
			for range b.N {
				cctx, cancel := context.WithTimeout(ctx, opTimeout)
				out, err := exec.CommandContext(cctx, sshBin, "-F", l.SSHConfig, "-o", "ControlMaster=no", "-o", "ControlPath=none", node.Name, "true").CombinedOutput()
				cancel()
				if err != nil {
					b.Fatalf("ssh %s true: %v: %s", node.Name, err, out)
				}
			}
			shared.record(b)
		})
		b.Run(string(sh)+"/run-script", func(b *testing.B) {
			shared.setShell(b, sh)
			b.ResetTimer()
			run(b, cluster.Cmd{Argv: argv, Sudo: true})
		})
	}
	for _, c := range []struct {
		name string
		argv []string
	}{{"true", []string{"true"}}, {"script", argv}} {
		b.Run("nsenter/"+c.name, func(b *testing.B) {
			cpu := cpuMeter{who: syscall.RUSAGE_CHILDREN} // the node's processes, which nsenter waits for
			for range b.N {
				cctx, cancel := context.WithTimeout(ctx, opTimeout)
				cpu.start()
				out, err := node.Exec(cctx, c.argv...)
				cpu.stop()
				cancel()
				if err != nil {
					b.Fatalf("%v: %s", err, out)
				}
			}
			shared.record(b)
			cpu.report(b)
		})
	}
	b.Run("judge", func(b *testing.B) {
		cl, err := l.Dial(ctx)
		if err != nil {
			cl.Close()
			b.Fatal(err)
		}
		facts := upgrade.Gather(ctx, cl)
		cl.Close()
		b.ResetTimer()
		for range b.N {
			rep, err := upgrade.Preflight(ctx, nil, upgrade.WithTarget(target.String()), upgrade.WithFacts(facts))
			if err != nil || checkReport(rep) != nil {
				b.Fatal(err, checkReport(rep))
			}
		}
		shared.record(b)
	})
}

// rawClientConfig logs in as chefha does (the user, key and known_hosts
// of the lab's ssh_config, as ServerConfigs read them), with x/crypto/ssh
// alone: the floor under chefha.
func rawClientConfig(b *testing.B, cfg cluster.SSHConfig) *ssh.ClientConfig {
	b.Helper()
	if len(cfg.IdentityFiles) == 0 || len(cfg.KnownHostsFiles) == 0 {
		b.Fatalf("the lab's ssh_config names no IdentityFile or UserKnownHostsFile: %+v", cfg)
	}
	pem, err := os.ReadFile(cfg.IdentityFiles[0])
	if err != nil {
		b.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		b.Fatal(err)
	}
	hk, err := knownhosts.New(cfg.KnownHostsFiles...)
	if err != nil {
		b.Fatal(err)
	}
	return &ssh.ClientConfig{User: cfg.User, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, HostKeyCallback: hk, Timeout: opTimeout}
}

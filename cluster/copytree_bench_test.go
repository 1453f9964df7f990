package cluster_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/internal/peer"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// countingProxy forwards 127.0.0.1 connections to an sshd and counts the
// bytes each way, so chefha, scp and rsync are measured on the same wire.
type countingProxy struct {
	ln       net.Listener
	target   string
	up, down atomic.Int64 // client→server, server→client
	wg       sync.WaitGroup
}

func startCountingProxy(tb testing.TB, target string) *countingProxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &countingProxy{ln: ln, target: target}
	go p.serve()
	tb.Cleanup(func() { ln.Close(); p.wg.Wait() })
	return p
}

func (p *countingProxy) port() int { return p.ln.Addr().(*net.TCPAddr).Port }

func (p *countingProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer c.Close()
			s, err := net.Dial("tcp", p.target)
			if err != nil {
				return
			}
			defer s.Close()
			done := make(chan struct{})
			go func() {
				io.Copy(countingWriter{s, &p.up}, c)
				s.(*net.TCPConn).CloseWrite()
				close(done)
			}()
			io.Copy(countingWriter{c, &p.down}, s)
			c.(*net.TCPConn).CloseWrite()
			<-done
		}()
	}
}

// countingWriter counts as it goes, so a test can read the count while the
// connection stays open.
type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n.Add(int64(n))
	return n, err
}

// settle waits for every proxied connection of the last operation to end,
// so its last bytes are counted.
func (p *countingProxy) settle(tb testing.TB) {
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		tb.Fatal("a proxied connection did not close")
	}
}

func (p *countingProxy) reset() { p.up.Store(0); p.down.Store(0) }

// report puts the bytes per operation beside the time per operation.
func (p *countingProxy) report(b *testing.B) {
	p.settle(b)
	b.ReportMetric(float64(p.up.Load())/float64(b.N), "sent-B/op")
	b.ReportMetric(float64(p.down.Load())/float64(b.N), "recv-B/op")
}

// trustProxy records the sshd's host key for the proxy's port too.
func trustProxy(tb testing.TB, s *sshd, k *clientKey, port int) {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(s.dir, "host_key"))
	if err != nil {
		tb.Fatal(err)
	}
	key, err := ssh.ParseRawPrivateKey(b)
	if err != nil {
		tb.Fatal(err)
	}
	pub, err := ssh.NewPublicKey(key.(*ed25519.PrivateKey).Public())
	if err != nil {
		tb.Fatal(err)
	}
	f, err := os.OpenFile(k.knownHosts, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		tb.Fatal(err)
	}
	fmt.Fprintln(f, knownhosts.Line([]string{knownhosts.Normalize(fmt.Sprintf("127.0.0.1:%d", port))}, pub))
	f.Close()
}

// BenchmarkCopyTree copies a 200-file tree to a real sshd with CopyTree,
// `scp -r` and `rsync -a`, in the same run and through the same counting
// proxy, so time and bytes on the wire compare: fresh (an empty
// destination) and unchanged (the destination already holds the tree, as
// on a second hop of an upgrade). Every operation opens its own connection
// (chefha dials per copy, as scp and rsync do), so handshakes count alike.
func BenchmarkCopyTree(b *testing.B) {
	k := newClientKey(b)
	s := startSSHD(b, k)
	proxy := startCountingProxy(b, net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)))
	trustProxy(b, s, k, proxy.port())
	cfg := s.config(k, "fe1")
	cfg.Port = proxy.port()

	src := filepath.Join(b.TempDir(), "opscode")
	makeTree(b, src, 200)
	var total int64
	filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if fi, err := d.Info(); err == nil && fi.Mode().IsRegular() {
			total += fi.Size()
		}
		return nil
	})
	sshOpts := []string{"-i", k.keyFile, "-o", "UserKnownHostsFile=" + k.knownHosts,
		"-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes"}
	remote := localUserName() + "@127.0.0.1:"

	// As the upgrade copies /etc/opscode: owners by name. `scp -p` and
	// `rsync -a` as a user other than root keep no owners either way.
	chefha := func(b *testing.B, dst string) {
		n, err := cluster.DialSSH(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		defer n.Close()
		rep, err := cluster.CopyTree(context.Background(), cluster.NewLocal("bootstrap"), src, n, dst, cluster.CopyOptions{OwnersByName: true})
		if err != nil {
			b.Fatal(err)
		}
		if rep.Backup != "" {
			b.StopTimer()
			os.RemoveAll(rep.Backup)
			b.StartTimer()
		}
	}
	// scp -r SRC HOST:PARENT writes PARENT/opscode, as the runbook's
	// `scp -r BOOTSTRAP:/etc/opscode /etc` writes /etc/opscode.
	scp := func(b *testing.B, parent string) {
		bin := peer.Need(b, "scp", "openssh-client")
		args := append([]string{"-r", "-p", "-q", "-P", strconv.Itoa(proxy.port())}, sshOpts...)
		cmd := exec.Command(bin, append(args, src, remote+parent)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("scp: %v\n%s", err, out)
		}
	}
	rsync := func(b *testing.B, dst string) {
		bin := peer.Need(b, "rsync", "rsync")
		sshBin := peer.Need(b, "ssh", "openssh-client")
		rsh := cluster.ShellJoin(append([]string{sshBin, "-p", strconv.Itoa(proxy.port())}, sshOpts...))
		cmd := exec.Command(bin, "-a", "-e", rsh, src+"/", remote+dst+"/")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("rsync: %v\n%s", err, out)
		}
	}
	tools := []struct {
		name string
		run  func(*testing.B, string)
		dst  func(dir string) string // the destination to name, given the run's directory
	}{
		{"chefha", chefha, func(d string) string { return filepath.Join(d, "opscode") }},
		{"scp", scp, func(d string) string { return d }},
		{"rsync", rsync, func(d string) string { return filepath.Join(d, "opscode") }},
	}

	for _, tool := range tools {
		b.Run("fresh/"+tool.name, func(b *testing.B) {
			base := b.TempDir()
			b.SetBytes(total)
			proxy.reset()
			i := 0
			for b.Loop() {
				i++
				dir := filepath.Join(base, strconv.Itoa(i))
				if err := os.Mkdir(dir, 0o755); err != nil {
					b.Fatal(err)
				}
				tool.run(b, tool.dst(dir))
			}
			proxy.report(b)
		})
	}
	for _, tool := range tools {
		b.Run("unchanged/"+tool.name, func(b *testing.B) {
			dir := b.TempDir()
			tool.run(b, tool.dst(dir)) // the first copy fills it
			if _, err := os.Stat(filepath.Join(dir, "opscode", "pivotal.pem")); errors.Is(err, fs.ErrNotExist) {
				b.Fatalf("%s did not write %s/opscode", tool.name, dir)
			}
			proxy.settle(b)
			b.SetBytes(total)
			proxy.reset()
			for b.Loop() {
				tool.run(b, tool.dst(dir))
			}
			proxy.report(b)
		})
	}
}

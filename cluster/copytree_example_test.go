package cluster_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/chefha/chefha/cluster"
)

// The runbook's `scp -r BOOTSTRAP:/etc/opscode /etc`, done twice: the
// second copy sends only the file that changed. Local nodes stand in for
// the bootstrap and a front end; cluster.DialSSH gives real ones.
func ExampleCopyTree() {
	base, err := os.MkdirTemp("", "chefha-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(base)
	src := filepath.Join(base, "bootstrap", "opscode")
	dst := filepath.Join(base, "fe1", "opscode")
	os.MkdirAll(filepath.Join(src, "keys"), 0o755)
	os.MkdirAll(filepath.Dir(dst), 0o755)
	os.WriteFile(filepath.Join(src, "private-chef.rb"), []byte("topology \"ha\"\n"), 0o644)
	os.WriteFile(filepath.Join(src, "keys", "pivotal.pem"), []byte("-----BEGIN RSA PRIVATE KEY-----\n"), 0o600)

	ctx := context.Background()
	bootstrap, fe1 := cluster.NewLocal("bootstrap"), cluster.NewLocal("fe1")
	rep, err := cluster.CopyTree(ctx, bootstrap, src, fe1, dst, cluster.CopyOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("first copy: %d files sent, %d reused, backup kept: %t\n", rep.Sent, rep.Reused, rep.Backup != "")

	os.WriteFile(filepath.Join(src, "private-chef.rb"), []byte("topology \"ha\"\nbackend_vip \"10.0.0.5\"\n"), 0o644)
	rep, err = cluster.CopyTree(ctx, bootstrap, src, fe1, dst, cluster.CopyOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("second copy: %d file sent (%d bytes), %d reused, backup kept: %t\n", rep.Sent, rep.BytesSent, rep.Reused, rep.Backup != "")
	// Output:
	// first copy: 2 files sent, 0 reused, backup kept: false
	// second copy: 1 file sent (37 bytes), 1 reused, backup kept: true
}

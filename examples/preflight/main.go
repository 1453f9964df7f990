// Command preflight reports what is wrong with an HA Chef cluster before an
// upgrade touches it. Until the cluster packages land it diagnoses the runit
// tree of this machine from `ps`.
package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"time"

	"github.com/chefha/chefha/runit"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ps", "-eo", "pid,ppid,user,stat,args").Output()
	if err != nil {
		fmt.Fprintln(os.Stderr, "preflight: ps:", err)
		os.Exit(1)
	}
	ps, err := runit.ParsePS(bytes.NewReader(out))
	if err != nil {
		fmt.Fprintln(os.Stderr, "preflight:", err)
		os.Exit(1)
	}
	dirs := runit.FindRunsvdirs(ps)
	fmt.Printf("%d processes, %d runsvdir\n", len(ps), len(dirs))
	for _, f := range runit.DiagnoseProcesses(ps) {
		fmt.Println(f)
	}
}

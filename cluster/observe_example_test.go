package cluster_test

import (
	"context"
	"fmt"

	"github.com/chefha/chefha/cluster"
)

// Every call an observed node answers is reported once it returned: what
// a command log, a progress display or a test needs to see.
func ExampleObserve() {
	n := cluster.Observe(cluster.NewLocal("be1"), func(c cluster.Call) {
		fmt.Printf("%s %s %q: exit %d, %q\n", c.Node, c.Op, c.Cmd.String(), c.Result.ExitCode, c.Result.Stdout)
	})
	n.Run(context.Background(), cluster.Command("echo", "run: keepalived"))
	// Output:
	// be1 run "echo 'run: keepalived'": exit 0, "run: keepalived\n"
}

package main

import (
	"context"
	"fmt"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/internal/termsafe"
	"github.com/chefha/chefha/upgrade"
)

// postflight is -verify: the post-upgrade checks alone.
func postflight(ctx context.Context, cl *cluster.Cluster, target fmt.Stringer, o *output) int {
	rep, err := upgrade.Postflight(ctx, cl, upgrade.WithTarget(target.String()))
	if err != nil {
		fmt.Fprintln(o.stderr, "upgrade:", termsafe.String(err.Error()))
		return exitUsage
	}
	if o.format == "json" {
		err = o.json(rep)
	} else {
		err = rep.WriteText(o.stdout, o.width)
	}
	if err != nil {
		fmt.Fprintln(o.stderr, "upgrade:", err)
		return exitUsage
	}
	if rep.Failed() {
		return exitFailed
	}
	return exitOK
}

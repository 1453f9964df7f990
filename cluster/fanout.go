package cluster

import (
	"context"
	"errors"
	"sync"
)

// NodeResult is one node's outcome of Each.
type NodeResult[T any] struct {
	Node  string
	Value T
	Err   error
}

// Each runs fn on every node, at most limit at a time (limit <= 0: all at
// once), and returns every node's result in the order of nodes. One node's
// failure does not stop the others: an operator needs to know about every
// node, not the first that failed.
func Each[T any](ctx context.Context, nodes []Node, limit int, fn func(context.Context, Node) (T, error)) []NodeResult[T] {
	return fanOut(ctx, nodes, Node.Name, limit, fn)
}

// fanOut is Each over anything with a name.
func fanOut[I, T any](ctx context.Context, items []I, name func(I) string, limit int, fn func(context.Context, I) (T, error)) []NodeResult[T] {
	if limit <= 0 || limit > len(items) {
		limit = len(items)
	}
	out := make([]NodeResult[T], len(items))
	sem := make(chan struct{}, max(limit, 1))
	var wg sync.WaitGroup
	for i, n := range items {
		out[i].Node = name(n)
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			out[i].Err = ctx.Err()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out[i].Value, out[i].Err = fn(ctx, n)
		}()
	}
	wg.Wait()
	return out
}

// JoinErrors joins the failures of Each (nil when every node succeeded).
func JoinErrors[T any](rs []NodeResult[T]) error {
	var errs []error
	for _, r := range rs {
		if r.Err != nil {
			errs = append(errs, r.Err)
		}
	}
	return errors.Join(errs...)
}

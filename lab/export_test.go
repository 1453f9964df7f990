package lab

import "context"

// HoldAlloc takes the lock under which every Start and CleanLeftovers
// removes dead labs, and returns its release: a test that must see a dead
// lab's leftovers before anyone removes them holds it meanwhile.
func HoldAlloc(ctx context.Context) (release func(), err error) {
	lf, err := lockAlloc(ctx)
	if err != nil {
		return nil, err
	}
	return func() { lf.Close() }, nil
}

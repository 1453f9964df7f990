package cluster

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"strings"
)

// UnreachableError is the answer of a node that Dial could not reach.
type UnreachableError struct {
	Node string // the server's name
	Addr string // host:port dialled; "" when it was refused before dialling
	Err  error  // why: a refused connection, a *HostKeyError, a bad name, …
}

func (e *UnreachableError) Error() string {
	why := strings.TrimPrefix(e.Err.Error(), e.Node+": ")
	if e.Addr == "" {
		return fmt.Sprintf("%s: not reached: %s", e.Node, why)
	}
	return fmt.Sprintf("%s: not reached at %s: %s", e.Node, e.Addr, why)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// DialError is Dial's report of the nodes it could not reach.
type DialError struct {
	Unreachable []*UnreachableError
	Total       int // servers dialled
}

func (e *DialError) Error() string {
	msgs := make([]string, len(e.Unreachable))
	for i, u := range e.Unreachable {
		msgs[i] = u.Error()
	}
	return fmt.Sprintf("%d of %d nodes not reached: %s", len(e.Unreachable), e.Total, strings.Join(msgs, "; "))
}

// Unwrap gives the per-node errors, so errors.As finds *UnreachableError
// and what caused it.
func (e *DialError) Unwrap() []error {
	out := make([]error, len(e.Unreachable))
	for i, u := range e.Unreachable {
		out[i] = u
	}
	return out
}

// unreachable is the node Dial leaves for a server it could not reach:
// every call fails with the same *UnreachableError, at once.
type unreachable struct{ err *UnreachableError }

func (u unreachable) Name() string                                     { return u.err.Node }
func (u unreachable) Run(context.Context, Cmd) (Result, error)         { return Result{}, u.err }
func (u unreachable) ReadFile(context.Context, string) ([]byte, error) { return nil, u.err }
func (u unreachable) WriteFile(context.Context, string, []byte, fs.FileMode) error {
	return u.err
}
func (u unreachable) WriteFileFrom(context.Context, string, io.Reader, fs.FileMode) error {
	return u.err
}
func (u unreachable) Stat(context.Context, string) (FileInfo, error)      { return FileInfo{}, u.err }
func (u unreachable) ReadDir(context.Context, string) ([]FileInfo, error) { return nil, u.err }
func (u unreachable) Mkdir(context.Context, string, fs.FileMode) error    { return u.err }
func (u unreachable) Rename(context.Context, string, string) error        { return u.err }
func (u unreachable) RemoveAll(context.Context, string) error             { return u.err }
func (u unreachable) Chown(context.Context, string, int, int) error       { return u.err }
func (u unreachable) Symlink(context.Context, string, string) error       { return u.err }
func (u unreachable) Close() error                                        { return nil }
func (u unreachable) SHA256(context.Context, []string) ([][sha256.Size]byte, error) {
	return nil, u.err
}

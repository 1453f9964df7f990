package cluster

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"
)

// Exchange is one call to a node and its answer, as Recording saves it
// and Replay serves it. One JSON file per exchange, numbered in call order,
// readable and diffable.
type Exchange struct {
	Op    string   `json:"op"` // run, read, write, stat, readdir
	Argv  []string `json:"argv,omitempty"`
	Sudo  bool     `json:"sudo,omitempty"`
	Stdin Blob     `json:"stdin,omitempty"`
	Path  string   `json:"path,omitempty"`
	Data  Blob     `json:"data,omitempty"` // read: the contents; write: what was written
	Perm  uint32   `json:"perm,omitempty"`

	Stdout   Blob       `json:"stdout,omitempty"`
	Stderr   Blob       `json:"stderr,omitempty"`
	ExitCode int        `json:"exit_code,omitempty"`
	Info     *FileInfo  `json:"info,omitempty"`
	Entries  []FileInfo `json:"entries,omitempty"`
	Err      string     `json:"error,omitempty"`
	NotExist bool       `json:"not_exist,omitempty"`
}

// key identifies the request half of an exchange. Its text is redacted
// the way a default Recording saves it, so a call carrying a secret finds
// the exchange recorded without it (and two calls that differ only in a
// secret are one key).
func (e Exchange) key() string {
	var written Blob
	if e.Op == "write" { // for reads, Data is the answer
		written = RedactSecrets(e.Data)
	}
	argv := make([]string, len(e.Argv))
	for i, a := range e.Argv {
		argv[i] = string(RedactSecrets([]byte(a)))
	}
	k, _ := json.Marshal([]any{e.Op, argv, e.Sudo, Blob(RedactSecrets(e.Stdin)), e.Path, written, e.Perm})
	return string(k)
}

// redacted returns e with RedactSecrets applied to everything it carries.
func (e Exchange) redacted() Exchange {
	red := func(b Blob) Blob {
		if b == nil {
			return nil
		}
		return RedactSecrets(b)
	}
	if e.Argv != nil {
		argv := make([]string, len(e.Argv))
		for i, a := range e.Argv {
			argv[i] = string(RedactSecrets([]byte(a)))
		}
		e.Argv = argv
	}
	e.Stdin, e.Data, e.Stdout, e.Stderr = red(e.Stdin), red(e.Data), red(e.Stdout), red(e.Stderr)
	e.Err = string(RedactSecrets([]byte(e.Err)))
	return e
}

func (e Exchange) String() string {
	switch e.Op {
	case "run":
		s := ShellJoin(e.Argv)
		if e.Sudo {
			s = "(root) " + s
		}
		return "run " + s
	default:
		return e.Op + " " + e.Path
	}
}

// Blob is bytes that marshal as a JSON string when they are UTF-8 (so
// fixtures stay readable) and as {"base64": ...} when not.
type Blob []byte

func (b Blob) MarshalJSON() ([]byte, error) {
	if utf8.Valid(b) {
		return json.Marshal(string(b))
	}
	return json.Marshal(map[string]string{"base64": base64.StdEncoding.EncodeToString(b)})
}

func (b *Blob) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err == nil {
		*b = Blob(s)
		return nil
	}
	var m struct{ Base64 string }
	if err := json.Unmarshal(data, &m); err != nil {
		return err
	}
	d, err := base64.StdEncoding.DecodeString(m.Base64)
	*b = d
	return err
}

// Recording wraps a node and saves every exchange with it under a
// directory, for Replay to serve later: capture a real cluster once, test
// tooling against it forever.
//
// What a node says is private: the directory is 0700, each exchange a 0600
// file, and secrets are redacted (RedactSecrets) before anything is
// written unless RecordingOptions.KeepSecrets says otherwise. The caller
// still gets the node's answers unredacted.
type Recording struct {
	Node
	dir  string
	opts RecordingOptions
	mu   sync.Mutex
	seq  int
}

// RecordingOptions change what a Recording saves.
type RecordingOptions struct {
	// KeepSecrets saves exchanges exactly as they were, secrets included.
	// Only for fixtures that never leave the machine they were made on.
	KeepSecrets bool
}

// NewRecording wraps n, saving redacted exchanges in dir.
func NewRecording(n Node, dir string) (*Recording, error) {
	return NewRecordingWith(n, dir, RecordingOptions{})
}

// NewRecordingWith wraps n, saving exchanges in dir as opts say. A missing
// dir is created 0700; an existing one, or a file in it, that group or
// others may read is refused with a *ModeError naming it and the chmod
// that mends it.
func NewRecordingWith(n Node, dir string, opts RecordingOptions) (*Recording, error) {
	if err := privateDir(dir, "recording directory"); err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("recording directory: %w", err)
	}
	if err := privateFiles(dir, ents, "recording file"); err != nil {
		return nil, err
	}
	return &Recording{Node: n, dir: dir, opts: opts, seq: len(ents)}, nil
}

func (r *Recording) save(e Exchange, err error) error {
	if err != nil {
		e.Err = err.Error()
		e.NotExist = errors.Is(err, fs.ErrNotExist)
		var ee *ExitError
		if errors.As(err, &ee) {
			e.ExitCode = ee.Result.ExitCode
		}
	}
	if !r.opts.KeepSecrets {
		e = e.redacted()
	}
	b, merr := json.MarshalIndent(e, "", "  ")
	if merr != nil {
		return merr
	}
	r.mu.Lock()
	r.seq++
	name := filepath.Join(r.dir, fmt.Sprintf("%05d-%s.json", r.seq, e.Op))
	r.mu.Unlock()
	return writePrivate(name, append(b, '\n'))
}

func (r *Recording) Run(ctx context.Context, c Cmd) (Result, error) {
	res, err := r.Node.Run(ctx, c)
	e := Exchange{Op: "run", Argv: c.Argv, Sudo: c.Sudo, Stdin: c.Stdin, Stdout: res.Stdout, Stderr: res.Stderr, ExitCode: res.ExitCode}
	return res, joinKeep(err, r.save(e, err))
}

func (r *Recording) ReadFile(ctx context.Context, name string) ([]byte, error) {
	b, err := r.Node.ReadFile(ctx, name)
	return b, joinKeep(err, r.save(Exchange{Op: "read", Path: name, Data: b}, err))
}

func (r *Recording) WriteFile(ctx context.Context, name string, data []byte, perm fs.FileMode) error {
	err := r.Node.WriteFile(ctx, name, data, perm)
	return joinKeep(err, r.save(Exchange{Op: "write", Path: name, Data: data, Perm: uint32(perm)}, err))
}

func (r *Recording) Stat(ctx context.Context, name string) (FileInfo, error) {
	fi, err := r.Node.Stat(ctx, name)
	e := Exchange{Op: "stat", Path: name}
	if err == nil {
		e.Info = &fi
	}
	return fi, joinKeep(err, r.save(e, err))
}

func (r *Recording) ReadDir(ctx context.Context, name string) ([]FileInfo, error) {
	ents, err := r.Node.ReadDir(ctx, name)
	return ents, joinKeep(err, r.save(Exchange{Op: "readdir", Path: name, Entries: ents}, err))
}

// joinKeep returns the node's error unchanged (so errors.As still finds
// *ExitError) unless saving failed too.
func joinKeep(err, saveErr error) error {
	if saveErr == nil {
		return err
	}
	return errors.Join(err, fmt.Errorf("recording: %w", saveErr))
}

// Replay is a node that answers from recorded exchanges. It is strict: a
// call that was not recorded fails with *UnrecordedError instead of
// guessing. Identical calls get their recorded answers in order; once
// those run out the last one repeats (polling loops read the settled
// state).
type Replay struct {
	name  string
	mu    sync.Mutex
	byKey map[string][]Exchange
	used  map[string]int
}

// UnrecordedError is a call Replay has no recording of.
type UnrecordedError struct {
	Node string
	Call string
}

func (e *UnrecordedError) Error() string {
	return fmt.Sprintf("%s: replay: no recorded exchange for %s", e.Node, e.Call)
}

// LoadReplay reads the exchanges Recording saved in dir.
func LoadReplay(name, dir string) (*Replay, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".json") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	r := &Replay{name: name, byKey: map[string][]Exchange{}, used: map[string]int{}}
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			return nil, err
		}
		var e Exchange
		if err := json.Unmarshal(b, &e); err != nil {
			return nil, fmt.Errorf("replay %s: %w", filepath.Join(dir, n), err)
		}
		r.byKey[e.key()] = append(r.byKey[e.key()], e)
	}
	return r, nil
}

func (r *Replay) Name() string { return r.name }

func (r *Replay) answer(req Exchange) (Exchange, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := req.key()
	list := r.byKey[k]
	if len(list) == 0 {
		return Exchange{}, &UnrecordedError{Node: r.name, Call: req.String()}
	}
	i := min(r.used[k], len(list)-1)
	r.used[k]++
	e := list[i]
	if e.Err == "" {
		return e, nil
	}
	var err error
	switch {
	case e.NotExist:
		err = fmt.Errorf("%s: %s (replayed): %w", r.name, e.Err, fs.ErrNotExist)
	case e.Op == "run" && e.ExitCode != 0:
		err = &ExitError{Node: r.name, Cmd: ShellJoin(e.Argv), Result: Result{Stdout: e.Stdout, Stderr: e.Stderr, ExitCode: e.ExitCode}}
	default:
		err = fmt.Errorf("%s (replayed)", e.Err)
	}
	return e, err
}

func (r *Replay) Run(ctx context.Context, c Cmd) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	e, err := r.answer(Exchange{Op: "run", Argv: c.Argv, Sudo: c.Sudo, Stdin: c.Stdin})
	if c.Output != nil {
		c.Output.Write(e.Stdout) // all at once: the recording kept no timing
	}
	return Result{Stdout: slices.Clone(e.Stdout), Stderr: slices.Clone(e.Stderr), ExitCode: e.ExitCode}, err
}

func (r *Replay) ReadFile(ctx context.Context, name string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e, err := r.answer(Exchange{Op: "read", Path: name})
	return slices.Clone(e.Data), err
}

func (r *Replay) WriteFile(ctx context.Context, name string, data []byte, perm fs.FileMode) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	_, err := r.answer(Exchange{Op: "write", Path: name, Data: data, Perm: uint32(perm)})
	return err
}

func (r *Replay) Stat(ctx context.Context, name string) (FileInfo, error) {
	if err := ctx.Err(); err != nil {
		return FileInfo{}, err
	}
	e, err := r.answer(Exchange{Op: "stat", Path: name})
	if e.Info == nil {
		return FileInfo{}, err
	}
	return *e.Info, err
}

func (r *Replay) ReadDir(ctx context.Context, name string) ([]FileInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e, err := r.answer(Exchange{Op: "readdir", Path: name})
	return slices.Clone(e.Entries), err
}

func (r *Replay) Close() error { return nil }

// Command gotest is make test's test command: it runs `go test -json` on
// the packages, prints one line per package as it finishes (with the
// output of whatever failed), and ends with how many tests ran, passed,
// failed and were skipped, each skip with its reason. Under
// CHEFHA_REQUIRE_PEERS (CI) it fails when a test was skipped for anything
// but an optional reason (peer.Optional) or a package with tests ran none:
// a green run cannot hide a suite that did not run.
//
// Packages named by -first get a `go test` of their own, started at once
// beside the others: the lab's tests mostly wait on real programs, so they
// overlap the CPU-bound packages instead of queueing behind them.
//
//	go run ./internal/gotest -goflags -race -first ./lab -first ./upgrade ./...
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// requireEnv is peer.RequireEnv.
const requireEnv = "CHEFHA_REQUIRE_PEERS"

type patterns []string

func (p *patterns) String() string     { return strings.Join(*p, ",") }
func (p *patterns) Set(s string) error { *p = append(*p, s); return nil }

func main() {
	var first patterns
	goflags := flag.String("goflags", "", "flags for go test, space-separated (e.g. -race)")
	flag.Var(&first, "first", "a package pattern to test in a go test of its own, started at once (repeatable)")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: gotest [-goflags FLAGS] [-first PATTERN]... PATTERN...")
		os.Exit(2)
	}
	os.Exit(run(strings.Fields(*goflags), first, flag.Args(), os.Stdout))
}

func run(goflags, first, pats []string, out io.Writer) int {
	start := time.Now()
	all, hasTests, err := list(pats)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gotest:", err)
		return 2
	}
	var firstPkgs []string
	if len(first) > 0 {
		if firstPkgs, _, err = list(first); err != nil {
			fmt.Fprintln(os.Stderr, "gotest:", err)
			return 2
		}
		firstPkgs = slices.DeleteFunc(firstPkgs, func(p string) bool { return !slices.Contains(all, p) })
	}
	rest := slices.DeleteFunc(slices.Clone(all), func(p string) bool { return slices.Contains(firstPkgs, p) })

	s := NewSummary()
	s.HasTests = hasTests
	var mu sync.Mutex
	var wg sync.WaitGroup
	var exitErrs []error
	for _, pkgs := range [][]string{firstPkgs, rest} {
		if len(pkgs) == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			args := append(append([]string{"test", "-json"}, goflags...), pkgs...)
			if err := stream(args, func(e Event) {
				mu.Lock()
				defer mu.Unlock()
				if p := s.Add(e); p != nil {
					fmt.Fprintf(out, "%s %s\n", clock(time.Since(start)), p.Line())
					p.Failures(out)
				}
			}); err != nil {
				mu.Lock()
				exitErrs = append(exitErrs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, b := range s.build {
		io.WriteString(out, b)
	}
	strict := os.Getenv(requireEnv) != ""
	s.WriteSummary(out, time.Since(start), strict)
	if len(s.Problems(strict)) > 0 {
		return 1
	}
	if len(exitErrs) > 0 {
		// go test failed with every package accounted for as passing: its
		// own error (on stderr) is the reason.
		fmt.Fprintln(out, "FAIL: go test:", exitErrs)
		return 1
	}
	return 0
}

// clock is the time since the run started, as [m:ss].
func clock(d time.Duration) string {
	d = d.Round(time.Second)
	return fmt.Sprintf("[%d:%02d]", int(d.Minutes()), int(d.Seconds())%60)
}

// stream runs the go command with args and hands each JSON event of its
// standard output to f; other lines are printed as they come.
func stream(args []string, f func(Event)) error {
	cmd := exec.Command("go", args...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var e Event
		if !bytes.HasPrefix(sc.Bytes(), []byte("{")) || json.Unmarshal(sc.Bytes(), &e) != nil {
			fmt.Println(sc.Text())
			continue
		}
		f(e)
	}
	io.Copy(io.Discard, stdout)
	return cmd.Wait()
}

// testFunc is a top-level test function of a _test.go file.
var testFunc = regexp.MustCompile(`(?m)^func Test[^M(]\w*\(\w+ \*testing\.T\)|^func TestM[^a]\w*\(`)

// list expands pats to import paths, and says which have Test functions.
func list(pats []string) ([]string, map[string]bool, error) {
	cmd := exec.Command("go", append([]string{"list", "-json=ImportPath,Dir,TestGoFiles,XTestGoFiles"}, pats...)...)
	cmd.Stderr = os.Stderr
	b, err := cmd.Output()
	if err != nil {
		return nil, nil, fmt.Errorf("go list %s: %w", strings.Join(pats, " "), err)
	}
	var names []string
	has := map[string]bool{}
	dec := json.NewDecoder(bytes.NewReader(b))
	for dec.More() {
		var p struct {
			ImportPath, Dir           string
			TestGoFiles, XTestGoFiles []string
		}
		if err := dec.Decode(&p); err != nil {
			return nil, nil, fmt.Errorf("go list: %w", err)
		}
		names = append(names, p.ImportPath)
		for _, f := range append(p.TestGoFiles, p.XTestGoFiles...) {
			src, err := os.ReadFile(p.Dir + "/" + f)
			if err == nil && testFunc.Match(src) {
				has[p.ImportPath] = true
				break
			}
		}
	}
	return names, has, nil
}

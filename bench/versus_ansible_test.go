package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chefha/chefha/internal/peer"
	"github.com/chefha/chefha/keepalived"
	"github.com/chefha/chefha/lab"
	"github.com/chefha/chefha/migration"
	"github.com/chefha/chefha/upgrade"
)

// ansible runs Debian's ansible ad-hoc command against the lab. Its
// settings, all of them here so that they can be read and argued with:
//
//   - Ansible's defaults (ANSIBLE_CONFIG names an empty file, so neither
//     /etc/ansible/ansible.cfg nor one in the working directory applies),
//     among them ssh_args "-C -o ControlMaster=auto -o ControlPersist=60s":
//     compression on, and each host's connection kept 60 s by a master
//     that later calls reuse;
//   - forks 5 (-f 5): all five nodes at once, as chefha reads them;
//   - pipelining on (ANSIBLE_PIPELINING): a module is fed to the node's
//     python on stdin, with no temporary file copied over first;
//   - gathering off: an ad-hoc call runs no setup module, and
//     ANSIBLE_GATHERING=explicit says so for anything else;
//   - ansible_python_interpreter /usr/bin/python3: no interpreter
//     discovery, which would cost an extra command on every node;
//   - ansible_ssh_common_args "-F <the lab's ssh_config>": the same user,
//     key, addresses and known_hosts chefha uses.
//
// A fresh directory for ControlPath (ANSIBLE_SSH_CONTROL_PATH_DIR) makes
// an op cold; reusing one keeps it warm.
type ansible struct {
	bin, ssh string
	dir      string // inventory, config, ANSIBLE_HOME
	inv      string
	env      []string

	mu       sync.Mutex
	controls []string // control dirs made, whose masters are closed at the end
	n        int
}

var ansibleOnce struct {
	once sync.Once
	a    *ansible
	err  error
}

// getAnsible finds ansible and ssh (or skips, naming the packages) and
// writes the inventory once per run.
func getAnsible(b *testing.B, l *lab.Lab) *ansible {
	b.Helper()
	bin := peer.Need(b, "ansible", "ansible")
	sshBin := peer.Need(b, "ssh", "openssh-client")
	ansibleOnce.once.Do(func() {
		a := &ansible{bin: bin, ssh: sshBin, dir: filepath.Join(shared.tmp, "ansible")}
		if err := os.MkdirAll(filepath.Join(a.dir, "home"), 0o700); err != nil {
			ansibleOnce.err = err
			return
		}
		a.inv = filepath.Join(a.dir, "inventory.yml")
		cfg := filepath.Join(a.dir, "ansible.cfg")
		if err := os.WriteFile(a.inv, []byte(inventory(l, shared.scripts)), 0o600); err != nil {
			ansibleOnce.err = err
			return
		}
		if err := os.WriteFile(cfg, nil, 0o600); err != nil {
			ansibleOnce.err = err
			return
		}
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "ANSIBLE_") && !strings.HasPrefix(kv, "LC_ALL=") {
				a.env = append(a.env, kv)
			}
		}
		a.env = append(a.env, "ANSIBLE_CONFIG="+cfg, "ANSIBLE_HOME="+filepath.Join(a.dir, "home"),
			"ANSIBLE_PIPELINING=True", "ANSIBLE_GATHERING=explicit", "ANSIBLE_FORKS=5",
			"ANSIBLE_NOCOLOR=1", "ANSIBLE_DEPRECATION_WARNINGS=False",
			"LC_ALL=C.UTF-8") // Ansible refuses to start under a locale that is not UTF-8
		ansibleOnce.a = a
		shared.onClose(a.closeAll)
	})
	if ansibleOnce.err != nil {
		b.Fatal(ansibleOnce.err)
	}
	return ansibleOnce.a
}

// inventory is a YAML inventory of the lab: groups backends and frontends,
// and on each host chefha's gather script for it as chefha_script, marked
// !unsafe so that Ansible's templating leaves it as it is.
func inventory(l *lab.Lab, scripts map[string][]string) string {
	q := func(s string) string {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.Encode(s) // a JSON string is a YAML double-quoted scalar
		return strings.TrimSuffix(b.String(), "\n")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "all:\n  vars:\n    ansible_ssh_common_args: %s\n    ansible_python_interpreter: /usr/bin/python3\n  children:\n", q("-F "+l.SSHConfig))
	for _, group := range []string{"backends", "frontends"} {
		fmt.Fprintf(&b, "    %s:\n      hosts:\n", group)
		for _, n := range l.Nodes {
			if n.Backend == (group == "backends") {
				fmt.Fprintf(&b, "        %s:\n          chefha_script: !unsafe %s\n", n.Name, q(scripts[n.Name][2]))
			}
		}
	}
	return b.String()
}

// controlDir is a fresh directory for ssh's control sockets.
func (a *ansible) controlDir(b *testing.B) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.n++
	d := filepath.Join(a.dir, fmt.Sprintf("cp%d", a.n))
	if err := os.Mkdir(d, 0o700); err != nil {
		b.Fatal(err)
	}
	a.controls = append(a.controls, d)
	return d
}

// closeMasters asks the ControlPersist masters of a control dir to exit
// (ssh -O exit on each socket) and removes the dir.
func (a *ansible) closeMasters(d string) {
	ents, _ := os.ReadDir(d)
	for _, e := range ents {
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		exec.CommandContext(ctx, a.ssh, "-o", "ControlPath="+filepath.Join(d, e.Name()), "-O", "exit", "lab-node").Run()
		cancel()
	}
	os.RemoveAll(d)
}

func (a *ansible) closeAll() {
	a.mu.Lock()
	ds := a.controls
	a.controls = nil
	a.mu.Unlock()
	for _, d := range ds {
		a.closeMasters(d)
	}
}

// hostLine is the first line of a host's answer in ansible's default
// output for command modules: "be1.lab.test | CHANGED | rc=0 >>".
var hostLine = regexp.MustCompile(`(?m)^(\S+) \| (CHANGED|SUCCESS|FAILED|UNREACHABLE!?)( \| rc=(\d+))?`)

// call runs one ad-hoc command over hosts and checks that every host of
// the pattern answered (a command may fail on a node: that is an answer,
// as it is for chefha; an unreachable node is not). It returns the output.
// Each call has opTimeout of its own: an op of several calls (the six
// reads) on a loaded machine must not fail for their sum.
func (a *ansible) call(ctx context.Context, control, pattern, module, arg string, want int) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, a.bin, pattern, "-i", a.inv, "-f", "5", "-m", module, "-a", arg)
	cmd.Env = append(a.env, "ANSIBLE_SSH_CONTROL_PATH_DIR="+control)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 2) { // 2: some host's command failed
		return out, fmt.Errorf("ansible %s -m %s: %v: %s", pattern, module, err, out)
	}
	answered := 0
	for _, m := range hostLine.FindAllStringSubmatch(string(out), -1) {
		if strings.HasPrefix(m[2], "UNREACHABLE") || m[4] == "" {
			return out, fmt.Errorf("ansible %s -m %s: %s did not run the command: %s", pattern, module, m[1], out)
		}
		answered++
	}
	if answered != want {
		return out, fmt.Errorf("ansible %s -m %s: %d hosts answered, want %d: %s", pattern, module, answered, want, out)
	}
	return out, nil
}

// runOps runs op b.N times in a connection state: cold with a new control
// dir per op (its masters closed untimed after it), warm with one dir
// whose masters an untimed first op started. It reports the CPU that
// Ansible's processes used in the timed ops.
func (a *ansible) runOps(b *testing.B, conn string, op func(ctx context.Context, control string) error) {
	b.Helper()
	cpu := cpuMeter{who: syscall.RUSAGE_CHILDREN}
	run := func(control string) {
		cpu.start()
		err := op(context.Background(), control) // each call bounds itself
		cpu.stop()
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	defer func() { cpu.report(b) }()
	if conn == warm {
		d := a.controlDir(b)
		defer a.closeMasters(d)
		run(d)
		cpu.total = 0
		b.ResetTimer()
		b.StartTimer()
		for range b.N {
			run(d)
		}
		b.StopTimer()
		return
	}
	b.ResetTimer()
	for range b.N {
		d := a.controlDir(b)
		b.StartTimer()
		run(d)
		b.StopTimer()
		a.closeMasters(d)
	}
}

// lastSection is the marker of the mounts section, late in the script of
// every node: one per node that ran the script through.
var lastSection = regexp.MustCompile(`@@chefha-[0-9a-f]+:mounts\r?\n`)

// BenchmarkAnsibleGatherScript is Ansible running chefha's own gather
// script (the one upgrade.Preflight ran on each node, from the inventory)
// on all five nodes in one ad-hoc call: the same reads, one command per
// node, so the difference is the tools' own cost. module=shell is the
// ordinary way (a python module on the node, which runs /bin/sh -c);
// module=raw the cheapest Ansible offers (no python on the node, the
// script straight to the login shell, under ssh -tt).
func BenchmarkAnsibleGatherScript(b *testing.B) {
	l := shared.start(b)
	a := getAnsible(b, l)
	for _, module := range []string{"shell", "raw"} {
		for _, sh := range shells {
			for _, conn := range conns {
				b.Run(module+"/"+string(sh)+"/"+conn, func(b *testing.B) {
					shared.setShell(b, sh)
					a.runOps(b, conn, func(ctx context.Context, control string) error {
						out, err := a.call(ctx, control, "all", module, "{{ chefha_script }}", len(l.Nodes))
						if err == nil && len(lastSection.FindAll(out, -1)) != len(l.Nodes) {
							err = fmt.Errorf("ansible -m %s: the script did not finish on every node: %s", module, out)
						}
						return err
					})
					shared.ratio(b, sh, conn, shared.record(b))
				})
			}
		}
	}
}

// BenchmarkAnsibleTrue is Ansible's floor: `-m raw true` on all five
// nodes in one call, no python on the nodes and nothing read. What any
// ad-hoc call costs before it does any work.
func BenchmarkAnsibleTrue(b *testing.B) {
	l := shared.start(b)
	a := getAnsible(b, l)
	for _, sh := range shells {
		for _, conn := range conns {
			b.Run(string(sh)+"/"+conn, func(b *testing.B) {
				shared.setShell(b, sh)
				a.runOps(b, conn, func(ctx context.Context, control string) error {
					_, err := a.call(ctx, control, "all", "raw", "true", len(l.Nodes))
					return err
				})
				shared.ratio(b, sh, conn, shared.record(b))
			})
		}
	}
}

// BenchmarkHeadToHead alternates one chefha pre-flight and one Ansible
// call running chefha's script (-m shell), op after op, so that both meet
// the same load: on a shared machine that is what makes their ratio
// stable. After each pair, untimed, the floor (BenchmarkNodesFloor's op)
// meets the same load too. Metrics: chefha_ms, ansible_ms and floor_ms
// (means), x_median (the median of the ops' ratios), chefha_cpu_ms and
// ansible_cpu_ms. ns/op is the pair's sum.
func BenchmarkHeadToHead(b *testing.B) {
	l := shared.start(b)
	a := getAnsible(b, l)
	for _, sh := range shells {
		for _, conn := range conns {
			b.Run(string(sh)+"/"+conn, func(b *testing.B) {
				shared.setShell(b, sh)
				chefha, stop := preflightOp(b, l, conn)
				defer stop()
				var control string
				if conn == warm {
					control = a.controlDir(b)
					defer a.closeMasters(control)
				}
				gather := func() {
					ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
					defer cancel()
					if _, err := a.call(ctx, control, "all", "shell", "{{ chefha_script }}", len(l.Nodes)); err != nil {
						b.Fatal(err)
					}
				}
				if conn == warm {
					gather()
				}
				var tc, ta, tf time.Duration
				cpuC, cpuA := cpuMeter{who: syscall.RUSAGE_SELF}, cpuMeter{who: syscall.RUSAGE_CHILDREN}
				ratios := make([]float64, 0, b.N)
				b.ResetTimer()
				for range b.N {
					if conn == cold {
						b.StopTimer()
						control = a.controlDir(b)
						b.StartTimer()
					}
					start := time.Now()
					cpuC.start()
					chefha()
					cpuC.stop()
					mid := time.Now()
					cpuA.start()
					gather()
					cpuA.stop()
					end := time.Now()
					b.StopTimer()
					if conn == cold {
						a.closeMasters(control)
					}
					fstart := time.Now()
					if err := runScripts(l); err != nil {
						b.Fatal(err)
					}
					tf += time.Since(fstart)
					b.StartTimer()
					tc += mid.Sub(start)
					ta += end.Sub(mid)
					ratios = append(ratios, float64(end.Sub(mid))/float64(mid.Sub(start)))
				}
				b.StopTimer()
				slices.Sort(ratios)
				med := ratios[len(ratios)/2]
				n := time.Duration(b.N)
				b.ReportMetric(float64(tc/n)/1e6, "chefha_ms")
				b.ReportMetric(float64(ta/n)/1e6, "ansible_ms")
				b.ReportMetric(med, "x_median")
				b.ReportMetric(float64(tf/n)/1e6, "floor_ms")
				b.ReportMetric(float64(cpuC.total/n)/1e6, "chefha_cpu_ms")
				b.ReportMetric(float64(cpuA.total/n)/1e6, "ansible_cpu_ms")
				shared.recordPair(b, tc/n, ta/n, med)
				shared.mu.Lock()
				shared.results[b.Name()+"/floor"] = append(shared.results[b.Name()+"/floor"], sample{b.N, tf / n})
				shared.mu.Unlock()
				shared.recordPair(b, cpuC.total/n, cpuA.total/n, -1)
			})
		}
	}
}

// sixReads are the runbook's reads before an upgrade, as an operator
// types them into Ansible: one ad-hoc call each.
var sixReads = []struct{ hosts, cmd string }{
	{"all", "cat " + migration.Path},
	{"backends", "cat " + keepalived.CurrentStatusPath},
	{"all", "ps aux | grep '[r]unsvdir'"},
	{"all", "private-chef-ctl status"},
	{"all", "stat /var/log/opscode"},
	{"all", "cat " + upgrade.EtcOpscode + "/private-chef.rb"},
}

// BenchmarkAnsibleSixReads is the runbook's six reads as six ad-hoc
// calls (-m shell), one after the other, as an operator runs them. Within
// an op, calls 2 to 6 reuse the masters call 1 started (ControlPersist);
// cold and warm differ in call 1 only.
func BenchmarkAnsibleSixReads(b *testing.B) {
	l := shared.start(b)
	a := getAnsible(b, l)
	backends := 0
	for _, n := range l.Nodes {
		if n.Backend {
			backends++
		}
	}
	for _, sh := range shells {
		for _, conn := range conns {
			b.Run(string(sh)+"/"+conn, func(b *testing.B) {
				shared.setShell(b, sh)
				a.runOps(b, conn, func(ctx context.Context, control string) error {
					for _, r := range sixReads {
						want := len(l.Nodes)
						if r.hosts == "backends" {
							want = backends
						}
						if _, err := a.call(ctx, control, r.hosts, "shell", r.cmd, want); err != nil {
							return err
						}
					}
					return nil
				})
				shared.ratio(b, sh, conn, shared.record(b))
			})
		}
	}
}

package lab_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chefha/chefha/internal/ecmodel"
	"github.com/chefha/chefha/internal/peer"
	"github.com/chefha/chefha/keepalived"
	"github.com/chefha/chefha/lab"
	"github.com/chefha/chefha/upgrade"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The packaging's cluster.sh template, read from a snapshot of
// chef-boneyard/opscode-omnibus (a git directory) named by
// CHEFHA_SNAPSHOT_OPSCODE_OMNIBUS (as for go generate ./internal/packaging);
// it is rendered here, never kept. Chef's code is not this project's to
// copy, so without a snapshot the test is skipped, as optional.
const (
	omnibusSnapshotEnv = "CHEFHA_SNAPSHOT_OPSCODE_OMNIBUS"
	clusterShErb       = "files/private-chef-cookbooks/private-chef/templates/default/cluster.sh.erb"
	clusterShErbTag    = "11.1.8"
)

// renderClusterSh renders cluster.sh.erb as 11.1.8's keepalived recipe
// does for a back end whose keepalive_me services are services (sorted),
// with attributes/default.rb's drbd device and data_dir and its one
// service_posthook (rabbitmq: /opt/opscode/bin/wait-for-rabbit, which the
// lab has not: the script says so and goes on). Its one mount, of DRBD's
// /dev/drbd0, becomes a bind mount of the lab's shared DRBD disk: the lab
// has no DRBD device. drbdadm is the lab's.
func renderClusterSh(t *testing.T, services []string) string {
	t.Helper()
	snapshot := os.Getenv(omnibusSnapshotEnv)
	if snapshot == "" {
		peer.Optional(t, fmt.Sprintf("no snapshot of chef-boneyard/opscode-omnibus to render the packaging's own cluster.sh from (%s=GIT_DIR; the fetch tool brings one)", omnibusSnapshotEnv))
	}
	out, err := exec.Command("git", "--git-dir", snapshot, "show", clusterShErbTag+":"+clusterShErb).Output()
	if err != nil {
		peer.Optional(t, fmt.Sprintf("%s=%s: git show %s:%s: %v", omnibusSnapshotEnv, snapshot, clusterShErbTag, clusterShErb, err))
	}
	attrs := strings.NewReplacer(
		"<%= node['private_chef']['drbd']['device'] %>", ecmodel.DRBDDevice,
		"<%= node['private_chef']['drbd']['data_dir'] %>", ecmodel.DRBDDataDir)
	posthook := map[string]string{"rabbitmq": "/opt/opscode/bin/wait-for-rabbit"}
	ctrl := regexp.MustCompile(`^\s*<%-\s*(.*?)\s*-%>\s*$`)
	var b strings.Builder
	lines := strings.SplitAfter(string(out), "\n")
	// render writes lines[i:] until an unmatched <%- end -%>, with service
	// bound, and returns where it stopped.
	var render func(i int, service string, emit bool) int
	render = func(i int, service string, emit bool) int {
		for ; i < len(lines); i++ {
			line := lines[i]
			m := ctrl.FindStringSubmatch(line)
			switch {
			case m == nil:
				if emit {
					line = strings.ReplaceAll(line, "<%= node['private_chef']['keepalived']['service_posthooks'][service] %>", posthook[service])
					b.WriteString(strings.ReplaceAll(attrs.Replace(line), "<%= service %>", service))
				}
			case m[1] == "end":
				return i
			case strings.HasPrefix(m[1], "keepalive_services ="):
			case strings.HasPrefix(m[1], "keepalive_services"):
				list := slices.Clone(services)
				if strings.Contains(m[1], ".reverse.") {
					slices.Reverse(list)
				}
				end := i
				for _, s := range list {
					end = render(i+1, s, emit)
				}
				if len(list) == 0 {
					end = render(i+1, "", false)
				}
				i = end
			case strings.HasPrefix(m[1], "if node['private_chef']['keepalived']['service_posthooks'][service]"):
				i = render(i+1, service, emit && posthook[service] != "")
			default:
				t.Fatalf("%s line %d: template code the test does not render: %s", clusterShErb, i+1, line)
			}
		}
		return i
	}
	render(0, "", true)
	script := b.String()
	require.NotContains(t, script, "<%", "rendered completely")
	mount := "mount " + ecmodel.DRBDDevice + " " + ecmodel.DRBDDataDir + " || true"
	require.Contains(t, script, mount)
	return strings.Replace(script, mount, "mount --bind /var/lib/chefha-drbd/disk "+ecmodel.DRBDDataDir+" || true", 1)
}

// The packaging's own cluster.sh (opscode-omnibus 11.1.8's template,
// rendered) as the lab's notify script: the real keepalived runs it, and
// the pair elects, fails over when the master's keepalived dies, and
// converges with ha-status passing on both back ends.
func TestLabPackagingClusterSh(t *testing.T) {
	t.Parallel()
	needLab(t)
	rel := ecmodel.Releases()["11.1.8"]
	script := renderClusterSh(t, rel.HA())
	l := startLab(t, lab.Spec{Version: "11.1.8", NotifyScript: script})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	be1, be2 := l.Nodes[0], l.Nodes[1]
	for _, n := range []*lab.Node{be1, be2} {
		out, err := n.Exec(ctx, "cat", ecmodel.ClusterSh)
		require.NoError(t, err)
		assert.Contains(t, string(out), "Cluster like it's 1999", "%s runs the packaging's cluster.sh", n.Name)
	}
	// Elected: the bootstrap master with its services and the DRBD mount.
	haStatus := func(n *lab.Node) (string, int) {
		out, err := n.Exec(ctx, "private-chef-ctl", "ha-status")
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		code := 0
		if ee != nil {
			code = ee.ExitCode()
		}
		return string(out), code
	}
	for _, n := range []*lab.Node{be1, be2} {
		out, code := haStatus(n)
		assert.Equal(t, 0, code, "%s:\n%s", n.Name, out)
	}

	// Fail over: be1's keepalived dies (no notify_stop); runsv restarts it
	// in BACKUP, its notify_backup runs the packaging's backup transition,
	// and be2's master transition takes DRBD once be1 lets it go.
	out, err := be1.Exec(ctx, "pkill", "-KILL", "-x", "keepalived")
	require.NoError(t, err, string(out))
	cl, err := l.Dial(ctx)
	require.NoError(t, err)
	defer cl.Close()
	g := keepalived.Gate{Master: be2.Name, Hold: 3 * time.Second, Timeout: 2 * time.Minute, Poll: 500 * time.Millisecond, CheckVIP: true,
		Read: func(ctx context.Context) (keepalived.Pair, error) {
			f := upgrade.Gather(ctx, cl)
			a, _ := f.Node(be1.Name)
			b, _ := f.Node(be2.Name)
			return keepalived.Pair{Bootstrap: a.KeepalivedState(l.VIP), Secondary: b.KeepalivedState(l.VIP)}, nil
		}}
	_, err = g.Wait(ctx)
	require.NoError(t, err, "be2 a stable master")
	for _, n := range []*lab.Node{be1, be2} {
		out, code := haStatus(n)
		assert.Equal(t, 0, code, "converged: %s:\n%s", n.Name, out)
	}
	log, _ := be2.Exec(ctx, "cat", ecmodel.ClusterLogPath)
	assert.Contains(t, string(log), "DRBD primary takeover successful")
}

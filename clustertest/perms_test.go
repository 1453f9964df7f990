package clustertest_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chefha/chefha/internal/packaging"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The model's reconfigure gives every service's log directory the owner,
// group and mode the release's directory resource sets, and every
// /etc/opscode resource its owner, group and mode, as the packaging table
// read them (1.4.6's nagios root:opscode-nagios 0775, postgresql's
// opscode-pgsql; 11.1.8's keys opscode:root 0600).
func TestReconfigureOwnersAndModesFromTable(t *testing.T) {
	t.Parallel()
	for _, version := range []string{"1.4.6", "11.1.8"} {
		t.Run(version, func(t *testing.T) {
			t.Parallel()
			s := start(t, version)
			rel, _, ok := packaging.Nearest(version)
			require.True(t, ok)
			for _, node := range []string{be1, fe1} {
				role := packaging.Backend
				if node == fe1 {
					role = packaging.Frontend
				}
				stat := func(p string) (owner, group, mode string) {
					out, stderr, code := s.run(t, node, "stat", "-c", "%U %G %a", p)
					require.Equal(t, 0, code, "%s: %s", p, stderr)
					f := strings.Fields(out)
					require.Len(t, f, 3, out)
					return f[0], f[1], f[2]
				}
				checked := 0
				for _, svc := range rel.Services {
					d := svc.Log
					// keepalived's is OC-11490's (converge); the model
					// runs what its own role lists.
					if svc.Name == "keepalived" || !svc.Runs(role) || !d.Managed.Value {
						continue
					}
					u, g, m := stat(d.Path.Value)
					if d.Owner.Value != "" {
						assert.Equal(t, d.Owner.Value, u, "%s %s owner", node, d.Path.Value)
					}
					if d.Group.Value != "" {
						assert.Equal(t, d.Group.Value, g, "%s %s group", node, d.Path.Value)
					}
					if d.Mode.Value != "" {
						assert.Equal(t, strings.TrimLeft(d.Mode.Value, "0"), m, "%s %s mode", node, d.Path.Value)
					}
					checked++
				}
				assert.NotZero(t, checked)
				for _, f := range rel.EtcOpscodeFor(role) {
					if !f.Enforced() {
						continue
					}
					u, g, m := stat(f.Path)
					assert.Equal(t, fmt.Sprintf("%s:%s %s", f.Owner.Value, f.Group.Value, strings.TrimLeft(f.Mode.Value, "0")),
						fmt.Sprintf("%s:%s %s", u, g, m), "%s %s (%s)", node, f.Path, f.Source)
				}
				// The services' configurations (the model writes every one
				// its services' recipes declare), owners from 11.1.7 on.
				configs := 0
				for _, f := range packaging.EnforcedFiles(rel.ServiceFilesFor(role)) {
					if !rel.IsServiceRecipe(f.Recipe) || !strings.Contains(f.Path, "/etc/") {
						continue
					}
					u, g, m := stat(f.Path)
					assert.Equal(t, fmt.Sprintf("%s:%s %s", f.Owner.Value, f.Group.Value, strings.TrimLeft(f.Mode.Value, "0")),
						fmt.Sprintf("%s:%s %s", u, g, m), "%s %s (%s)", node, f.Path, f.Source)
					configs++
				}
				assert.NotZero(t, configs, "%s: no service configuration judged", node)
			}
			// The brief's examples, spelled out.
			p, want := "/etc/opscode/webui_priv.pem", "opscode root 600\n"
			if version == "1.4.6" {
				p, want = "/var/log/opscode/nagios", "root opscode-nagios 775\n"
			}
			out, _, _ := s.run(t, be1, "stat", "-c", "%U %G %a", p)
			assert.Equal(t, want, out)
		})
	}
}

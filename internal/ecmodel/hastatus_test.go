package ecmodel

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/chefha/chefha/keepalived"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runningJSON is the part of chef-server-running.json ha.rb reads (OO
// 11.1.8 files/private-chef-ctl-commands/ha.rb).
const runningJSON = `{"private_chef":{"role":"backend","topology":"ha",
 "keepalived":{"enable":true,"vrrp_instance_ipaddress":"192.168.4.7","vrrp_instance_ipaddress_dev":"eth0","vrrp_instance_interface":"eth0"},
 "drbd":{"enable":true,"disk":"/dev/opscode/drbd","device":"/dev/drbd0","data_dir":"/var/opt/opscode/drbd/data",
  "primary":{"fqdn":"be1.chefha.test","ip":"10.1.2.10"},"secondary":{"fqdn":"be2.chefha.test","ip":"10.1.2.12"}}},
 "runit":{"sv_dir":"/opt/opscode/sv"}}`

const (
	drbdPrimary = "version: 8.4.4 (api:1/proto:86-101)\n 0: cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate C r-----\n"
	mountsData  = "/dev/sda1 / ext4 rw 0 0\n/dev/drbd0 /var/opt/opscode/drbd/data ext4 rw 0 0\n"
)

// haMaster is a healthy 11.1.8 master: couchdb is HA and runs, nginx
// runs, keepalived (not HA) runs.
func haMaster() (*memHost, *Node) {
	h := newMemHost()
	h.vip = "192.168.4.7"
	for p, s := range map[string]string{RunningJSON: runningJSON, DRBDDisk: "", DRBDDevice: "", RequestedPath: "master\n",
		CurrentPath: "master\n", "/proc/drbd": drbdPrimary, "/proc/mounts": mountsData} {
		h.WriteFile(p, []byte(s), 0o644)
	}
	for _, s := range []string{"couchdb", "nginx", "keepalived"} {
		h.WriteFile(SvDir+"/"+s+"/run", nil, 0o755)
		h.Symlink(SvDir+"/"+s, ServiceDir+"/"+s)
		h.up[s] = true
	}
	h.WriteFile(SvDir+"/couchdb/keepalive_me", nil, 0o644)
	h.WriteFile(SvDir+"/nginx/keepalive_me", nil, 0o644)
	rel := Releases()["11.1.8"]
	return h, &Node{H: h, Installed: rel, Configured: rel}
}

func TestHAStatus(t *testing.T) {
	for _, tc := range []struct {
		name  string
		plant func(h *memHost)
		code  int
		line  string // a line the output must hold
	}{
		{"healthy master", func(*memHost) {}, 0, "[OK] couchdb is running correctly, and I am master."},
		{"not reconfigured", func(h *memHost) { h.Remove(RunningJSON) }, 1, "[ERROR] cannot check HA status if you haven't completed a reconfigure"},
		{"keepalived disabled", func(h *memHost) {
			h.WriteFile(RunningJSON, []byte(strings.Replace(runningJSON, `"enable":true`, `"enable":false`, 1)), 0o600)
		}, 1, "[ERROR] keepalived HA services not enabled, please configure keepalived according to documentation."},
		{"no DRBD device", func(h *memHost) { h.Remove(DRBDDevice) }, 1, "[ERROR] DRBD device /dev/drbd0 not found, please FIXME."},
		{"in transition", func(h *memHost) { h.WriteFile(RequestedPath, []byte("backup\n"), 0o644) }, 2,
			"[WARN] inconsistent cluster status, requested: backup, current: master, failover running?"},
		{"master without the VIP", func(h *memHost) { h.vip = "" }, 3, "[ERROR] did not find VIP IP address and I am master"},
		// ha.rb's pattern is the VIP unescaped and unanchored: .70 passes for .7.
		{"another address passes for the VIP", func(h *memHost) { h.vip = "192.168.4.70" }, 0, "[OK] found VIP IP address and I am master"},
		{"DRBD disconnected", func(h *memHost) {
			h.WriteFile("/proc/drbd", []byte(strings.Replace(drbdPrimary, "cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate", "cs:WFConnection ro:Primary/Unknown ds:UpToDate/DUnknown", 1)), 0o444)
		}, 4, "[ERROR] my DRBD status is:  0: cs:WFConnection ro:Primary/Unknown ds:UpToDate/DUnknown C r-----"},
		{"not mounted", func(h *memHost) { h.WriteFile("/proc/mounts", []byte("/dev/sda1 / ext4 rw 0 0\n"), 0o444) }, 5,
			"[ERROR] my DRBD partition is not mounted and I am master"},
		{"HA service down", func(h *memHost) { h.up["couchdb"] = false }, 7, "[ERROR] couchdb is not running correctly, and I am master. "},
		{"not HA, down", func(h *memHost) { h.up["keepalived"] = false }, 7, "[ERROR] keepalived is not running."},
		{"the last code wins: 7 after 4", func(h *memHost) {
			h.WriteFile("/proc/drbd", []byte("version: 8.4.4\n 0: cs:StandAlone ro:Primary/Unknown ds:UpToDate/DUnknown   r-----\n"), 0o444)
			h.up["couchdb"] = false
		}, 7, "[ERROR] my DRBD status is:  0: cs:StandAlone ro:Primary/Unknown ds:UpToDate/DUnknown   r-----"},
		{"unlinked services are skipped", func(h *memHost) { h.up["nginx"] = false; h.Remove(ServiceDir + "/nginx") }, 0, "[OK] all checks passed."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, n := haMaster()
			tc.plant(h)
			var out bytes.Buffer
			code := n.HAStatus(context.Background(), IO{Stdout: &out, Stderr: io.Discard})
			assert.Equal(t, tc.code, code, out.String())
			assert.Contains(t, out.String(), tc.line+"\n")
			st, err := keepalived.ParseHAStatus(&out, code)
			require.NoError(t, err, "the model's output is what keepalived.ParseHAStatus reads")
			assert.Equal(t, code == 1, st.Aborted)
			assert.Equal(t, code == 0, st.Passed)
		})
	}
}

// FuzzHAStatus: ha-status reads files a broken node may hold anything in
// (chef-server-running.json, the cluster status files, /proc/drbd,
// /proc/mounts). It never panics, exits with one of ha.rb's codes, prints
// the verdict unless it stopped early, and what it prints is what
// keepalived.ParseHAStatus reads.
func FuzzHAStatus(f *testing.F) {
	f.Add(runningJSON, "master\n", "master\n", drbdPrimary, mountsData)
	f.Add(runningJSON, "backup", "master", "cs:Connected ro:Secondary/Primary ds:UpToDate/UpToDate", "")
	f.Add(`{"private_chef":{"keepalived":{"enable":true},"drbd":{"enable":true}}}`, "", "", "", "x")
	f.Add(`[]`, "master", "fault", "\x00cs:", "a b c d e f")
	f.Add(`{"private_chef":{"keepalived":{"enable":true,"vrrp_instance_ipaddress":"(["},"drbd":{"enable":true,"disk":"/","device":"/"}}}`, "", "", "", "")
	f.Fuzz(func(t *testing.T, running, requested, current, proc, mounts string) {
		h, n := haMaster()
		for p, s := range map[string]string{RunningJSON: running, RequestedPath: requested, CurrentPath: current, "/proc/drbd": proc, "/proc/mounts": mounts} {
			h.WriteFile(p, []byte(s), 0o644)
		}
		var out, stderr bytes.Buffer
		code := n.HAStatus(context.Background(), IO{Stdout: &out, Stderr: &stderr})
		if code < 0 || code > 8 {
			t.Fatalf("exit %d", code)
		}
		verdict := strings.Contains(out.String(), "\n[OK] all checks passed.\n") || strings.Contains(out.String(), "\n[ERROR] ERRORS WERE DETECTED.\n")
		if verdict == (code == 1) {
			t.Fatalf("exit %d with verdict %t:\n%s", code, verdict, out.String())
		}
		if strings.ContainsAny(running, `\`) || strings.ContainsAny(requested+current, "\n\r") {
			return // escapes or line breaks in what ha.rb prints back break its lines, as they would ha.rb's
		}
		if stderr.Len() > 0 {
			return // ha.rb raised (a VIP that is no pattern): output cut short, as the parser says
		}
		if _, err := keepalived.ParseHAStatus(bytes.NewReader(out.Bytes()), code); err != nil {
			t.Fatalf("%v\n%s", err, fmt.Sprint(out.String()))
		}
	})
}

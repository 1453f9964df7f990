package ecmodel

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/chefha/chefha/internal/packaging"
)

// Every fact the model's releases hold that the packaging table holds too
// must agree with the table: a fact typed here and read there is the same
// reading, or this fails naming both.
func TestModelReleasesAgreeWithTheTable(t *testing.T) {
	without := func(list []string, drop ...string) []string {
		var out []string
		for _, s := range list {
			if !slices.Contains(drop, s) {
				out = append(out, s)
			}
		}
		slices.Sort(out)
		return out
	}
	for v, r := range Releases() {
		p, _, ok := packaging.Nearest(v)
		if !ok {
			t.Errorf("%s: not in the packaging table", v)
			continue
		}
		same := func(what string, model, table any) {
			t.Helper()
			if fmt.Sprint(model) != fmt.Sprint(table) {
				t.Errorf("%s %s: the model says %v, the table (%s) %v", v, what, model, p.Version, table)
			}
		}
		same("omnibus-ctl", r.OmnibusCtl, p.Ctl.OmnibusCtl.Value)
		same("service first", r.ServiceFirst(), p.Ctl.ServiceFirst.Value)
		same("stop-all skips keepalived", r.StopAllSkipsKeepalived(), p.Ctl.StopAllSkipsKeepalived.Value)
		same("wrapper SVWAIT", r.WrapperSVWAIT, p.Ctl.SVWAIT.Value)
		same("upgrade sleep", r.UpgradeSleep, time.Duration(p.Ctl.UpgradeSleep.Value)*time.Second)
		notServices := []string{"keepalived"} // the model lists it apart
		same("back-end services", r.Services(true, false), without(p.ServicesFor(packaging.Backend), notServices...))
		same("bootstrap services", r.Services(true, true), without(p.ServicesFor(packaging.Bootstrap), notServices...))
		same("front-end services", r.Services(false, false), without(p.ServicesFor(packaging.Frontend), notServices...))
		same("HA services", without(r.HA), without(p.HAServices(), notServices...))
		same("last level", r.Level.String(), p.LastLevel.Value.String())
		var files, tfiles []string
		for _, m := range r.Migrations {
			files = append(files, fmt.Sprintf("%s %s data-master=%v", m.Level, m.File, m.DataMaster))
		}
		for _, m := range p.Migrations {
			tfiles = append(tfiles, fmt.Sprintf("%s %s data-master=%v", m.Level, m.File, m.MustBeDataMaster.Value))
		}
		same("migrations", files, tfiles)
		anyService := func(f func(packaging.Service) bool) bool { return slices.ContainsFunc(p.Services, f) }
		same("keepalive_me", r.KeepaliveMe, anyService(func(s packaging.Service) bool { return s.KeepaliveMe.Value == "created" }))
		same("down files", r.DownFiles, anyService(func(s packaging.Service) bool { return s.DownFile.Value == "created" }))
		ka, _ := p.Service("keepalived")
		same("keepalived log dir owned", r.KeepalivedLogOwned, ka.Log.Owner.Value != "")
		authz, _ := p.SoftwareVersion("oc_authz_migrator")
		same("oc_authz_migrator", r.AuthzMigrator, authz)
	}
}

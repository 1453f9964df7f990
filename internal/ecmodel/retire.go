package ecmodel

import (
	"context"
	"path"
	"slices"
	"strings"
	"time"
)

// haStatusByAttribute is how 1.x's ha-status tells HA services: the keys
// of chef-server-running.json whose 'ha' is true, plus its own list
// (php-fpm, fcgiwrap, the reindexer) (bin/private-chef-ctl:393-394
// @1.2.8.3, private-chef-ctl-commands/ha.rb:159-160 @1.4.6; the packaging
// table's HAStatusServices). A service named otherwise than its key, as
// 1.2.8's postgres (key postgresql), is one it expects running on both
// back ends. ok is false where ha-status globs keepalive_me (11.x).
func (r Release) haStatusByAttribute() ([]string, bool) {
	p, ok := r.packaging()
	if !ok || p.Ctl.HAStatus.Value != "attribute-ha" {
		return nil, false
	}
	return p.HAStatusServices(), true
}

// retire does to the services the installed release no longer defines
// what its recipes do (the packaging table's Retirement): 1.4.6's
// recipes/postgresql.rb:24-35 stops 1.2.8's postgres through
// private-chef-ctl, disables it and deletes sv/postgres; 11.x's
// oc_bifrost.rb:12-23 does the same to opscode-authz, and
// old_postgres_cleanup.rb stops, disables and deletes postgres. Both
// recipes run where the service's sv directory is: the back ends for
// postgres, every node for opscode-authz.
func (n *Node) retire(ctx context.Context) {
	p, ok := n.Installed.packaging()
	if !ok {
		return
	}
	for _, name := range p.Retired() {
		a, _ := p.Retirement(name)
		sv := path.Join(SvDir, name)
		if _, err := n.H.Lstat(sv); err != nil && !n.linked(name) {
			continue
		}
		if (a.CtlStop.Value || slices.Contains(a.Actions, "stop")) && n.linked(name) {
			n.H.Sv(ctx, "stop", name, 7*time.Second, true)
		}
		n.H.Remove(path.Join(ServiceDir, name)) // runit_service :disable
		if a.DeletesSvDir.Value {
			n.H.RemoveAll(sv)
		}
	}
}

// startDatabase is 1.x's `private-chef-ctl start` of the database on the
// bootstrap (recipes/postgresql.rb:124-127 @1.2.8.3 `postgres start`,
// :147-150 @1.4.6 `start postgresql`, both under bootstrap enable): after
// 1.4.6 renamed the service, the new one, enabled with its down file,
// runs only because of it. 1.x's other service recipes start theirs on
// the bootstrap as well (recipes/couchdb.rb:47-51 …), which a master
// bootstrap, where the runbook reconfigures, runs already: the model
// leaves those, and this one too where the bootstrap is the backup.
// 11.x starts it on the data master instead (postgresql.rb:120-123
// @11.0.2), which the model does not carry.
func (n *Node) startDatabase(ctx context.Context, master bool) {
	p, ok := n.Installed.packaging()
	if !ok || strings.HasPrefix(n.Installed.Version, "11.") || !n.Bootstrap() || !master {
		return
	}
	for _, s := range p.Services {
		if s.Recipe == "postgresql" && n.linked(s.Name) {
			n.waitSupervised(ctx, s.Name)
			n.H.Sv(ctx, "start", s.Name, 7*time.Second, true)
		}
	}
}

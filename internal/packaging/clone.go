package packaging

import "slices"

// Releases are handed out as copies: the table is decoded once per
// process and shared, and a caller that changes its release must not
// change anyone else's. TestCloneSharesNoSlice holds clone to every field.

// clone copies a release deeply, so that a caller's changes cannot reach
// the shared table.
func (r Release) clone() Release {
	out := r
	out.Services = slices.Clone(r.Services) // a Service holds no slices
	out.ServiceActions = make([]ServiceAction, len(r.ServiceActions))
	for i, a := range r.ServiceActions {
		a.Actions = slices.Clone(a.Actions)
		out.ServiceActions[i] = a
	}
	out.Upstart.Jobs = make([]Job, len(r.Upstart.Jobs))
	for i, j := range r.Upstart.Jobs {
		j.PreStop.Value = slices.Clone(j.PreStop.Value)
		j.PostStop.Value = slices.Clone(j.PostStop.Value)
		out.Upstart.Jobs[i] = j
	}
	out.Upstart.Stops = slices.Clone(r.Upstart.Stops)
	out.Upstart.Deletes = slices.Clone(r.Upstart.Deletes)
	out.Ctl.Commands = slices.Clone(r.Ctl.Commands)
	out.Ctl.HAStatusExtra.Value = slices.Clone(r.Ctl.HAStatusExtra.Value)
	out.Ctl.HAStatusReads = slices.Clone(r.Ctl.HAStatusReads)
	out.Ctl.SvCommands.Value = slices.Clone(r.Ctl.SvCommands.Value)
	out.EtcOpscode = slices.Clone(r.EtcOpscode)
	out.ServiceFiles = slices.Clone(r.ServiceFiles)
	out.Keepalived.Directives = make([]Directive, len(r.Keepalived.Directives))
	for i, d := range r.Keepalived.Directives {
		if d.WhenDefault != nil {
			v := *d.WhenDefault
			d.WhenDefault = &v
		}
		out.Keepalived.Directives[i] = d
	}
	out.Keepalived.RunArgs.Value = slices.Clone(r.Keepalived.RunArgs.Value)
	out.Keepalived.ServiceOrder = slices.Clone(r.Keepalived.ServiceOrder)
	out.Keepalived.PostHooks = slices.Clone(r.Keepalived.PostHooks)
	out.Migrations = make([]Migration, len(r.Migrations))
	for i, m := range r.Migrations {
		m.StopsServices.Value = slices.Clone(m.StopsServices.Value)
		m.Restarts.Value = slices.Clone(m.Restarts.Value)
		m.Sleeps.Value = slices.Clone(m.Sleeps.Value)
		out.Migrations[i] = m
	}
	out.PostinstLinks = slices.Clone(r.PostinstLinks)
	out.Software = slices.Clone(r.Software)
	return out
}

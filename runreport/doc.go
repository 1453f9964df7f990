// Package runreport turns the record of an upgrade run into a report for
// a change-advisory board or a post-mortem: what was upgraded (the nodes
// and their roles, from → to, the plan's hash), how the run ended, every
// step with its start, end and duration, every gate's wait and what held
// it, the keepalived transitions the gates saw, what the operator was told
// and what came of it, the backup taken, the known issues the plan works
// around, and how long each service role was down.
//
//	rec, _ := upgrade.LoadJournal("chefha-upgrade.json")
//	events, _ := runreport.ReadEvents(f) // examples/upgrade -o json, one event a line
//	rep := runreport.Build(rec, events)  // events may be nil
//	rep.WriteMarkdown(ticket)            // tables, for the change ticket
//	rep.WriteSVG(picture)                // the timeline, one lane per node
//	json.NewEncoder(w).Encode(rep)       // for programs: durations in seconds
//
// # Where the numbers come from
//
// The journal (upgrade.Record) gives the plan — its steps, their nodes and
// the known issues each mitigates, from which the nodes' roles are read —
// each finished step's end and duration (StepRecord.Finished, Took), and
// the backups (node, time, exit status, output size; the output only when
// the operator had it kept). A report from the journal alone has these and
// no more: no failed or unfinished step, no gate, finding or transition,
// and the downtime bounded by whole steps.
//
// The runner's events, when kept, add the rest, at the times it stamped them:
// a step runs from its EventStepStart to its EventStepDone or
// EventStepFailed; its work on a node from an EventAction to the matching
// EventActionDone; a gate waits from its gate action's EventAction to its
// EventActionDone (or EventGateSkip), and the gate before re-running a
// failed command (OC-11382) from its first EventGateWait to its last. What
// held a gate is the union of its polls' GateProgress.Waiting; a keepalived
// transition is a back end whose requested state differs from its current
// one, or whose current state changed since the poll before. Events of
// several runs (a resumed upgrade) are read in order: a step's last
// attempt is reported, and one recorded in an earlier run keeps the
// journal's times. Events of another plan than the journal's are left out.
//
// A backup that is an LVM snapshot (upgrade.LVMSnapshot) is shown with its
// name, its size and how full it was each time the runner reported it:
// when made, before a step once half-way to the threshold, and when the
// run stopped for it. SetRehearsal adds the plan's rehearsal on a replica
// (upgrade.Rehearsal): whether it passed or where it stopped, its steps'
// durations and gates' waits, the replica's post-flight findings and what
// the replica did not reproduce; FromRehearsal is the report of the
// rehearsal itself, with the downtime each role would have had.
//
// # Downtime
//
// The front ends are down from the first stop of one of them
// (stop-frontends) until start-all's gate saw every service up; the
// bootstrap's services from its private-chef-ctl reconfigure
// (reconfigure-bootstrap) or upgrade (upgrade-bootstrap) until the gate
// after it. Each Downtime says how it was measured; from the journal
// alone, a stretch runs from its step's start (finished − took) to the end
// of the step that ends it, which bounds it from outside. A stretch the
// record ends inside is Open.
//
// # The picture
//
// WriteSVG draws in pure SVG (no script, no external resource): the bars
// of very short steps are widened to be seen and moved just past the bar
// before them in their lane, so their place is a few pixels late; the
// Markdown and JSON forms keep the exact times. Every string from the
// cluster or the runner is escaped for XML in the SVG, and for Markdown
// (and a terminal's control characters) in the Markdown.
package runreport

package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"

	"github.com/chefha/chefha/cluster"
	"github.com/chefha/chefha/runreport"
	"github.com/chefha/chefha/upgrade"
)

// writeReport writes the run's report for a change board: Markdown, the
// timeline as SVG, and JSON, each 0600 (they name the cluster's nodes),
// with the plan's rehearsal when one is recorded in rehearsals.
func writeReport(dir string, rec upgrade.Record, events []upgrade.Event, rehearsals string, simulated bool) error {
	rep := runreport.Build(rec, events)
	if simulated {
		rep.MarkSimulation()
	}
	// The plan's rehearsal on a replica, when one is recorded.
	if rh, err := upgrade.LoadRehearsal(rehearsals, rep.PlanHash); err == nil {
		rep.SetRehearsal(rh)
	}
	var md, svg bytes.Buffer
	if err := rep.WriteMarkdown(&md); err != nil {
		return err
	}
	if err := rep.WriteSVG(&svg); err != nil {
		return err
	}
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	for name, b := range map[string][]byte{"report.md": md.Bytes(), "timeline.svg": svg.Bytes(), "report.json": append(js, '\n')} {
		if err := cluster.WritePrivate(filepath.Join(dir, name), "report", b); err != nil {
			return err
		}
	}
	return nil
}

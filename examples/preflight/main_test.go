package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSimulatedReport(t *testing.T) {
	var out, errb bytes.Buffer
	code := run(nil, &out, &errb)
	require.Equal(t, 0, code, errb.String())
	s := out.String()
	assert.True(t, strings.HasPrefix(s, "SIMULATION: "), "the first line says it is a simulation")
	assert.Contains(t, s, "migration-level [OC-11297]  FAIL")
	assert.Contains(t, s, "svlogd: pausing: unable to rename current: /var/log/")
	assert.Contains(t, s, "standby-keepalived-stopped  WARN")
}

func TestJSONOutputParses(t *testing.T) {
	var out, errb bytes.Buffer
	require.Equal(t, 0, run([]string{"-o", "json", "-ignore", "backup"}, &out, &errb), errb.String())
	var rep struct {
		Installed string           `json:"installed"`
		Findings  []map[string]any `json:"findings"`
		Ignored   []string         `json:"ignored"`
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &rep))
	assert.Equal(t, "1.4.6", rep.Installed)
	assert.NotEmpty(t, rep.Findings)
	assert.Equal(t, []string{"backup"}, rep.Ignored)
}

func TestExitCodes(t *testing.T) {
	var out, errb bytes.Buffer
	assert.Equal(t, 0, run([]string{"-h"}, &out, &errb))
	assert.Contains(t, errb.String(), "migration-level")
	assert.Equal(t, 2, run([]string{"-o", "yaml"}, &out, &errb))
	assert.Equal(t, 2, run([]string{"-ignore", "version"}, &out, &errb), "a mandatory check cannot be ignored")
	assert.Equal(t, 2, run([]string{"-target", "eleven"}, &out, &errb))
	assert.Equal(t, 2, run([]string{"-hosts", "be1"}, &out, &errb))
	out.Reset()
	assert.Equal(t, 1, run([]string{"-facts", "../../upgrade/testdata/facts-broken.json", "-target", "11.1.3"}, &out, &errb),
		"saved facts of a broken cluster fail")
	assert.Contains(t, out.String(), "NOT safe to upgrade")
	assert.Equal(t, 0, run([]string{"-facts", "../../upgrade/testdata/facts-healthy.json", "-backup", "LVM snapshot"}, &out, &errb))
}

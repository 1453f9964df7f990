package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPlanAndDryRunByDefault(t *testing.T) {
	var out, errb bytes.Buffer
	require.Equal(t, 0, run(context.Background(), nil, nil, &out, &errb), errb.String())
	s := out.String()
	assert.True(t, strings.HasPrefix(s, "SIMULATION: "))
	assert.Contains(t, s, "would: be1.chefha.test: env SVWAIT=30 private-chef-ctl upgrade")
	assert.Contains(t, s, "nothing was changed. Run with -apply to act.")
}

func TestApplyWithJSONEvents(t *testing.T) {
	var out, errb bytes.Buffer
	require.Equal(t, 0, run(context.Background(), nil, []string{"-apply", "-o", "json", "-hold", "100ms"}, &out, &errb), errb.String())
	kinds := map[string]int{}
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		var ev struct{ Kind string }
		require.NoError(t, json.Unmarshal(sc.Bytes(), &ev), sc.Text())
		kinds[ev.Kind]++
	}
	assert.Equal(t, 17, kinds["step-done"]+kinds["step-skip"], "every step of the plan (those already done on the cluster are skipped)")
	assert.Positive(t, kinds["gate-wait"])
	assert.Zero(t, kinds["step-failed"])
	assert.Equal(t, 1, kinds["outcome"])
}

func TestUsage(t *testing.T) {
	var out, errb bytes.Buffer
	assert.Equal(t, 2, run(context.Background(), nil, []string{"-o", "yaml"}, &out, &errb))
	assert.Equal(t, 2, run(context.Background(), nil, []string{"-phase", "teardown"}, &out, &errb))
	out.Reset()
	assert.Equal(t, 1, run(context.Background(), nil, []string{"-package", "/nonexistent/x.deb"}, &out, &errb), "a missing package is refused by the dry run")
	assert.Contains(t, out.String(), "package /nonexistent/x.deb")
	out.Reset()
	assert.Equal(t, 1, run(context.Background(), nil, []string{"-target", "12.0.0"}, &out, &errb), "no path to 12.0.0")
	assert.Contains(t, out.String(), "target 12.0.0 has no known migration level")
}

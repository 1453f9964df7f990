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
	require.Equal(t, 0, run(context.Background(), nil, &out, &errb), errb.String())
	s := out.String()
	assert.True(t, strings.HasPrefix(s, "SIMULATION: "))
	assert.Contains(t, s, "would: be1.chefha.test: env SVWAIT=30 private-chef-ctl upgrade")
	assert.Contains(t, s, "nothing was changed. Run with -apply to act.")
}

func TestApplyWithJSONEvents(t *testing.T) {
	var out, errb bytes.Buffer
	require.Equal(t, 0, run(context.Background(), []string{"-apply", "-o", "json", "-hold", "100ms"}, &out, &errb), errb.String())
	kinds := map[string]int{}
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		var ev struct{ Kind string }
		require.NoError(t, json.Unmarshal(sc.Bytes(), &ev), sc.Text())
		kinds[ev.Kind]++
	}
	assert.Equal(t, 17, kinds["step-done"])
	assert.Positive(t, kinds["gate-wait"])
	assert.Zero(t, kinds["step-failed"])
}

func TestUsage(t *testing.T) {
	var out, errb bytes.Buffer
	assert.Equal(t, 2, run(context.Background(), []string{"-o", "yaml"}, &out, &errb))
	assert.Equal(t, 2, run(context.Background(), []string{"-package", "solaris=x.pkg"}, &out, &errb))
	assert.Equal(t, 2, run(context.Background(), []string{"-resume", "-state", "/nonexistent/state.json"}, &out, &errb))
	assert.Equal(t, 1, run(context.Background(), []string{"-target", "12.0.0"}, &out, &errb), "no path to 12.0.0")
	assert.Contains(t, errb.String(), "target 12.0.0 has no known migration level")
}

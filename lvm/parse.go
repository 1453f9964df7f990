package lvm

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// ReportError is lvs output that is not what lvm2 prints.
type ReportError struct {
	Row int    // 1-based row of the report (text: line), 0 for the whole
	Err string // what is wrong
}

func (e *ReportError) Error() string {
	if e.Row == 0 {
		return "lvs output: " + e.Err
	}
	return fmt.Sprintf("lvs output row %d: %s", e.Row, e.Err)
}

// ParseText reads the text form of lvs — `--noheadings --separator '|'
// --units b --nosuffix -o FIELDS` — where fields is the -o list in its
// order. Rows are indented by two spaces, as lvm2's log_print prints
// them. A row whose values carry name prefixes (LVM2_LV_NAME='x', from
// --nameprefixes or report/prefixes=1 in lvm.conf) is read by name.
func ParseText(r io.Reader, fields []string) ([]LV, error) {
	if err := checkFields(fields); err != nil {
		return nil, err
	}
	var lvs []LV
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	row := 0
	for sc.Scan() {
		row++
		line := strings.TrimRight(strings.TrimLeft(sc.Text(), " \t"), " \t\r")
		if line == "" {
			continue
		}
		vals := strings.Split(line, "|")
		if len(vals) != len(fields) {
			return nil, &ReportError{row, fmt.Sprintf("%d values, want %d (%s): was lvs run with --noheadings --separator '|' and -o in this order?", len(vals), len(fields), strings.Join(fields, ","))}
		}
		m := make(map[string]string, len(fields))
		for i, v := range vals {
			name, val := prefixed(v, fields[i])
			if !slices.Contains(fields, name) {
				return nil, &ReportError{row, fmt.Sprintf("field %s was not asked for", name)}
			}
			if _, dup := m[name]; dup {
				return nil, &ReportError{row, fmt.Sprintf("field %s twice", name)}
			}
			m[name] = val
		}
		lv, err := fromFields(m)
		if err != nil {
			return nil, &ReportError{row, err.Error()}
		}
		lvs = append(lvs, lv)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("lvs output: %w", err)
	}
	return lvs, nil
}

func checkFields(fields []string) error {
	known := map[string]bool{}
	for _, f := range lvsFields {
		known[f.name] = true
	}
	have := map[string]bool{}
	for _, f := range fields {
		if !known[f] {
			return fmt.Errorf("lvm: field %q is not one LV holds (LVSFields lists them)", f)
		}
		have[f] = true
	}
	for _, f := range []string{"lv_name", "vg_name", "lv_attr", "lv_size"} {
		if !have[f] {
			return fmt.Errorf("lvm: fields lack %s", f)
		}
	}
	return nil
}

// prefixed strips a name prefix (LVM2_FIELD= with optional single
// quotes) from v, or returns v as field pos.
func prefixed(v, pos string) (name, val string) {
	v = strings.TrimSpace(v)
	rest, ok := strings.CutPrefix(v, "LVM2_")
	if !ok {
		return pos, v
	}
	key, val, ok := strings.Cut(rest, "=")
	if !ok {
		return pos, v
	}
	if len(val) >= 2 && val[0] == '\'' && val[len(val)-1] == '\'' {
		val = val[1 : len(val)-1]
	}
	return strings.ToLower(key), val
}

// fromFields builds an LV from field name → value, as lvs printed them.
func fromFields(m map[string]string) (LV, error) {
	var lv LV
	for _, f := range []string{"lv_name", "vg_name", "lv_attr", "lv_size"} {
		if _, ok := m[f]; !ok {
			return LV{}, fmt.Errorf("no %s", f)
		}
	}
	lv.Name, lv.VG = m["lv_name"], m["vg_name"]
	if lv.Name == "" || lv.VG == "" {
		return LV{}, fmt.Errorf("empty lv_name or vg_name")
	}
	var err error
	if lv.Attr, err = ParseAttr(m["lv_attr"]); err != nil {
		return LV{}, fmt.Errorf("%s/%s: %w", lv.VG, lv.Name, err)
	}
	bad := func(field string, e error) error {
		return fmt.Errorf("%s/%s: %s: %w", lv.VG, lv.Name, field, e)
	}
	if lv.Size, err = parseSize(m["lv_size"], true); err != nil {
		return LV{}, bad("lv_size", err)
	}
	for _, s := range []struct {
		field string
		dst   *int64
	}{{"lv_metadata_size", &lv.MetadataSize}, {"vg_extent_size", &lv.ExtentSize}, {"vg_free", &lv.VGFree}} {
		if *s.dst, err = parseSize(m[s.field], false); err != nil {
			return LV{}, bad(s.field, err)
		}
	}
	for _, p := range []struct {
		field string
		dst   **float64
	}{{"snap_percent", &lv.SnapPercent}, {"data_percent", &lv.DataPercent}, {"metadata_percent", &lv.MetadataPercent}} {
		if *p.dst, err = parsePercent(m[p.field]); err != nil {
			return LV{}, bad(p.field, err)
		}
	}
	if v, ok := m["lv_snapshot_invalid"]; ok {
		if lv.SnapInvalid, err = parseBinary(v, "snapshot invalid"); err != nil {
			return LV{}, bad("lv_snapshot_invalid", err)
		}
	}
	lv.Origin, lv.Pool, lv.Path, lv.DMPath = m["origin"], m["pool_lv"], m["lv_path"], m["lv_dm_path"]
	return lv, nil
}

// parseSize reads a size printed with --units b --nosuffix: whole bytes
// ("%.0f"). A trailing "B" (run without --nosuffix) is accepted; any
// other unit is refused, never guessed.
func parseSize(s string, required bool) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		if required {
			return 0, errors.New("empty")
		}
		return 0, nil
	}
	t := strings.TrimSuffix(s, "B")
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || !allDigits(t) {
		return 0, fmt.Errorf("%q is not a size in bytes (run lvs with --units b --nosuffix)", s)
	}
	return n, nil
}

// parsePercent reads a percentage ("%.2f", blank when unset). The
// decimal comma of a non-C locale is accepted.
func parsePercent(s string) (*float64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	whole, frac, _ := strings.Cut(strings.Replace(s, ",", ".", 1), ".")
	p, err := strconv.ParseFloat(whole+"."+frac, 64)
	if err != nil || !allDigits(whole) || (frac != "" && !allDigits(frac)) || p > 100 {
		return nil, fmt.Errorf("%q is not a percentage", s)
	}
	return &p, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// parseBinary reads a binary field: its word or "" (the default), 1 or
// 0 (report/binary_values_as_numeric=1, --binary, json_std), or
// undefined ("unknown", -1: not a snapshot, or no status).
func parseBinary(s, word string) (*bool, error) {
	t, f := true, false
	switch strings.TrimSpace(s) {
	case word, "1":
		return &t, nil
	case "", "0":
		return &f, nil
	case "unknown", "-1", "undefined", "undef":
		return nil, nil
	}
	return nil, fmt.Errorf("%q is neither %q, 0/1 nor unknown", s, word)
}

// jsonReport is lvm2's JSON: {"report": [{"lv": [...]}], "log": [...]}.
type jsonReport struct {
	Report []map[string][]map[string]json.RawMessage `json:"report"`
	Log    []map[string]json.RawMessage              `json:"log"`
}

func parseJSON(r io.Reader) ([]LV, error) {
	dec := json.NewDecoder(r)
	var rep jsonReport
	if err := dec.Decode(&rep); err != nil {
		return nil, &ReportError{0, fmt.Sprintf("not lvm2's JSON report: %v", err)}
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &ReportError{0, "text after the JSON report"}
	}
	if rep.Report == nil {
		return nil, &ReportError{0, `no "report" array`}
	}
	var lvs []LV
	seen := false
	row := 0
	for _, item := range rep.Report {
		rows, ok := item["lv"]
		if !ok {
			continue
		}
		seen = true
		for _, obj := range rows {
			row++
			m := make(map[string]string, len(obj))
			for k, raw := range obj {
				v, err := jsonValue(raw)
				if err != nil {
					return nil, &ReportError{row, fmt.Sprintf("%s: %v", k, err)}
				}
				m[k] = v
			}
			lv, err := fromFields(m)
			if err != nil {
				return nil, &ReportError{row, err.Error()}
			}
			lvs = append(lvs, lv)
		}
	}
	logErr, err := logError(rep.Log)
	if err != nil {
		return nil, err
	}
	if logErr != nil {
		return lvs, logErr
	}
	if !seen {
		return nil, &ReportError{0, `no "lv" report: not the output of lvs`}
	}
	return lvs, nil
}

// jsonValue turns a value of the json format (always a string) or of
// json_std (numbers, null, string lists) into the text lvs would print.
func jsonValue(raw json.RawMessage) (string, error) {
	t := bytes.TrimSpace(raw)
	switch {
	case len(t) == 0:
		return "", errors.New("empty value")
	case t[0] == '"':
		var s string
		err := json.Unmarshal(t, &s)
		return s, err
	case bytes.Equal(t, []byte("null")):
		return "", nil
	case t[0] == '[':
		var l []string
		if err := json.Unmarshal(t, &l); err != nil {
			return "", err
		}
		return strings.Join(l, ","), nil
	case t[0] == '-' || (t[0] >= '0' && t[0] <= '9'):
		var n json.Number
		err := json.Unmarshal(t, &n)
		return n.String(), err
	}
	return "", fmt.Errorf("unexpected JSON value %s", t)
}

// logError turns the error entries of lvm2's JSON "log" (report_command_log,
// the default for JSON since lvm2 2.03.26) into a *CommandError.
func logError(log []map[string]json.RawMessage) (*CommandError, error) {
	var msgs []string
	exit := 0
	for i, e := range log {
		get := func(k string) (string, error) {
			raw, ok := e[k]
			if !ok {
				return "", nil
			}
			v, err := jsonValue(raw)
			if err != nil {
				return "", &ReportError{0, fmt.Sprintf("log entry %d: %s: %v", i+1, k, err)}
			}
			return v, nil
		}
		typ, err := get("log_type")
		if err != nil {
			return nil, err
		}
		msg, err := get("log_message")
		if err != nil {
			return nil, err
		}
		rc, err := get("log_ret_code")
		if err != nil {
			return nil, err
		}
		if n, err := strconv.Atoi(rc); err == nil && n > exit && n < 256 {
			exit = n
		}
		if typ == "error" {
			msgs = append(msgs, msg)
		}
	}
	if len(msgs) == 0 {
		return nil, nil
	}
	if exit <= 1 { // ECMD_PROCESSED is success; an error entry says otherwise
		exit = 5
	}
	return newCommandError("lvs", exit, msgs), nil
}

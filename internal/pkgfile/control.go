package pkgfile

import (
	"fmt"
	"strings"
)

// parseControl reads the one paragraph of a binary package's control file
// (deb-control(5)): "Field: value" lines, continuation lines starting
// with a space or tab. Keys are returned lower-cased; a field given twice,
// a second paragraph or a line that is neither is an error, as in dpkg.
func parseControl(b []byte) (map[string]string, error) {
	fields := map[string]string{}
	last := ""
	ended := false
	for i, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.TrimSpace(line) == "":
			if last != "" {
				ended = true
			}
			continue
		case ended:
			return nil, fmt.Errorf("line %d: a second paragraph; a binary package has one", i+1)
		case line[0] == ' ' || line[0] == '\t':
			if last == "" {
				return nil, fmt.Errorf("line %d: continuation line before any field", i+1)
			}
			fields[last] += "\n" + strings.TrimSpace(line)
			continue
		}
		key, value, ok := strings.Cut(line, ":")
		if !ok || !validFieldName(key) {
			return nil, fmt.Errorf("line %d: %q is not a \"Field: value\" line", i+1, clip(line))
		}
		key = strings.ToLower(key)
		if _, dup := fields[key]; dup {
			return nil, fmt.Errorf("line %d: field %s given twice", i+1, key)
		}
		fields[key] = strings.TrimSpace(value)
		last = key
	}
	if last == "" {
		return nil, fmt.Errorf("no fields")
	}
	return fields, nil
}

// validFieldName follows deb822(5): printable ASCII but ':', not starting
// with '#' or '-'.
func validFieldName(k string) bool {
	if k == "" || k[0] == '#' || k[0] == '-' {
		return false
	}
	for _, c := range []byte(k) {
		if c <= ' ' || c > '~' {
			return false
		}
	}
	return true
}

// validDebName follows dpkg's pkg_name_is_illegal: an alphanumeric first,
// then alphanumerics and "-+.".
func validDebName(s string) bool {
	if s == "" || !isAlnum(s[0]) {
		return false
	}
	return onlyChars(s, "-+.")
}

func validDebArch(s string) bool { return s != "" && onlyChars(s, "-") }

// splitDebVersion splits [epoch:]upstream[-revision] (deb-version(7)):
// the epoch at the first ':', the revision at the last '-'.
func splitDebVersion(raw string) (epoch, upstream, revision string, err error) {
	upstream = raw
	if e, rest, ok := strings.Cut(raw, ":"); ok {
		if e == "" || strings.Trim(e, "0123456789") != "" {
			return "", "", "", fmt.Errorf("version %q has a bad epoch", clip(raw))
		}
		epoch, upstream = e, rest
	}
	if i := strings.LastIndexByte(upstream, '-'); i >= 0 {
		upstream, revision = upstream[:i], upstream[i+1:]
		if revision == "" || !onlyChars(revision, ".+~") {
			return "", "", "", fmt.Errorf("version %q has a bad revision", clip(raw))
		}
	}
	allowed := ".+~-"
	if epoch != "" {
		allowed += ":"
	}
	if upstream == "" || !onlyChars(upstream, allowed) {
		return "", "", "", fmt.Errorf("version %q is not a Debian version", clip(raw))
	}
	return epoch, upstream, revision, nil
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// onlyChars reports whether s holds only alphanumerics and bytes of extra.
func onlyChars(s, extra string) bool {
	for i := 0; i < len(s); i++ {
		if !isAlnum(s[i]) && strings.IndexByte(extra, s[i]) < 0 {
			return false
		}
	}
	return true
}

// clip shortens hostile input quoted in an error.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

package cluster

import (
	"bytes"
	"regexp"
	"strings"
)

// Redacted is what RedactSecrets puts where a secret was.
const Redacted = "[REDACTED]"

// Which settings hold secrets. The names come from the packaging,
// chef-boneyard/opscode-omnibus tag 11.1.8:
// files/private-chef-cookbooks/private-chef/libraries/private_chef.rb
// (generate_secrets: rabbitmq password, jobs_password, actions_password;
// opscode_webui cookie_secret; postgresql sql_password, sql_ro_password;
// opscode_account session_secret_key; drbd shared_secret; keepalived
// vrrp_instance_password; oc_bifrost superuser_id, sql_password,
// sql_ro_password; bookshelf access_key_id, secret_access_key; gen_ldap:
// ldap bind_password) and attributes/default.rb. The same names key
// /etc/opscode/private-chef-secrets.json. Matching by suffix covers
// settings added later; the few names that end like a secret but are not
// one are listed in notSecret.
var (
	secretSuffixes = []string{"password", "passwd", "_pass", "secret", "_key", "_key_id", "token"}
	secretNames    = map[string]bool{
		"superuser_id":  true, // oc_bifrost: the id that authorises everything
		"access_key_id": true,
	}
	notSecret = map[string]bool{
		"ssl_certificate_key": true, // nginx: a file path
		"root_metric_key":     true, // opscode-erchef: a metric prefix ("chefAPI")
		"session_key":         true, // opscode-webui: the cookie's name
	}
)

// IsSecretSetting reports whether a private-chef.rb setting name (the last
// subscript: "sql_password" of postgresql['sql_password']) holds a secret.
func IsSecretSetting(name string) bool {
	n := strings.ToLower(name)
	if notSecret[n] {
		return false
	}
	if secretNames[n] {
		return true
	}
	for _, s := range secretSuffixes {
		if strings.HasSuffix(n, s) {
			return true
		}
	}
	return false
}

var (
	// -----BEGIN [RSA |EC |OPENSSH |ENCRYPTED ]PRIVATE KEY----- up to its
	// END line, or to the end of the text when the block was cut short.
	pemPrivate = regexp.MustCompile(`(?s)-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\z)`)
	// private-chef.rb: name['key'] = value, name["a"][:b] = value.
	rbAssign = regexp.MustCompile(`([A-Za-z_][\w-]*(?:\[[ \t]*(?:'[^'\n]*'|"[^"\n]*"|:[\w-]+)[ \t]*\])+[ \t]*=[ \t]*)("(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|[^\s#=>~][^\s#,]*)`)
	// JSON (private-chef-secrets.json, chef attribute dumps): "key": "value".
	jsonPair = regexp.MustCompile(`("([\w-]+)"[ \t]*:[ \t]*)"(?:[^"\\\n]|\\.)*"`)
	// Erlang app.config (oc_erchef, bookshelf): {db_pass, "v"} or {k, <<"v">>}.
	erlPair = regexp.MustCompile(`(\{[ \t]*([a-z][\w]*)[ \t]*,[ \t]*)(<<"(?:[^"\\\n]|\\.)*">>|"(?:[^"\\\n]|\\.)*")`)
	// keepalived.conf's "auth_pass v" and DRBD's "shared-secret v;", as the
	// 11.1.8 templates keepalived.conf.erb and drbd.conf.erb render them.
	confSecret = regexp.MustCompile(`(?m)(\b(?:auth_pass|shared-secret)[ \t]+)([^\s;]+)`)
	// Ruby hashes (Chef's failure dumps, node attributes printed by
	// chef-solo): "key"=>"v", 'key' => 'v', :key => "v".
	rbRocket = regexp.MustCompile(`((?:"([\w-]+)"|'([\w-]+)'|:([\w-]+))[ \t]*=>[ \t]*)("(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|[^\s,}\]]+)`)
	// Environment assignments in a command line or a process listing:
	// PGPASSWORD=v, DB_PASS="v".
	envAssign = regexp.MustCompile(`(\b([A-Z][A-Z0-9_]*)=)("(?:[^"\\\n]|\\.)*"|'[^'\n]*'|[^\s;&|]+)`)
	// YAML (a key: value line, possibly a list item).
	yamlPair = regexp.MustCompile(`(?m)(^[ \t]*(?:-[ \t]+)?([A-Za-z_][\w-]*):[ \t]+)("(?:[^"\\\n]|\\.)*"|'[^'\n]*'|[^\s#][^\n#]*?)[ \t]*$`)
	// Command-line options: --password v, --db-password=v.
	cliOption = regexp.MustCompile(`((?:^|[ \t])--([\w-]+)(?:=|[ \t]+))("(?:[^"\\\n]|\\.)*"|'[^'\n]*'|[^\s-][^\s]*)`)
	// The last subscript of an rbAssign key.
	lastSubscript = regexp.MustCompile(`\[[ \t]*(?:'([^'\n]*)'|"([^"\n]*)"|:([\w-]+))[ \t]*\][ \t]*=[ \t]*$`)
)

// RedactSecrets returns text with the secrets chefha knows how to find
// replaced by Redacted: the values of private-chef.rb settings whose names
// hold secrets (IsSecretSetting) wherever such an assignment appears (a
// cat of the file, a grep of it, a section of a larger script's output),
// the same keys in JSON (private-chef-secrets.json) and Erlang configs,
// keepalived's auth_pass and DRBD's shared-secret, and the bodies of PEM
// private keys. It is idempotent, and leaves text without secrets as it was.
func RedactSecrets(text []byte) []byte {
	out := text
	if bytes.Contains(out, []byte("PRIVATE KEY-----")) {
		out = pemPrivate.ReplaceAllFunc(out, func(m []byte) []byte {
			kind := pemPrivate.FindSubmatch(m)[1]
			return []byte("-----BEGIN " + string(kind) + "PRIVATE KEY-----\n" + Redacted + "\n-----END " + string(kind) + "PRIVATE KEY-----")
		})
	}
	// The other forms never span lines: look only at lines that could
	// hold one (regexp scans are slow; most output has none).
	var b []byte
	changed := false
	for rest := out; len(rest) > 0; {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line = rest[:i+1]
		}
		rest = rest[len(line):]
		red := redactLine(line)
		if !changed && &red[0] != &line[0] {
			changed = true
			b = append(b, out[:len(out)-len(rest)-len(line)]...)
		}
		if changed {
			b = append(b, red...)
		}
	}
	if !changed {
		return out
	}
	return b
}

// redactLine applies the one-line forms; it returns line itself when
// nothing matched.
func redactLine(line []byte) []byte {
	if !mayHoldSecret(line) {
		return line
	}
	l := line
	if bytes.IndexByte(l, '[') >= 0 && bytes.IndexByte(l, '=') >= 0 {
		l = replaceValue(l, rbAssign, func(sub [][]byte) string {
			k := lastSubscript.FindSubmatch(sub[1])
			if k == nil {
				return ""
			}
			return string(k[1]) + string(k[2]) + string(k[3])
		})
	}
	if bytes.IndexByte(l, '"') >= 0 && bytes.IndexByte(l, ':') >= 0 {
		l = replaceValue(l, jsonPair, func(sub [][]byte) string { return string(sub[2]) })
	}
	if bytes.IndexByte(l, '{') >= 0 && bytes.IndexByte(l, '"') >= 0 {
		l = replaceValue(l, erlPair, func(sub [][]byte) string { return string(sub[2]) })
	}
	if bytes.Contains(l, []byte("=>")) {
		l = replaceValue(l, rbRocket, func(sub [][]byte) string { return string(sub[2]) + string(sub[3]) + string(sub[4]) })
	}
	if bytes.IndexByte(l, '=') >= 0 {
		l = replaceValue(l, envAssign, func(sub [][]byte) string { return string(sub[2]) })
	}
	if bytes.IndexByte(l, ':') >= 0 {
		l = replaceValue(l, yamlPair, func(sub [][]byte) string { return string(sub[2]) })
	}
	if bytes.Contains(l, []byte("--")) {
		l = replaceValue(l, cliOption, func(sub [][]byte) string { return strings.ReplaceAll(string(sub[2]), "-", "_") })
	}
	if bytes.Contains(l, []byte("auth_pass")) || bytes.Contains(l, []byte("shared-secret")) {
		l = confSecret.ReplaceAll(l, []byte("${1}"+Redacted))
	}
	return l
}

// secretWords are in every name IsSecretSetting accepts, in any case.
var secretWords = []string{"pass", "secret", "key", "token", "superuser"}

// mayHoldSecret is a cheap look before the regexps: a line without any of
// secretWords holds no secret chefha finds.
func mayHoldSecret(line []byte) bool {
	for _, w := range secretWords {
		if containsFold(line, w) {
			return true
		}
	}
	return false
}

// containsFold reports whether s holds the lower-case ASCII word in any
// case.
func containsFold(s []byte, word string) bool {
	for i := 0; i+len(word) <= len(s); i++ {
		j := 0
		for ; j < len(word); j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != word[j] {
				break
			}
		}
		if j == len(word) {
			return true
		}
	}
	return false
}

// replaceValue replaces the value (the text after submatch 1) of every
// match of re whose key names a secret; text itself when there is none.
func replaceValue(text []byte, re *regexp.Regexp, key func(sub [][]byte) string) []byte {
	if !re.Match(text) {
		return text
	}
	return re.ReplaceAllFunc(text, func(m []byte) []byte {
		sub := re.FindSubmatch(m)
		if !IsSecretSetting(key(sub)) {
			return m
		}
		val := m[len(sub[1]):]
		if bytes.Contains(val, []byte(Redacted)) {
			return m // idempotent: already redacted
		}
		var r string
		switch {
		case bytes.HasPrefix(val, []byte(`<<"`)):
			r = `<<"` + Redacted + `">>`
		case len(val) > 0 && val[0] == '\'':
			r = "'" + Redacted + "'"
		default:
			r = `"` + Redacted + `"`
		}
		return append(append([]byte(nil), sub[1]...), r...)
	})
}

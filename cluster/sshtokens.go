package cluster

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ssh_config(5) TOKENS, as OpenSSH 9.2 (Debian 12) expands them: HostName
// takes %% and %h; ProxyJump %%, %h, %n, %p and %r; CertificateFile,
// IdentityAgent, IdentityFile and UserKnownHostsFile %%, %C, %d, %h, %i,
// %k, %L, %l, %n, %p, %r and %u, after ~ and ${VAR}.
const fileTokenSet = "CdhikLlnpru"

// clientTokens are the token values for a host as given (alias) and the
// config resolved so far.
func clientTokens(alias string, c SSHConfig) map[byte]string {
	port := c.Port
	if port == 0 {
		port = 22
	}
	ruser := c.User
	if ruser == "" {
		ruser = localUser()
	}
	home, _ := os.UserHomeDir()
	long, _ := os.Hostname()
	short, _, _ := strings.Cut(long, ".")
	t := map[byte]string{
		'd': home,
		'h': c.Host,
		'i': strconv.Itoa(os.Getuid()),
		'k': alias, // HostKeyAlias is not supported: the alias as given
		'L': short,
		'l': long,
		'n': alias,
		'p': strconv.Itoa(port),
		'r': ruser,
		'u': localUser(),
	}
	// %C: SHA-1 of %l%h%p%r, in hex (OpenSSH 9.2; 9.4 appends %j).
	sum := sha1.Sum([]byte(t['l'] + t['h'] + t['p'] + t['r']))
	t['C'] = hex.EncodeToString(sum[:])
	return t
}

// expandTokens replaces %x tokens in s; a token the keyword does not take
// is an error, as in OpenSSH.
func expandTokens(s, keyword, allowed string, vals map[byte]string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 == len(s) {
			return "", fmt.Errorf("%s %q ends in a lone %%", keyword, s)
		}
		i++
		c := s[i]
		switch {
		case c == '%':
			b.WriteByte('%')
		case strings.IndexByte(allowed, c) >= 0:
			b.WriteString(vals[c])
		default:
			return "", fmt.Errorf("%s %q: %%%c is not a token %s takes (it takes %%%%%s)", keyword, s, c, keyword, spell(allowed))
		}
	}
	return b.String(), nil
}

func spell(allowed string) string {
	var b strings.Builder
	for i := 0; i < len(allowed); i++ {
		b.WriteString(" %")
		b.WriteByte(allowed[i])
	}
	return b.String()
}

// expandPath expands a file keyword's value: a leading ~, ${VAR} from the
// environment (unset is an error), then tokens.
func expandPath(v, keyword string, vals map[byte]string) (string, error) {
	if v == "~" || strings.HasPrefix(v, "~/") {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("%s %q: %w", keyword, v, err)
		}
		v = filepath.Join(home, v[1:])
	}
	var b strings.Builder
	for rest := v; ; {
		i := strings.Index(rest, "${")
		if i < 0 {
			b.WriteString(rest)
			break
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return "", fmt.Errorf("%s %q: unterminated ${", keyword, v)
		}
		name := rest[i+2 : i+j]
		val, ok := os.LookupEnv(name)
		if !ok {
			return "", fmt.Errorf("%s %q: environment variable %s is not set", keyword, v, name)
		}
		b.WriteString(rest[:i])
		b.WriteString(val)
		rest = rest[i+j+1:]
	}
	v = b.String()
	return expandTokens(v, keyword, fileTokenSet, vals)
}

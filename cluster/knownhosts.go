package cluster

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"strings"

	"golang.org/x/crypto/ssh"
)

// chefha reads known_hosts itself rather than through x/crypto's
// knownhosts package, which (as of v0.59) differs from OpenSSH where it
// matters here:
//   - it counts @cert-authority lines as plain host keys, so a host
//     known only through a CA looks like a HOST KEY MISMATCH, and a CA key
//     presented as a plain host key would be accepted;
//   - a pattern's port is split off before matching, so "[host]:*" and a
//     bare "*" do not match a host on a non-standard port, as they do in
//     OpenSSH, which globs the whole "[host]:port" string;
//   - matching is case-sensitive where OpenSSH lowercases;
//   - @revoked applies to every host, where OpenSSH honours its pattern.
// What follows is OpenSSH's hostfile.c and match.c behaviour, as sshd(8)
// SSH_KNOWN_HOSTS_FILE_FORMAT describes it.

type khMarker int

const (
	khPlain khMarker = iota
	khCertAuthority
	khRevoked
)

// khEntry is one usable line of a known_hosts file.
type khEntry struct {
	marker   khMarker
	patterns []string // comma-separated host patterns, lowercased; nil when hashed
	salt     []byte   // |1|salt|hash: a hashed host name
	hash     []byte
	key      ssh.PublicKey
	file     string
	line     int
}

// knownHosts is the entries of known_hosts files, in file and line order.
type knownHosts struct{ entries []khEntry }

// readKnownHosts reads known_hosts files. Lines OpenSSH would skip (bad
// keys, unknown markers, old RSA1 lines) are skipped, as it does.
func readKnownHosts(files []string) (*knownHosts, error) {
	db := &knownHosts{}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("known_hosts: %w", err)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, 1<<20)
		for n := 1; sc.Scan(); n++ {
			if e, ok := parseKnownHostsLine(sc.Text()); ok {
				e.file, e.line = name, n
				db.entries = append(db.entries, e)
			}
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("known_hosts %s: %w", name, err)
		}
	}
	return db, nil
}

func parseKnownHostsLine(line string) (khEntry, bool) {
	f := strings.Fields(line)
	if len(f) == 0 || strings.HasPrefix(f[0], "#") {
		return khEntry{}, false
	}
	var e khEntry
	switch f[0] {
	case "@cert-authority":
		e.marker, f = khCertAuthority, f[1:]
	case "@revoked":
		e.marker, f = khRevoked, f[1:]
	}
	if len(f) < 3 || strings.HasPrefix(f[0], "@") {
		return khEntry{}, false
	}
	if strings.HasPrefix(f[0], "|") {
		parts := strings.Split(f[0], "|")
		if len(parts) != 4 || parts[1] != "1" {
			return khEntry{}, false
		}
		var err1, err2 error
		e.salt, err1 = base64.StdEncoding.DecodeString(parts[2])
		e.hash, err2 = base64.StdEncoding.DecodeString(parts[3])
		if err1 != nil || err2 != nil || len(e.hash) != sha1.Size {
			return khEntry{}, false
		}
	} else {
		e.patterns = strings.Split(strings.ToLower(f[0]), ",")
	}
	blob, err := base64.StdEncoding.DecodeString(f[2])
	if err != nil {
		return khEntry{}, false
	}
	if e.key, err = ssh.ParsePublicKey(blob); err != nil || e.key.Type() != f[1] {
		return khEntry{}, false
	}
	return e, true
}

// lookupName is the name OpenSSH looks a host up by: "host" on port 22,
// "[host]:port" otherwise, lowercased.
func lookupName(hostport string) (name, host string) {
	h, p, err := net.SplitHostPort(hostport)
	if err != nil {
		h, p = hostport, "22"
	}
	h = strings.ToLower(h)
	if p == "22" {
		return h, h
	}
	return "[" + h + "]:" + p, h
}

// matches reports whether the entry is for name: its hash, or its
// patterns as OpenSSH's match_hostname reads them (any negated pattern
// that matches excludes the host, whatever else matches).
func (e *khEntry) matches(name string) bool {
	if e.patterns == nil {
		mac := hmac.New(sha1.New, e.salt)
		mac.Write([]byte(name))
		return hmac.Equal(mac.Sum(nil), e.hash)
	}
	found := false
	for _, p := range e.patterns {
		neg := strings.HasPrefix(p, "!")
		if !glob(strings.TrimPrefix(p, "!"), name) {
			continue
		}
		if neg {
			return false
		}
		found = true
	}
	return found
}

// glob matches OpenSSH's patterns: '*' any run of characters, '?' one.
func glob(pattern, s string) bool {
	px, sx := 0, 0
	starP, starS := -1, 0
	for sx < len(s) {
		switch {
		case px < len(pattern) && (pattern[px] == '?' || pattern[px] == s[sx]):
			px++
			sx++
		case px < len(pattern) && pattern[px] == '*':
			starP, starS = px, sx
			px++
		case starP >= 0:
			starS++
			px, sx = starP+1, starS
		default:
			return false
		}
	}
	for px < len(pattern) && pattern[px] == '*' {
		px++
	}
	return px == len(pattern)
}

func keyEqual(a, b ssh.PublicKey) bool { return bytes.Equal(a.Marshal(), b.Marshal()) }

// find returns the first entry of kind for name holding key (any key when
// key is nil).
func (db *knownHosts) find(kind khMarker, name string, key ssh.PublicKey) *khEntry {
	for i := range db.entries {
		e := &db.entries[i]
		if e.marker == kind && (key == nil || keyEqual(e.key, key)) && e.matches(name) {
			return e
		}
	}
	return nil
}

// check verifies the key a host offered, as OpenSSH's check_host_key: a
// host certificate needs a @cert-authority for the host that signed it
// and must be valid for the host's name (without a trusted CA, its plain
// key is checked instead); a plain key must be listed for the host. A
// key, or the CA that signed a certificate, listed @revoked for the host
// is refused.
func (db *knownHosts) check(hostport string, key ssh.PublicKey) error {
	name, host := lookupName(hostport)
	fail := func(he *HostKeyError) error {
		he.Host = hostport
		he.Fingerprint = ssh.FingerprintSHA256(key)
		return he
	}
	if cert, ok := key.(*ssh.Certificate); ok && cert.CertType == ssh.HostCert {
		if r := db.find(khRevoked, name, cert.Key); r != nil {
			return fail(&HostKeyError{Revoked: true, File: r.file, Line: r.line})
		}
		if r := db.find(khRevoked, name, cert.SignatureKey); r != nil {
			return fail(&HostKeyError{Revoked: true, CertAuthority: true, File: r.file, Line: r.line})
		}
		if ca := db.find(khCertAuthority, name, cert.SignatureKey); ca != nil {
			// OpenSSH (8.5+) lets a host certificate's principals be
			// patterns ("*.example.com"); CheckCert wants the exact one.
			principal := host
			for _, p := range cert.ValidPrincipals {
				if glob(strings.ToLower(p), host) {
					principal = p
					break
				}
			}
			checker := ssh.CertChecker{}
			if err := checker.CheckCert(principal, cert); err != nil {
				return fail(&HostKeyError{CertAuthority: true, File: ca.file, Line: ca.line, Reason: strings.TrimPrefix(err.Error(), "ssh: ")})
			}
			return nil
		}
		// No CA vouches for it: OpenSSH retries with the certified key.
		key = cert.Key
	}
	if r := db.find(khRevoked, name, key); r != nil {
		return fail(&HostKeyError{Revoked: true, File: r.file, Line: r.line})
	}
	var other *khEntry
	for i := range db.entries {
		e := &db.entries[i]
		if e.marker != khPlain || !e.matches(name) {
			continue
		}
		if keyEqual(e.key, key) {
			return nil
		}
		if other == nil || (other.key.Type() != key.Type() && e.key.Type() == key.Type()) {
			other = e
		}
	}
	if other != nil {
		return fail(&HostKeyError{File: other.file, Line: other.line})
	}
	he := &HostKeyError{Unknown: true}
	if ca := db.find(khCertAuthority, name, nil); ca != nil {
		he.CertAuthority, he.File, he.Line = true, ca.file, ca.line
	}
	return fail(he)
}

// certAlgos are the host certificate algorithms asked for first when a
// @cert-authority covers the host, as OpenSSH orders them.
var certAlgos = []string{
	ssh.CertAlgoED25519v01, ssh.CertAlgoECDSA256v01, ssh.CertAlgoECDSA384v01, ssh.CertAlgoECDSA521v01,
	ssh.CertAlgoRSASHA512v01, ssh.CertAlgoRSASHA256v01,
}

// algorithms lists the host key algorithms to ask hostport for: the
// certificate algorithms first when a CA covers it, then the types of the
// keys recorded for it (so the server offers one of those, rather than
// another type that would look like a changed key), or every plain type
// when only a CA is recorded. nil (x/crypto's default) for an unknown host.
func (db *knownHosts) algorithms(hostport string) []string {
	name, _ := lookupName(hostport)
	var out []string
	seen := map[string]bool{}
	add := func(a ...string) {
		for _, x := range a {
			if !seen[x] {
				seen[x] = true
				out = append(out, x)
			}
		}
	}
	ca := db.find(khCertAuthority, name, nil) != nil
	if ca {
		add(certAlgos...)
	}
	plain := false
	for i := range db.entries {
		e := &db.entries[i]
		if e.marker != khPlain || !e.matches(name) {
			continue
		}
		plain = true
		switch t := e.key.Type(); t {
		case ssh.KeyAlgoRSA:
			add(ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA)
		default:
			add(t)
		}
	}
	if ca && !plain {
		for _, a := range ssh.SupportedAlgorithms().HostKeys {
			if !strings.Contains(a, "-cert-") {
				add(a)
			}
		}
	}
	return out
}

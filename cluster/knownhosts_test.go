package cluster

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

func TestKnownHostsPatterns(t *testing.T) {
	t.Parallel()
	hashed := knownhosts.HashHostname("be1.example.com")
	hashedPort := knownhosts.HashHostname("[be1.example.com]:2222")
	tests := []struct {
		pattern string
		host    string // host:port as dialled
		want    bool
	}{
		{"be1.example.com", "be1.example.com:22", true},
		{"be1.example.com", "be1.example.com:2222", false},
		{"[be1.example.com]:2222", "be1.example.com:2222", true},
		{"[be1.example.com]:2222", "be1.example.com:22", false},
		{"*.example.com", "be1.example.com:22", true},
		{"*.example.com", "be1.example.com:2222", false}, // OpenSSH globs "[be1.example.com]:2222"
		{"*", "be1.example.com:2222", true},
		{"[*.example.com]:*", "be1.example.com:2222", true},
		{"[127.0.0.1]:*", "127.0.0.1:2222", true},
		{"[127.0.0.1]:*", "127.0.0.1:22", false},
		{"be?.example.com", "be1.example.com:22", true},
		{"be?.example.com", "be10.example.com:22", false},
		{"be*", "be10.example.com:22", true},
		{"*.example.com,!be2.example.com", "be1.example.com:22", true},
		{"*.example.com,!be2.example.com", "be2.example.com:22", false},
		{"!be2.example.com,*.example.com", "be2.example.com:22", false},
		{"!be2.example.com", "be1.example.com:22", false}, // a negation alone matches nothing
		{"BE1.Example.COM", "be1.example.com:22", true},
		{"be1.example.com", "BE1.EXAMPLE.COM:22", true},
		{"fe1,be1.example.com,192.168.4.1", "192.168.4.1:22", true},
		{"[fd00::1]:2222", "[fd00::1]:2222", true},
		{"fd00::1", "[fd00::1]:22", true},
		{hashed, "be1.example.com:22", true},
		{hashed, "be2.example.com:22", false},
		{hashed, "be1.example.com:2222", false},
		{hashedPort, "be1.example.com:2222", true},
		{"*a*a*a*a*a*a*a*b", strings.Repeat("a", 200) + ":22", false},
	}
	key := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(newSigner(t).PublicKey())))
	for _, tt := range tests {
		e, ok := parseKnownHostsLine(tt.pattern + " " + key)
		require.True(t, ok, tt.pattern)
		name, _ := lookupName(tt.host)
		assert.Equal(t, tt.want, e.matches(name), "%s vs %s", tt.pattern, tt.host)
	}
	blob := strings.Fields(key)[1]
	for _, bad := range []string{"", "# comment", "@unknown host " + key, "host ssh-ed25519", "host ssh-rsa " + blob, "|2|abc|def " + key, "@cert-authority @revoked * " + key, "host ssh-ed25519 not-base64"} {
		_, ok := parseKnownHostsLine(bad)
		assert.False(t, ok, "%q is skipped", bad)
	}
}

func newSigner(t *testing.T) ssh.Signer {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	s, err := ssh.NewSignerFromKey(priv)
	require.NoError(t, err)
	return s
}

func hostCert(t *testing.T, ca ssh.Signer, host ssh.PublicKey, principals []string, before time.Time) *ssh.Certificate {
	c := &ssh.Certificate{Key: host, CertType: ssh.HostCert, KeyId: "be1", ValidPrincipals: principals,
		ValidAfter: uint64(time.Now().Add(-time.Hour).Unix()), ValidBefore: uint64(before.Unix())}
	require.NoError(t, c.SignCert(rand.Reader, ca))
	return c
}

func TestKnownHostsCheck(t *testing.T) {
	t.Parallel()
	ca, otherCA, host, other := newSigner(t), newSigner(t), newSigner(t), newSigner(t)
	line := func(prefix string, k ssh.PublicKey) string {
		return prefix + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
	}
	later := time.Now().Add(time.Hour)
	good := hostCert(t, ca, host.PublicKey(), []string{"be1.example.com"}, later)
	wild := hostCert(t, ca, host.PublicKey(), []string{"*.example.com"}, later)
	wrongName := hostCert(t, ca, host.PublicKey(), []string{"be2.example.com"}, later)
	expired := hostCert(t, ca, host.PublicKey(), []string{"be1.example.com"}, time.Now().Add(-time.Minute))
	byOtherCA := hostCert(t, otherCA, host.PublicKey(), []string{"be1.example.com"}, later)

	tests := []struct {
		name  string
		lines []string
		key   ssh.PublicKey
		check func(t *testing.T, he *HostKeyError) // nil: accepted
	}{
		{"certificate from the CA", []string{line("@cert-authority *.example.com", ca.PublicKey())}, good, nil},
		{"wildcard principal", []string{line("@cert-authority *", ca.PublicKey())}, wild, nil},
		{"CA for other hosts only: the plain key decides", []string{line("@cert-authority *.other.com", ca.PublicKey()), line("be1.example.com", host.PublicKey())}, good, nil},
		{"plain key listed", []string{line("be1.example.com", host.PublicKey())}, host.PublicKey(), nil},
		{"certificate for another name", []string{line("@cert-authority *", ca.PublicKey())}, wrongName, func(t *testing.T, he *HostKeyError) {
			assert.True(t, he.CertAuthority)
			assert.Contains(t, he.Reason, "principal")
			assert.Equal(t, 1, he.Line)
		}},
		{"expired certificate", []string{line("@cert-authority *", ca.PublicKey())}, expired, func(t *testing.T, he *HostKeyError) {
			assert.Contains(t, he.Reason, "expired")
		}},
		{"revoked CA", []string{line("@cert-authority *", ca.PublicKey()), line("@revoked *", ca.PublicKey())}, good, func(t *testing.T, he *HostKeyError) {
			assert.True(t, he.Revoked)
			assert.True(t, he.CertAuthority)
			assert.Equal(t, 2, he.Line)
		}},
		{"revoked key behind a certificate", []string{line("@cert-authority *", ca.PublicKey()), line("@revoked be1.example.com", host.PublicKey())}, good, func(t *testing.T, he *HostKeyError) {
			assert.True(t, he.Revoked)
			assert.False(t, he.CertAuthority)
		}},
		{"revoked plain key", []string{line("be1.example.com", host.PublicKey()), line("@revoked *", host.PublicKey())}, host.PublicKey(), func(t *testing.T, he *HostKeyError) {
			assert.True(t, he.Revoked)
		}},
		{"revoked for another host only", []string{line("be1.example.com", host.PublicKey()), line("@revoked be2.example.com", host.PublicKey())}, host.PublicKey(), nil},
		{"another CA signed it and no plain key is known", []string{line("@cert-authority *", ca.PublicKey())}, byOtherCA, func(t *testing.T, he *HostKeyError) {
			assert.True(t, he.Unknown)
			assert.True(t, he.CertAuthority, "a CA covers the host: not for accept-new")
		}},
		{"the CA key offered as a plain host key", []string{line("@cert-authority *", ca.PublicKey())}, ca.PublicKey(), func(t *testing.T, he *HostKeyError) {
			assert.True(t, he.Unknown, "a CA line vouches for certificates only")
		}},
		{"changed key", []string{"# header", line("be1.example.com", other.PublicKey())}, host.PublicKey(), func(t *testing.T, he *HostKeyError) {
			assert.False(t, he.Unknown)
			assert.Equal(t, 2, he.Line)
			assert.Contains(t, he.Error(), "HOST KEY MISMATCH")
		}},
		{"unknown host", []string{line("be2.example.com", host.PublicKey())}, host.PublicKey(), func(t *testing.T, he *HostKeyError) {
			assert.True(t, he.Unknown)
			assert.False(t, he.CertAuthority)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "known_hosts")
			require.NoError(t, os.WriteFile(f, []byte(strings.Join(tt.lines, "\n")+"\n"), 0o600))
			err := checkKnown([]string{f}, "be1.example.com:22", tt.key)
			if tt.check == nil {
				require.NoError(t, err)
				return
			}
			var he *HostKeyError
			require.True(t, errors.As(err, &he), "%v", err)
			if !he.Unknown || he.CertAuthority {
				assert.Equal(t, f, he.File)
			}
			assert.Equal(t, "be1.example.com:22", he.Host)
			tt.check(t, he)
		})
	}
}

func TestKnownHostsAlgorithms(t *testing.T) {
	t.Parallel()
	ca, host := newSigner(t), newSigner(t)
	f := filepath.Join(t.TempDir(), "known_hosts")
	require.NoError(t, os.WriteFile(f, []byte(
		"@cert-authority *.example.com "+string(ssh.MarshalAuthorizedKey(ca.PublicKey()))+
			"fe1.other.com "+string(ssh.MarshalAuthorizedKey(host.PublicKey()))), 0o600))
	db, err := readKnownHosts([]string{f})
	require.NoError(t, err)
	algos := db.algorithms("be1.example.com:22")
	require.NotEmpty(t, algos)
	assert.Equal(t, ssh.CertAlgoED25519v01, algos[0], "certificates first where a CA is trusted")
	assert.Contains(t, algos, ssh.KeyAlgoED25519, "then plain keys, so a host without a certificate is reported as unknown")
	assert.Equal(t, []string{ssh.KeyAlgoED25519}, db.algorithms("fe1.other.com:22"), "only the recorded type")
	assert.Nil(t, db.algorithms("fe2.other.com:22"))
}

func FuzzKnownHostsLine(f *testing.F) {
	f.Add("@cert-authority *.example.com,!be2.example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJdD7y3aLq454yWBdwLWbieU1ebz9/cu7/QEXn9OIeZJ", "be1.example.com:22")
	f.Add("|1|c2FsdA==|aGFzaA== ssh-ed25519 AAAA", "[fd00::1]:2222")
	f.Fuzz(func(t *testing.T, line, host string) {
		e, ok := parseKnownHostsLine(line)
		if !ok {
			return
		}
		if e.key == nil {
			t.Fatalf("accepted %q without a key", line)
		}
		name, _ := lookupName(host)
		e.matches(name)
	})
}

package cluster_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chefha/chefha/cluster"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
)

// assertNoFakes checks that no FAKE… secret value of the fixtures is left.
func assertNoFakes(t *testing.T, out []byte) {
	t.Helper()
	for i, line := range strings.Split(string(out), "\n") {
		assert.NotContains(t, line, "FAKE", "line %d still holds a secret", i+1)
	}
}

func TestRedactSecretsPrivateChefRB(t *testing.T) {
	t.Parallel()
	in, err := os.ReadFile(filepath.Join("testdata", "ha-secrets.rb"))
	require.NoError(t, err)
	require.Contains(t, string(in), "FAKE")
	out := cluster.RedactSecrets(in)
	assertNoFakes(t, out)
	// What is not a secret stays, byte for byte.
	for _, keep := range []string{
		`nginx['ssl_certificate_key'] = "/etc/opscode/chef.example.com.key"`,
		`opscode_erchef['root_metric_key'] = "chefAPI"`,
		`opscode_webui['session_key'] = "_sandbox_session"`,
		`ldap['bind_dn'] = "CN=chef,OU=svc,DC=example,DC=com"`,
		`ldap["bind_password"] = "[REDACTED]" # the service account`,
		`postgresql['sql_ro_password'] = '[REDACTED]'`,
		`opscode_erchef['s3_token'] = "[REDACTED]"`,
		"# Pinned so both back ends agree after a rebuild (copied from",
	} {
		assert.Contains(t, string(out), keep)
	}
	assert.Equal(t, bytes.Count(in, []byte("\n")), bytes.Count(out, []byte("\n")), "no line added or lost")

	// The redacted file still describes the same cluster.
	want, err := cluster.ParseTopology(bytes.NewReader(in))
	require.NoError(t, err)
	got, err := cluster.ParseTopology(bytes.NewReader(out))
	require.NoError(t, err)
	assert.Equal(t, want.Servers, got.Servers)
	v, _ := got.Setting("postgresql['sql_password']")
	assert.Equal(t, `"[REDACTED]"`, v)
	assert.Equal(t, out, cluster.RedactSecrets(out), "idempotent")
}

func TestRedactSecretsInLargerOutput(t *testing.T) {
	t.Parallel()
	rb, err := os.ReadFile(filepath.Join("testdata", "ha-secrets.rb"))
	require.NoError(t, err)
	js, err := os.ReadFile(filepath.Join("testdata", "private-chef-secrets.json"))
	require.NoError(t, err)
	var b bytes.Buffer
	b.WriteString("==> uname -a <==\nLinux be1 2.6.32-431.el6.x86_64\n")
	b.WriteString("==> /etc/opscode/private-chef.rb <==\n")
	b.Write(rb)
	b.WriteString("==> grep -n password /etc/opscode/private-chef.rb <==\n")
	b.WriteString("29:postgresql['sql_password'] = \"FAKEgrepped\"\n")
	b.WriteString("==> /etc/opscode/private-chef-secrets.json <==\n")
	b.Write(js)
	b.WriteString("==> /var/opt/opscode/keepalived/etc/keepalived.conf <==\n    authentication {\n        auth_type PASS\n        auth_pass FAKEauthpass\n    }\n")
	b.WriteString("==> /var/opt/opscode/drbd/etc/pc0.res <==\n  net {\n    cram-hmac-alg sha1;\n    shared-secret FAKEdrbdres;\n  }\n")
	b.WriteString("==> /var/opt/opscode/opscode-erchef/etc/app.config <==\n  {db_pass, \"FAKEerl\"},\n  {rabbitmq_password, <<\"FAKEerlbin\">>},\n  {s3_url_ttl, 900},\n")
	b.WriteString("==> ps <==\n  1 runsvdir -P /opt/opscode/service\n")
	out := cluster.RedactSecrets(b.Bytes())
	assertNoFakes(t, out)
	for _, keep := range []string{"Linux be1 2.6.32-431.el6.x86_64", "auth_type PASS", "cram-hmac-alg sha1;",
		"{s3_url_ttl, 900}", "runsvdir -P /opt/opscode/service", `"shared_secret": "[REDACTED]"`,
		"auth_pass [REDACTED]", "shared-secret [REDACTED];", `{rabbitmq_password, <<"[REDACTED]">>}`} {
		assert.Contains(t, string(out), keep)
	}
	assert.Equal(t, out, cluster.RedactSecrets(out), "idempotent")
}

func TestRedactSecretsPrivateKeys(t *testing.T) {
	t.Parallel()
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	openssh, err := ssh.MarshalPrivateKey(edKey, "")
	require.NoError(t, err)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	ecDER, err := x509.MarshalECPrivateKey(ecKey)
	require.NoError(t, err)
	pkcs8, err := x509.MarshalPKCS8PrivateKey(ecKey)
	require.NoError(t, err)
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	pub, err := x509.MarshalPKIXPublicKey(&other.PublicKey)
	require.NoError(t, err)
	blocks := []*pem.Block{openssh, {Type: "EC PRIVATE KEY", Bytes: ecDER}, {Type: "PRIVATE KEY", Bytes: pkcs8}}
	var in bytes.Buffer
	in.WriteString("$ cat /etc/opscode/pivotal.pem /etc/opscode/webui_pub.pem\n")
	var bodies []string
	for _, blk := range blocks {
		p := pem.EncodeToMemory(blk)
		in.Write(p)
		lines := strings.Split(strings.TrimSpace(string(p)), "\n")
		bodies = append(bodies, lines[1:len(lines)-1]...)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})
	in.Write(pubPEM)
	// A key cut off mid-way (output truncated) is redacted to the end.
	cut := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: pkcs8})
	cut = cut[:len(cut)/2]
	in.Write(cut)
	bodies = append(bodies, strings.Split(string(cut), "\n")[1])

	out := string(cluster.RedactSecrets(in.Bytes()))
	for _, body := range bodies {
		assert.NotContains(t, out, body)
	}
	assert.Contains(t, out, string(pubPEM), "public keys are not secrets")
	assert.Contains(t, out, "-----BEGIN OPENSSH PRIVATE KEY-----\n[REDACTED]\n-----END OPENSSH PRIVATE KEY-----")
	assert.Contains(t, out, "-----BEGIN EC PRIVATE KEY-----\n[REDACTED]\n-----END EC PRIVATE KEY-----")
	assert.Contains(t, out, "-----BEGIN RSA PRIVATE KEY-----\n[REDACTED]\n-----END RSA PRIVATE KEY-----")
	assert.Equal(t, out, string(cluster.RedactSecrets([]byte(out))), "idempotent")
}

func TestIsSecretSetting(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]bool{
		"sql_password": true, "sql_ro_password": true, "password": true, "jobs_password": true,
		"cookie_secret": true, "shared_secret": true, "session_secret_key": true, "vrrp_instance_password": true,
		"superuser_id": true, "access_key_id": true, "secret_access_key": true, "bind_password": true,
		"api_token": true, "db_pass": true, "s3_secret_key_id": true, "BIND_PASSWORD": true,
		"ssl_certificate_key": false, "root_metric_key": false, "session_key": false,
		"bind_dn": false, "ipaddress": false, "max_request_size": false, "host": false, "passive": false,
	} {
		assert.Equal(t, want, cluster.IsSecretSetting(name), name)
	}
}

func FuzzRedactSecrets(f *testing.F) {
	for _, name := range []string{"ha-secrets.rb", "private-chef-secrets.json", "ha.rb"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("-----BEGIN RSA PRIVATE KEY-----\nMIIE\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		out := cluster.RedactSecrets(in)
		if again := cluster.RedactSecrets(out); !bytes.Equal(again, out) {
			t.Fatalf("not idempotent:\n%q\n%q", out, again)
		}
		// A planted assignment of a secret never survives, whatever surrounds it.
		planted := append(append([]byte(nil), in...), "\npostgresql['sql_password'] = \"FUZZSECRETVALUE\"\n"...)
		if bytes.Contains(cluster.RedactSecrets(planted), []byte("FUZZSECRETVALUE")) && !bytes.Contains(in, []byte("FUZZSECRETVALUE")) {
			t.Fatalf("secret survived after %q", in)
		}
	})
}

func TestErrorsDoNotPrintSecrets(t *testing.T) {
	t.Parallel()
	rb := []byte("postgresql['sql_password'] = \"FAKEsqlpw\"\n")
	res, err := cluster.NewLocal("be1").Run(context.Background(), cluster.Cmd{Argv: []string{"sh", "-c", "cat; exit 2"}, Stdin: rb})
	var ee *cluster.ExitError
	require.ErrorAs(t, err, &ee)
	assert.Contains(t, string(res.Stdout), "FAKE", "the Result is the command's own")
	assert.Contains(t, err.Error(), "be1: sh -c 'cat; exit 2' exited 2")
	assert.NotContains(t, err.Error(), "FAKE")
	se := &cluster.SudoError{Node: "be1", User: "deploy", Cmd: "cat", Stderr: "keepalived['vrrp_instance_password'] = 'FAKEvrrp'\nsudo: a password is required"}
	assert.NotContains(t, se.Error(), "FAKE")
}

// BenchmarkRedactSecrets: what a default Recording adds to each exchange,
// on 1 MiB of gathered output with private-chef.rb in it.
func BenchmarkRedactSecrets(b *testing.B) {
	rb, err := os.ReadFile(filepath.Join("testdata", "ha-secrets.rb"))
	if err != nil {
		b.Fatal(err)
	}
	var in bytes.Buffer
	for in.Len() < 1<<20 {
		in.WriteString("root      1234     1  0 10:00 ?        00:00:01 runsv opscode-erchef\n")
		if in.Len()%(64<<10) < 80 {
			in.Write(rb)
		}
	}
	b.SetBytes(int64(in.Len()))
	for b.Loop() {
		cluster.RedactSecrets(in.Bytes())
	}
}

// The forms Chef's failure dumps, process arguments and YAML configs use.
func TestRedactSecretsOtherForms(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"sql_password"=>"s3cret", "sql_user"=>"opscode_chef"}`, `{"sql_password"=>"[REDACTED]", "sql_user"=>"opscode_chef"}`},
		{`{'sql_password' => 's3cret'}`, `{'sql_password' => '[REDACTED]'}`},
		{`:db_pass => "s3cret", :db_user => "bifrost"`, `:db_pass => "[REDACTED]", :db_user => "bifrost"`},
		{`PGPASSWORD=s3cret psql -U opscode_chef`, `PGPASSWORD="[REDACTED]" psql -U opscode_chef`},
		{`env HOME=/root DB_PASS='s3cret' run`, `env HOME=/root DB_PASS='[REDACTED]' run`},
		{"sql_password: s3cret\n", "sql_password: \"[REDACTED]\"\n"},
		{"  - secret_access_key: 'abc/def'\n", "  - secret_access_key: '[REDACTED]'\n"},
		{`pg_dump --password s3cret --username opscode`, `pg_dump --password "[REDACTED]" --username opscode`},
		{`tool --db-password=s3cret -v`, `tool --db-password="[REDACTED]" -v`},
		// Not secrets.
		{`nginx --ssl-certificate-key /etc/opscode/x.key`, `nginx --ssl-certificate-key /etc/opscode/x.key`},
		{"Error: password authentication failed\n", "Error: password authentication failed\n"},
		{`HOME=/root PATH=/usr/bin`, `HOME=/root PATH=/usr/bin`},
		{`{"role"=>"backend"}`, `{"role"=>"backend"}`},
	} {
		got := string(cluster.RedactSecrets([]byte(tc.in)))
		assert.Equal(t, tc.want, got, tc.in)
		assert.Equal(t, got, string(cluster.RedactSecrets([]byte(got))), "idempotent: %s", tc.in)
	}
}

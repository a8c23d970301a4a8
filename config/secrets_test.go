package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every password form of a PostgreSQL connection string is hidden: the URL
// user information (also one url.Parse misreads: '/' or '#' unescaped), a
// URL query parameter, key=value pairs with quoted values holding spaces,
// and sslpassword (libpq's key of a client key's password).
func TestRedactDSNHidesEveryPassword(t *testing.T) {
	for _, tc := range []struct{ dsn, secret, keep string }{
		{"postgres://gw:s3cret@db:5432/kanta?sslmode=disable", "s3cret", "postgres://gw:<redacted>@db:5432/kanta?sslmode=disable"},
		{"postgresql://gw:pa/ss#w0rd@db/kanta", "w0rd", "@db/kanta"},
		{"postgres://db/kanta?user=gw&password=s3cret&sslmode=require", "s3cret", "sslmode=require"},
		{"postgres://gw:one@db/kanta?password=two", "two", "postgres://gw:<redacted>@db"},
		{"host=db user=gw password=s3cret dbname=kanta", "s3cret", "dbname=kanta"},
		{"host=db password = 'sec ret\\' more' dbname=kanta", "ret", "dbname=kanta"},
		{"host=db PASSWORD=s3cret", "s3cret", "host=db"},
		{"host=db sslpassword=keypw sslkey=/k.pem", "keypw", "sslkey=/k.pem"},
	} {
		got := redactDSN(tc.dsn)
		if strings.Contains(got, tc.secret) || !strings.Contains(got, redacted) || !strings.Contains(got, tc.keep) {
			t.Errorf("redactDSN(%q) = %q: want %q hidden and %q kept", tc.dsn, got, tc.secret, tc.keep)
		}
	}
}

// Secrets can come from files (*_file keys); config check then prints the
// file key and never the secret, and giving both is an error naming the key.
func TestSecretsFromFiles(t *testing.T) {
	dir := t.TempDir()
	dsnFile, pwFile := filepath.Join(dir, "dsn"), filepath.Join(dir, "p12pw")
	os.WriteFile(dsnFile, []byte("postgres://gw:s3cret@db/kanta\n"), 0o600)
	os.WriteFile(pwFile, []byte("hunter2\n"), 0o600)
	base := "queue:\n  backend: postgres\n  postgres_dsn_file: " + dsnFile + "\n" +
		"organisations:\n  - oid: 1.2.246.10.2012566.19.1\n    name: Helsingin kaupunki\n    document_root: 1.2.246.10.2012566\n    pkcs12: /pki/org.p12\n    pkcs12_password_file: " + pwFile + "\n"
	c, err := Load(writeFile(t, base))
	if err != nil {
		t.Fatal(err)
	}
	if c.Queue.PostgresDSN != "postgres://gw:s3cret@db/kanta" || c.Organisations[0].PKCS12Password != "hunter2" {
		t.Fatalf("secrets not read from their files: %q %q", c.Queue.PostgresDSN, c.Organisations[0].PKCS12Password)
	}
	out, err := c.Redacted().YAML()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "s3cret") || strings.Contains(string(out), "hunter2") || !strings.Contains(string(out), pwFile) {
		t.Fatalf("config check output:\n%s", out)
	}
	// The redacted output loads back (the secrets from their files again).
	if back, err := Load(writeFile(t, string(out))); err != nil || back.Organisations[0].PKCS12Password != "hunter2" {
		t.Fatalf("redacted output does not load back: %v", err)
	}
	_, err = Load(writeFile(t, base+"    pkcs12_password: other\n"))
	if err == nil || !strings.Contains(err.Error(), "organisations[0].pkcs12_password") {
		t.Fatalf("secret and its file both given: %v", err)
	}
	os.WriteFile(pwFile, nil, 0o600)
	if _, err = Load(writeFile(t, base)); err == nil || !strings.Contains(err.Error(), "pkcs12_password_file") {
		t.Fatalf("empty secret file: %v", err)
	}
}

// The README's environment overrides reach list elements: each key of an
// organisation is KANTA_GATEWAY_ORGANISATIONS_<index>_<KEY>, the PKCS#12
// password (and its file) included; a wrong index or key is an error
// naming the variable.
func TestOrganisationEnvironmentOverrides(t *testing.T) {
	pwFile := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pwFile, []byte("from-file\n"), 0o600)
	t.Setenv("KANTA_GATEWAY_ORGANISATIONS_0_PKCS12_PASSWORD", "hunter2")
	t.Setenv("KANTA_GATEWAY_ORGANISATIONS_0_PKCS12", "/pki/org.p12")
	t.Setenv("KANTA_GATEWAY_ORGANISATIONS_0_CUSTODIAN_OID", "1.2.246.10.2012566.10.40")
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	o := c.Organisations[0]
	if o.PKCS12Password != "hunter2" || o.PKCS12 != "/pki/org.p12" || o.CustodianOID != "1.2.246.10.2012566.10.40" {
		t.Fatalf("organisation from the environment: %+v", o)
	}
	if out, _ := c.Redacted().YAML(); strings.Contains(string(out), "hunter2") {
		t.Fatalf("secret from the environment printed:\n%s", out)
	}
	t.Setenv("KANTA_GATEWAY_ORGANISATIONS_0_PKCS12_PASSWORD", "")
	t.Setenv("KANTA_GATEWAY_ORGANISATIONS_0_PKCS12_PASSWORD_FILE", pwFile)
	if c, err := Load(""); err != nil || c.Organisations[0].PKCS12Password != "from-file" {
		t.Fatalf("password file from the environment: %v", err)
	}
	for name, want := range map[string]string{
		"KANTA_GATEWAY_ORGANISATIONS_1_NAME":     "has 1 entries",
		"KANTA_GATEWAY_ORGANISATIONS_0_PASSWORD": `no key "password"`,
		"KANTA_GATEWAY_ORGANISATIONS_X_NAME":     "<index>",
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(name, "x")
			if _, err := Load(""); err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), want) {
				t.Fatalf("error %v, want %s named with %q", err, name, want)
			}
		})
	}
}

// data_dir did nothing (queue.sqlite_path names the database, the mock has
// its own --data-dir): it is no key, so a file still giving it learns so
// at start instead of believing the data went there.
func TestDataDirIsNoKey(t *testing.T) {
	_, err := Load(writeFile(t, "data_dir: /var/lib/kanta\n"))
	if err == nil || !strings.Contains(err.Error(), "data_dir") {
		t.Fatalf("data_dir accepted: %v", err)
	}
}

package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// config check prints no secret, wherever it came from: a key=value DSN
// with a quoted password, a password file, the environment's PKCS#12
// password of an organisation.
func TestConfigCheckPrintsNoSecret(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "p12pw")
	os.WriteFile(pw, []byte("fileSecretQX\n"), 0o600)
	p := filepath.Join(dir, "gw.yaml")
	os.WriteFile(p, []byte("queue:\n  backend: postgres\n  postgres_dsn: \"host=db user=gw password='dsn SecretQY' dbname=kanta\"\n"+
		"organisations:\n  - oid: 1.2.246.10.2012566.19.1\n    name: A\n    document_root: 1.2.246.10.2012566\n    pkcs12_password_file: "+pw+"\n"+
		"  - oid: 1.2.246.10.2012566.19.2\n    name: B\n    document_root: 1.2.246.10.2012566\n"), 0o600)
	t.Setenv("KANTA_GATEWAY_ORGANISATIONS_1_PKCS12_PASSWORD", "envSecretQZ")
	code, stdout, stderr := runCLI(t, "config", "check", "--config", p)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, secret := range []string{"fileSecretQX", "SecretQY", "envSecretQZ"} {
		if strings.Contains(stdout+stderr, secret) {
			t.Errorf("config check printed %q:\n%s", secret, stdout)
		}
	}
	if !strings.Contains(stdout, "pkcs12_password_file: "+pw) || strings.Count(stdout, "<redacted>") != 2 {
		t.Errorf("want the password file named and two secrets redacted:\n%s", stdout)
	}
}

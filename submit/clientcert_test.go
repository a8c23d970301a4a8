package submit

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/fixtures/pki"
)

// The submitter checks at start that its TLS client certificate is one:
// extended key usage clientAuth. A system signing certificate (no EKU) or
// a server certificate configured as kanta.client_cert is a configuration
// error naming the file and what was found, never the key.
func TestClientCertificateMustHaveClientAuth(t *testing.T) {
	dir := t.TempDir()
	const org = "1.2.246.10.2012566.19.1"
	p, err := pki.Generate(filepath.Join(dir, "pki"), []pki.Organiser{{OID: org, Name: "Testikunta"}}, "pw", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	anyEKU := certWithEKU(t, dir, "any", []x509.ExtKeyUsage{x509.ExtKeyUsageAny})
	for _, c := range []struct {
		name, cert, key string
		want            string // "" = accepted
	}{
		{"TLS client certificate", p.ClientCert, p.ClientKey, ""},
		{"system signing certificate", p.Signing[org].Cert, p.Signing[org].Key, "found none"},
		{"TLS server certificate", p.ServerCert, p.ServerKey, "found serverAuth"},
		{"any usage, not clientAuth", anyEKU[0], anyEKU[1], "found anyExtendedKeyUsage"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(Config{ArchiveURL: "https://kanta.invalid/archive", ClientCert: c.cert, ClientKey: c.key, CACert: p.CACert})
			if c.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			msg := err.Error()
			for _, want := range []string{"kanta.client_cert", c.cert, "clientAuth", c.want} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not name %q", msg, want)
				}
			}
			if strings.Contains(msg, "PRIVATE KEY") || strings.Contains(msg, c.key) {
				t.Errorf("error %q shows the key or its file", msg)
			}
		})
	}
}

// certWithEKU writes a self-signed certificate with the given usages and
// its key; it returns their paths.
func certWithEKU(t *testing.T, dir, name string, eku []x509.ExtKeyUsage) [2]string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: eku,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	k8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	out := [2]string{filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")}
	if err := os.WriteFile(out[0], pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out[1], pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: k8}), 0o600); err != nil {
		t.Fatal(err)
	}
	return out
}

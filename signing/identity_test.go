package signing

import (
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"crypto/x509"
)

func writePEM(t *testing.T, path, typ string, ders ...[]byte) {
	t.Helper()
	var b []byte
	for _, d := range ders {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: d})...)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestLoadPEM(t *testing.T) {
	p := newTestPKI(t, testNow)
	id := p.identity(t, organiserOID, testNow.Add(-time.Hour), testNow.Add(240*time.Hour))
	dir := t.TempDir()
	certFile, keyFile, otherKeyFile := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem"), filepath.Join(dir, "o.pem")
	writePEM(t, certFile, "CERTIFICATE", id.Cert.Raw, p.inter.Raw)
	writePEM(t, keyFile, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(id.Key))
	other, err := x509.MarshalPKCS8PrivateKey(rootKey)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, otherKeyFile, "PRIVATE KEY", other)

	got, err := LoadPEM(certFile, keyFile)
	if err != nil {
		t.Fatalf("LoadPEM: %v", err)
	}
	if !got.Cert.Equal(id.Cert) || len(got.Chain) != 1 || !got.Chain[0].Equal(p.inter) {
		t.Error("LoadPEM did not return the signer first and the intermediate as chain")
	}
	if d := got.DaysToExpiry(testNow); d < 9.99 || d > 10.01 {
		t.Errorf("DaysToExpiry = %f, want 10", d)
	}
	_, err = LoadPEM(certFile, otherKeyFile)
	wantErr(t, err, "private key does not match the certificate")
	_, err = LoadPEM(keyFile, keyFile)
	wantErr(t, err, "no CERTIFICATE block")
	_, err = LoadPKCS12(certFile, "x")
	wantErr(t, err, "decode PKCS#12")
}

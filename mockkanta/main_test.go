package mockkanta

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/fixtures/pki"
	"github.com/helsinki-student-welfare/kanta-gateway/mockkanta/libxml2"
	"github.com/helsinki-student-welfare/kanta-gateway/signing"
)

// Organisers of the test PKI.
const (
	orgHelsinki = "1.2.246.10.2012566.19.1"
	orgOther    = "1.2.246.10.1234567.19.1"
	// registration number of the test psychologist (professional signatures)
	registrationPsychologist = "100000001"
)

// testSchema is the in-process CDA schema validator the test servers use.
var testSchema *libxml2.Validator

// testPKI is generated once per test binary.
var testPKI struct {
	paths          *pki.Paths
	untrustedPaths *pki.Paths
	roots          *x509.CertPool
	helsinki       *signing.Identity // system certificate of orgHelsinki
	other          *signing.Identity // system certificate of orgOther
	untrusted      *signing.Identity // system certificate of orgHelsinki from a CA nobody trusts
	card           *signing.Identity // professional card of registrationPsychologist
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mockkanta-pki-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	err = setupPKI(dir)
	if err != nil {
		err = fmt.Errorf("test PKI: %w", err)
	} else if testSchema, err = libxml2.New(); err != nil {
		// In process, as cmd/mock-kanta runs it; the default (xmllint per
		// document) is tested where a server is made without it.
		err = fmt.Errorf("CDA schema validator (the mock's tests need cgo and libxml2-dev; scripts/test.sh installs it): %w", err)
	}
	code := 1
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
	} else {
		code = m.Run()
		testSchema.Close()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

func setupPKI(dir string) error {
	now := time.Now()
	orgs := []pki.Organiser{{OID: orgHelsinki, Name: "Helsingin kaupunki"}, {OID: orgOther, Name: "Muu kunta"}}
	p, err := pki.Generate(filepath.Join(dir, "trusted"), orgs, "test-password", now)
	if err != nil {
		return err
	}
	u, err := pki.Generate(filepath.Join(dir, "untrusted"), orgs[:1], "test-password", now)
	if err != nil {
		return err
	}
	testPKI.paths, testPKI.untrustedPaths = p, u
	caPEM, err := os.ReadFile(p.CACert)
	if err != nil {
		return err
	}
	testPKI.roots = x509.NewCertPool()
	testPKI.roots.AppendCertsFromPEM(caPEM)
	if testPKI.helsinki, err = signing.LoadPEM(p.Signing[orgHelsinki].Cert, p.Signing[orgHelsinki].Key); err != nil {
		return err
	}
	if testPKI.other, err = signing.LoadPEM(p.Signing[orgOther].Cert, p.Signing[orgOther].Key); err != nil {
		return err
	}
	if testPKI.untrusted, err = signing.LoadPEM(u.Signing[orgHelsinki].Cert, u.Signing[orgHelsinki].Key); err != nil {
		return err
	}
	testPKI.card, err = issueCard(p, filepath.Join(dir, "card"), registrationPsychologist, now)
	return err
}

// issueCard makes a professional's card certificate (subject serialNumber =
// registration number) under the test CA; fixtures/pki makes only system
// certificates.
func issueCard(p *pki.Paths, dir, registration string, now time.Time) (*signing.Identity, error) {
	caPEM, _ := os.ReadFile(p.CACert)
	keyPEM, err := os.ReadFile(p.CAKey)
	if err != nil {
		return nil, err
	}
	cb, _ := pem.Decode(caPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, fmt.Errorf("test CA files are not PEM")
	}
	ca, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, err
	}
	caKey, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, err
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(now.UnixNano()),
		Subject:      pkix.Name{CommonName: "Pirjo Psykologi", SerialNumber: registration, Country: []string{"FI"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	os.MkdirAll(dir, 0o700)
	certPath, keyPath := filepath.Join(dir, "card.pem"), filepath.Join(dir, "card-key.pem")
	os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600)
	return signing.LoadPEM(certPath, keyPath)
}

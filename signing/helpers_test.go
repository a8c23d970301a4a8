package signing

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/helsinki-student-welfare/kanta-gateway/internal/kantasample"
)

// Test identities: RSA keys are slow to generate, so four are made once per
// test binary and certificates (cheap) are minted per test from them.
var (
	keysOnce                             sync.Once
	rootKey, interKey, signKey, otherKey *rsa.PrivateKey
)

func testKeys(t testing.TB) {
	t.Helper()
	keysOnce.Do(func() {
		gen := func() *rsa.PrivateKey {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			return k
		}
		rootKey, interKey, signKey, otherKey = gen(), gen(), gen(), gen()
	})
}

var serialCounter int64 = 100

func issue(t testing.TB, tmpl *x509.Certificate, key *rsa.PrivateKey, parent *x509.Certificate, parentKey *rsa.PrivateKey) *x509.Certificate {
	t.Helper()
	serialCounter++
	tmpl.SerialNumber = big.NewInt(serialCounter)
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func caTemplate(cn string, now time.Time) *x509.Certificate {
	return &x509.Certificate{
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"Kanta gateway test"}},
		NotBefore:             now.Add(-24 * time.Hour),
		NotAfter:              now.AddDate(5, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
}

func signerTemplate(serialNumber string, notBefore, notAfter time.Time) *x509.Certificate {
	return &x509.Certificate{
		Subject:   pkix.Name{CommonName: "Test system", SerialNumber: serialNumber, Country: []string{"FI"}},
		NotBefore: notBefore,
		NotAfter:  notAfter,
		KeyUsage:  x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
	}
}

// testPKI is a root CA, an intermediate CA, and an unrelated root.
type testPKI struct {
	root, inter, other *x509.Certificate
	roots              *x509.CertPool
	rootPEM            string // file path for xmlsec1 --trusted-pem
}

func newTestPKI(t testing.TB, now time.Time) *testPKI {
	testKeys(t)
	p := &testPKI{}
	p.root = issue(t, caTemplate("Test Root CA", now), rootKey, nil, nil)
	p.inter = issue(t, caTemplate("Test Intermediate CA", now), interKey, p.root, rootKey)
	p.other = issue(t, caTemplate("Untrusted Root CA", now), otherKey, nil, nil)
	p.roots = x509.NewCertPool()
	p.roots.AddCert(p.root)
	p.rootPEM = filepath.Join(t.TempDir(), "root.pem")
	if err := os.WriteFile(p.rootPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.root.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// identity issues a signing certificate for serialNumber under the
// intermediate (chain included), valid from notBefore to notAfter.
func (p *testPKI) identity(t testing.TB, serialNumber string, notBefore, notAfter time.Time) *Identity {
	c := issue(t, signerTemplate(serialNumber, notBefore, notAfter), signKey, p.inter, interKey)
	return &Identity{Key: signKey, Cert: c, Chain: []*x509.Certificate{p.inter}}
}

// untrustedIdentity issues a signing certificate under the unrelated root.
func (p *testPKI) untrustedIdentity(t testing.TB, serialNumber string, now time.Time) *Identity {
	c := issue(t, signerTemplate(serialNumber, now.Add(-time.Hour), now.AddDate(2, 0, 0)), signKey, p.other, otherKey)
	return &Identity{Key: signKey, Cert: c}
}

func readDoc(t testing.TB, name string) *etree.Document {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromFile(filepath.Join("testdata", name)); err != nil {
		t.Fatal(err)
	}
	return doc
}

func docBytes(t testing.TB, doc *etree.Document) []byte {
	t.Helper()
	b, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// xmlsec1Verify runs xmlsec1 on the document; trustedPEM "" means --insecure.
func xmlsec1Verify(t testing.TB, doc []byte, trustedPEM string, idNodes ...string) error {
	t.Helper()
	bin, err := exec.LookPath("xmlsec1")
	if err != nil {
		t.Fatalf("xmlsec1 is required for interoperability tests: %v", err)
	}
	file := filepath.Join(t.TempDir(), "doc.xml")
	if err := os.WriteFile(file, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"--verify"}
	if trustedPEM == "" {
		args = append(args, "--insecure")
	} else {
		args = append(args, "--trusted-pem", trustedPEM)
	}
	for _, n := range idNodes {
		args = append(args, "--id-attr:ID", n)
	}
	out, err := exec.Command(bin, append(args, file)...).CombinedOutput()
	if err != nil {
		return &xmlsecError{err: err, out: string(out)}
	}
	return nil
}

type xmlsecError struct {
	err error
	out string
}

func (e *xmlsecError) Error() string { return e.err.Error() + ": " + e.out }

// sampleCDA extracts the signed CDA from the MIME part of the real archive
// message (internal/kantasample).
func sampleCDA(t testing.TB) []byte {
	t.Helper()
	frame := etree.NewDocument()
	if err := frame.ReadFromBytes(kantasample.Message()); err != nil {
		t.Fatal(err)
	}
	text := frame.FindElement("//controlActProcess/subject/clinicalDocument/text")
	if text == nil {
		t.Fatal("sample frame has no clinicalDocument/text")
	}
	mime := text.Text()
	i := strings.Index(mime, "Content-Transfer-Encoding: BASE64")
	if i < 0 {
		t.Fatal("sample MIME has no BASE64 part")
	}
	part := mime[i:]
	start := strings.Index(part, "\n\n")
	end := strings.Index(part, "\n------=_Part")
	if start < 0 || end < start {
		t.Fatal("sample MIME part not delimited as expected")
	}
	cda, err := base64.StdEncoding.DecodeString(stripSpace(part[start:end]))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(cda, []byte("<ClinicalDocument")) {
		t.Fatal("decoded sample part is not a CDA document")
	}
	return cda
}

func sampleSignerCert(t testing.TB) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(kantasample.SignerPEM())
	if block == nil {
		t.Fatal("sample-signer.pem holds no PEM block")
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

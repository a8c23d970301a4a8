package signing_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/beevik/etree"

	"github.com/helsinki-student-welfare/kanta-gateway/signing"
)

// A system signature (type 3) is made with the register keeper's system
// certificate, whose subject serialNumber is the custodian's OID; Verify
// returns what it found, and a failure carries its kind (here a changed
// body: ErrSignatureInvalid).
func ExampleSigner_Sign() {
	const custodian = "1.2.246.10.2012566.10.0"
	const bodyID = "OID1.2.246.10.2012566.10.1.42.0"
	now := time.Date(2026, 9, 1, 9, 0, 0, 0, time.UTC)

	id, roots, err := systemIdentity(custodian, now)
	if err != nil {
		fmt.Println(err)
		return
	}
	signer, err := signing.NewSigner(id, custodian, signing.TypeSystem, now)
	if err != nil {
		fmt.Println(err)
		return
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromFile("testdata/health-document.xml"); err != nil {
		fmt.Println(err)
		return
	}
	if err := signer.Sign(doc, bodyID, now); err != nil {
		fmt.Println(err)
		return
	}
	signed, err := doc.WriteToBytes()
	if err != nil {
		fmt.Println(err)
		return
	}

	sigs, err := signing.Verify(signed, signing.VerifyOptions{Roots: roots, ExpectedBodyID: bodyID})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(sigs[0].SignatureID, "type", sigs[0].SignatureType, "by", sigs[0].SignerSerialNumber, "at", sigs[0].Timestamp.Format(time.RFC3339))

	doc.FindElement("//structuredBody//title").SetText("changed after signing")
	tampered, _ := doc.WriteToBytes()
	_, err = signing.Verify(tampered, signing.VerifyOptions{Roots: roots})
	fmt.Println(errors.Is(err, signing.ErrSignatureInvalid), signing.KindOf(err))
	// Output:
	// S3_OID1.2.246.10.2012566.10.1.42.0 type 3 by 1.2.246.10.2012566.10.0 at 2026-09-01T09:00:00Z
	// true signature invalid
}

// systemIdentity makes a self-signed system certificate for the example
// (fixtures/pki makes a whole test PKI).
func systemIdentity(custodian string, now time.Time) (*signing.Identity, *x509.CertPool, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "Example system", SerialNumber: custodian},
		NotBefore:    now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment | x509.KeyUsageCertSign,
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	return &signing.Identity{Key: key, Cert: cert}, roots, nil
}

package signing

import (
	"crypto/x509"
	"errors"
	"testing"
	"time"
)

// A new submission is checked at its receipt time as well: the signer
// certificate must still be valid when the document arrives, and the
// signature timestamp may not lie after the receipt beyond the allowed
// skew. Without ReceivedAt (an archived document) only the signature time
// counts, as for the 2017 sample (TestVerifyRealSample).
func TestReceiptTimeChecks(t *testing.T) {
	p := newTestPKI(t, testNow)
	signed := func(id *Identity, at time.Time) []byte {
		t.Helper()
		s := &Signer{Identity: id, CustodianOID: organiserOID, SignatureType: TypeSystem}
		d := readDoc(t, "health-document.xml")
		if err := s.sign(d, healthBodyID, at); err != nil {
			t.Fatal(err)
		}
		return docBytes(t, d)
	}
	valid := p.identity(t, organiserOID, testNow.Add(-time.Hour), testNow.AddDate(2, 0, 0))
	skew := 2 * time.Minute

	ok := signed(valid, testNow)
	if _, err := Verify(ok, VerifyOptions{Roots: p.roots, ReceivedAt: testNow.Add(time.Minute), MaxFutureSkew: skew}); err != nil {
		t.Fatalf("a document signed a minute before receipt: %v", err)
	}
	// Signed a minute "after" receipt: within the skew.
	if _, err := Verify(ok, VerifyOptions{Roots: p.roots, ReceivedAt: testNow.Add(-time.Minute), MaxFutureSkew: skew}); err != nil {
		t.Fatalf("a timestamp within the skew: %v", err)
	}

	future := signed(valid, testNow.Add(time.Hour))
	if _, err := Verify(future, VerifyOptions{Roots: p.roots}); err != nil {
		t.Fatalf("without a receipt time the future timestamp is only checked against the certificate: %v", err)
	}
	_, err := Verify(future, VerifyOptions{Roots: p.roots, ReceivedAt: testNow, MaxFutureSkew: skew})
	if !errors.Is(err, ErrSignedInFuture) {
		t.Errorf("timestamp an hour after receipt: %v, want ErrSignedInFuture", err)
	}

	// Valid when signed, expired when it arrives (a back-dated signature
	// with a certificate that has run out).
	// (Within the test CAs' validity, which starts a day before testNow.)
	expired := p.identity(t, organiserOID, testNow.Add(-20*time.Hour), testNow.Add(-6*time.Hour))
	backDated := signed(expired, testNow.Add(-12*time.Hour))
	if _, err := Verify(backDated, VerifyOptions{Roots: p.roots}); err != nil {
		t.Fatalf("an archived document verifies at its signature time: %v", err)
	}
	_, err = Verify(backDated, VerifyOptions{Roots: p.roots, ReceivedAt: testNow, MaxFutureSkew: skew})
	if !errors.Is(err, ErrSignerExpiredAtReceipt) {
		t.Errorf("certificate expired before receipt: %v, want ErrSignerExpiredAtReceipt", err)
	}
}

// A TLS certificate (extended key usage clientAuth or serverAuth) is not a
// signing certificate: the real signer of the 2017 sample carries no
// extended key usage (internal/kantasample/sample-signer.pem).
func TestTLSCertificateIsNotASigningCertificate(t *testing.T) {
	if c := sampleSignerCert(t); len(c.ExtKeyUsage) != 0 {
		t.Fatalf("the real signer certificate has extended key usages %v; the rule assumes none", c.ExtKeyUsage)
	}
	p := newTestPKI(t, testNow)
	for _, eku := range []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth} {
		tmpl := signerTemplate(organiserOID, testNow.Add(-time.Hour), testNow.AddDate(2, 0, 0))
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{eku}
		c := issue(t, tmpl, signKey, p.inter, interKey)
		id := &Identity{Key: signKey, Cert: c, Chain: []*x509.Certificate{p.inter}}
		d := readDoc(t, "health-document.xml")
		if err := mustSigner(t, id, TypeSystem).Sign(d, healthBodyID, testNow); err != nil {
			t.Fatal(err)
		}
		for _, opts := range []VerifyOptions{{Roots: p.roots}, {Insecure: true}} {
			if _, err := Verify(docBytes(t, d), opts); !errors.Is(err, ErrTLSCertificate) {
				t.Errorf("signed with a certificate of extended key usage %v (insecure %v): %v, want ErrTLSCertificate", eku, opts.Insecure, err)
			}
		}
	}
}

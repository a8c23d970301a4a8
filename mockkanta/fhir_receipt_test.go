package mockkanta

import (
	"testing"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/clock"
	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/signing"
	"github.com/helsinki-student-welfare/kanta-gateway/wire"
)

// The FHIR route checks the signer as the CDA route does, on every Bundle,
// also once the signer's chain is cached (the first Bundle below caches
// it): a signing time in the future or outside the certificate's
// validity, a signer not valid at receipt, a TLS certificate as signer, a
// chain to another CA.
func TestFHIRSignerChecksWithCachedChain(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	mock := clock.NewManual(now)
	cfg := trusted()
	cfg.Clock = mock
	_, hs := newTestServer(t, cfg)
	n := 0
	bundle := func(mod func(*bundleSpec)) builtBundle {
		n++
		e := entry("FRCPT-"+string(rune('A'+n)), documents.RolePsychologist, "2014-01-01")
		s := bundleSpec{entry: e, decision: decide(e, true), signedAt: now}
		if mod != nil {
			mod(&s)
		}
		return buildBundle(t, s)
	}
	expectOutcome(t, "first Bundle", sendBundle(t, hs.URL, bundle(nil)), 201, wire.DetailAccepted)

	expectOutcome(t, "signed an hour after receipt", sendBundle(t, hs.URL, bundle(func(s *bundleSpec) { s.signedAt = now.Add(time.Hour) })),
		422, wire.DetailSignedInFuture)
	expectOutcome(t, "signed four minutes after receipt (within the skew)",
		sendBundle(t, hs.URL, bundle(func(s *bundleSpec) { s.signedAt = now.Add(4 * time.Minute) })), 201, wire.DetailAccepted)
	// The test PKI's certificates start at its generation (before now).
	expectOutcome(t, "signed before the certificate's validity",
		sendBundle(t, hs.URL, bundle(func(s *bundleSpec) { s.signedAt = testPKI.helsinki.Cert.NotBefore.Add(-time.Hour) })),
		422, wire.DetailSignerNotTrusted)
	tlsClient, err := signing.LoadPEM(testPKI.paths.ClientCert, testPKI.paths.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		expectOutcome(t, "TLS client certificate as signer", sendBundle(t, hs.URL, bundle(func(s *bundleSpec) { s.identity = tlsClient })),
			422, wire.DetailSignerNotSigningCertificate)
		expectOutcome(t, "chain to another CA", sendBundle(t, hs.URL, bundle(func(s *bundleSpec) { s.identity = testPKI.untrusted })),
			422, wire.DetailSignerNotTrusted)
	}

	// Received after the certificate expired, signed while it was valid.
	late := bundle(nil)
	mock.Set(testPKI.helsinki.Cert.NotAfter.Add(time.Hour))
	expectOutcome(t, "signer expired at receipt", sendBundle(t, hs.URL, late), 422, wire.DetailSignerExpiredAtReceipt)
}

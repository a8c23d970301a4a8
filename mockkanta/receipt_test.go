package mockkanta

import (
	"testing"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/clock"
	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/signing"
	"github.com/helsinki-student-welfare/kanta-gateway/wire"
)

// A new submission whose signature timestamp lies after the receipt time
// by more than the configured skew is refused; within the skew it is
// taken. (The certificate's validity at receipt: TestRealSampleAccepted.)
func TestRefusesSignatureFromTheFuture(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	cfg := trusted()
	cfg.Clock = clock.NewManual(now)
	_, hs := newTestServer(t, cfg)
	e := entry("FUTURE-1", documents.RolePsychologist, "2014-01-01")
	// Signed (by the sender's clock) an hour after the mock receives it.
	inAnHour := spec{entry: e, decision: decide(e, true), signedAt: now.Add(time.Hour)}
	expectAck(t, submit(t, hs.URL, build(t, inAnHour).message), wire.AckRejected, wire.DetailSignedInFuture)
	// Four minutes ahead: within the default skew (5 minutes).
	e2 := entry("FUTURE-2", documents.RolePsychologist, "2014-01-01")
	expectAck(t, submit(t, hs.URL, build(t, spec{entry: e2, decision: decide(e2, true), signedAt: now.Add(4 * time.Minute)}).message),
		wire.AckAccepted, wire.DetailAccepted)

	tolerant := trusted()
	tolerant.Clock, tolerant.MaxSignatureSkew = clock.NewManual(now), 2*time.Hour
	_, hs2 := newTestServer(t, tolerant)
	expectAck(t, submit(t, hs2.URL, build(t, inAnHour).message), wire.AckAccepted, wire.DetailAccepted)
}

// A document signed with the TLS client certificate (extended key usage
// clientAuth) is refused: it is no signing certificate.
func TestRefusesTLSClientCertificateAsSigner(t *testing.T) {
	tlsClient, err := signing.LoadPEM(testPKI.paths.ClientCert, testPKI.paths.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	_, hs := newTestServer(t, trusted())
	e := entry("TLS-SIGNER", documents.RolePsychologist, "2014-01-01")
	msg := build(t, spec{entry: e, decision: decide(e, true), identity: tlsClient}).message
	expectAck(t, submit(t, hs.URL, msg), wire.AckRejected, wire.DetailSignerNotSigningCertificate)
}

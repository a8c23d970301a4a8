package mockkanta

import (
	"bytes"
	"testing"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/wire"
)

// The real Apotti client-relationship document of Vantaa-Kerava
// (Warc0ck/SH-Kanta-validator, Testiasiakirjat/Asiakkuusasiakirja_S.xml)
// lists enveloped-signature then exc-c14n as the transforms of each
// reference; the mock takes that shape in both archives.
func TestAcceptsEnvelopedSignatureTransformPair(t *testing.T) {
	_, hs := newTestServer(t, trusted())
	for _, role := range []documents.Role{documents.RoleSchoolWelfareOfficer, documents.RolePsychologist} {
		e := entry("ENV-"+string(role), role, "2014-01-01")
		if role == documents.RoleSchoolWelfareOfficer {
			archiveRelationship(t, hs.URL, e)
		}
		b := build(t, spec{entry: e, decision: decide(e, true), envelopedTransform: true})
		if n := bytes.Count(b.cda, []byte(`Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"`)); n != 2 {
			t.Fatalf("%s: %d enveloped-signature transforms, want 2", role, n)
		}
		expectAck(t, submit(t, hs.URL, b.message), wire.AckAccepted, wire.DetailAccepted)

		// Another transform in its place is refused as an invalid signature.
		o := entry("ENV-BAD-"+string(role), role, "2014-01-01")
		bad := build(t, spec{entry: o, decision: decide(o, true), envelopedTransform: true,
			editSigned: func(b []byte) []byte {
				return bytes.ReplaceAll(b, []byte("xmldsig#enveloped-signature"), []byte("xmldsig#base64"))
			}})
		expectAck(t, submit(t, hs.URL, bad.message), wire.AckRejected, wire.DetailSignatureInvalid)
	}
}

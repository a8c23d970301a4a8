package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/helsinki-student-welfare/kanta-gateway/fixtures/pki"
	"github.com/helsinki-student-welfare/kanta-gateway/signing"
)

// verify checks a system signature's serialNumber against the document's
// organisation, as the mock does (mockkanta signerFits: custodian or
// outsourcingServiceCustomer): a document of Helsinki signed with another
// organisation's system certificate is refused, though the signature
// itself verifies.
func TestVerifyRefusesSystemSignatureOfAnotherOrganisation(t *testing.T) {
	out := t.TempDir()
	if code, _, stderr := runCLI(t, "build", "--config", signingConfig(t, ""), "--now", "2026-11-22T12:00:00+02:00", "--out", out,
		"../fixtures/scenarios/psychologist.ndjson"); code != 0 {
		t.Fatalf("build exit %d: %s", code, stderr)
	}
	cdas, _ := filepath.Glob(filepath.Join(out, "*.cda.xml"))
	if len(cdas) == 0 {
		t.Fatal("build wrote no document")
	}
	const other = "1.2.246.10.1234567.19.1"
	op, err := pki.Generate(t.TempDir(), []pki.Organiser{{OID: other, Name: "Muu kunta"}}, "pw", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	id, err := signing.LoadPEM(op.Signing[other].Cert, op.Signing[other].Key)
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromFile(cdas[0]); err != nil {
		t.Fatal(err)
	}
	coll := doc.FindElement("//signatureCollection")
	for _, s := range coll.ChildElements() {
		coll.RemoveChild(s)
	}
	body := doc.FindElement("/ClinicalDocument/component/*[@ID]")
	now := time.Now()
	s, err := signing.NewSigner(id, id.Cert.Subject.SerialNumber, signing.TypeSystem, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Sign(doc, body.SelectAttrValue("ID", ""), now); err != nil {
		t.Fatal(err)
	}
	b, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte(`root="`+id.Cert.Subject.SerialNumber+`"`)) {
		t.Fatalf("the document names %s; the test needs one that does not", id.Cert.Subject.SerialNumber)
	}
	f := filepath.Join(t.TempDir(), "other.cda.xml")
	if err := os.WriteFile(f, b, 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, _ := runCLI(t, "verify", "--trust", op.CACert, f)
	if code != ExitRejected || !strings.Contains(stdout, "neither the document's custodian nor its outsourcingServiceCustomer") {
		t.Fatalf("verify of a document signed by another organisation: exit %d, want %d naming the custodian\n%s", code, ExitRejected, stdout)
	}
	// The same document signed by its own organisation verifies.
	if code, stdout, _ := runCLI(t, "verify", "--trust", testPKI(t).CACert, cdas[0]); code != 0 {
		t.Fatalf("the document as built: exit %d\n%s", code, stdout)
	}
}

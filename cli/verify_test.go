package cli

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/helsinki-student-welfare/kanta-gateway/signing"
)

// resignEnveloped replaces the signature of a built CDA document by one
// with the transforms enveloped-signature + exc-c14n on each reference, the
// shape of the real Apotti client-relationship document of Vantaa-Kerava
// (Warc0ck/SH-Kanta-validator, Testiasiakirjat/Asiakkuusasiakirja_S.xml).
func resignEnveloped(t *testing.T, cdaPath string, id *signing.Identity, organiser string) []byte {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromFile(cdaPath); err != nil {
		t.Fatal(err)
	}
	coll := doc.FindElement("//signatureCollection")
	for _, s := range coll.ChildElements() {
		coll.RemoveChild(s)
	}
	body := doc.FindElement("/ClinicalDocument/component/*[@ID]")
	if body == nil {
		t.Fatal("no body with ID")
	}
	now := time.Now()
	s, err := signing.NewSigner(id, organiser, signing.TypeSystem, now)
	if err != nil {
		t.Fatal(err)
	}
	s.EnvelopedTransform = true
	if err := s.Sign(doc, body.SelectAttrValue("ID", ""), now); err != nil {
		t.Fatal(err)
	}
	b, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(b, []byte("xmldsig#enveloped-signature")); n != 2 {
		t.Fatalf("%d enveloped-signature transforms, want 2 (one per reference)", n)
	}
	return b
}

func TestVerifyAcceptsEnvelopedSignatureTransform(t *testing.T) {
	p := testPKI(t)
	const org = "1.2.246.10.2012566.19.1"
	id, err := signing.LoadPEM(p.Signing[org].Cert, p.Signing[org].Key)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	cfg := signingConfig(t, "")
	if code, _, stderr := runCLI(t, "build", "--config", cfg, "--now", "2026-11-22T12:00:00+02:00", "--out", out,
		"../fixtures/scenarios/psychologist.ndjson", "../fixtures/scenarios/welfare-officer.ndjson"); code != 0 {
		t.Fatalf("build exit %d: %s", code, stderr)
	}
	cdas, _ := filepath.Glob(filepath.Join(out, "*.cda.xml"))
	var health, social string
	for _, f := range cdas {
		b, _ := os.ReadFile(f)
		if bytes.Contains(b, []byte("<nonXMLBody")) {
			social = f
		} else {
			health = f
		}
	}
	if health == "" || social == "" {
		t.Fatal("build made no health or no social document")
	}
	dir := t.TempDir()
	for name, src := range map[string]string{"structuredBody": health, "nonXMLBody": social} {
		f := filepath.Join(dir, name+".cda.xml")
		if err := os.WriteFile(f, resignEnveloped(t, src, id, org), 0o600); err != nil {
			t.Fatal(err)
		}
		code, stdout, stderr := runCLI(t, "verify", "--trust", p.CACert, f)
		if code != 0 || !strings.Contains(stdout, "OK: 1 valid signature") {
			t.Fatalf("verify refuses the %s document with the enveloped-signature pair: exit %d\n%s%s", name, code, stdout, stderr)
		}
		cmd := exec.Command("xmlsec1", "--verify", "--trusted-pem", p.CACert, "--id-attr:ID", name, "--id-attr:ID", "signatureTimestamp", f)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("xmlsec1 refuses the %s document: %v\n%s", name, err, out)
		}
		// A transform list no real producer uses is refused (exit 3).
		b, _ := os.ReadFile(f)
		bad := filepath.Join(dir, name+".bad.xml")
		os.WriteFile(bad, bytes.Replace(b, []byte("xmldsig#enveloped-signature"), []byte("xmldsig#base64"), 1), 0o600)
		if code, stdout, _ := runCLI(t, "verify", "--trust", p.CACert, bad); code != ExitRejected || !strings.Contains(stdout, "transforms must be") {
			t.Fatalf("verify of an unknown transform: exit %d\n%s", code, stdout)
		}
	}
}

package cda_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/documents/cda"
	"github.com/helsinki-student-welfare/kanta-gateway/fixtures/pki"
	"github.com/helsinki-student-welfare/kanta-gateway/signing"
	"github.com/helsinki-student-welfare/kanta-gateway/wire"
)

// TestSignedDocuments signs built documents with a generated system
// certificate, then checks that the health care document still validates
// against the schema, that xmlsec1 verifies every signature with the test CA
// as the only trust root, and that Inspect, CheckProfile and the archive
// frame work on the signed bytes.
func TestSignedDocuments(t *testing.T) {
	xmlsec1, err := exec.LookPath("xmlsec1")
	if err != nil {
		t.Fatal("xmlsec1 is required: ", err)
	}
	id, caCert := systemIdentity(t)
	for _, c := range cases() {
		t.Run(c.name, func(t *testing.T) {
			doc := build(t, c)
			at := c.e.FinalizedAt.Add(time.Minute)
			signer, err := signing.NewSigner(id, org.OID, signing.TypeSystem, at)
			if err != nil {
				t.Fatal(err)
			}
			if err := signer.Sign(doc.Tree, doc.BodyID, at); err != nil {
				t.Fatal(err)
			}
			signed := bytesOf(t, doc)
			if again := build(t, c); true {
				if err := signer.Sign(again.Tree, again.BodyID, at); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(signed, bytesOf(t, again)) {
					t.Fatal("signing the same document at the same instant is not byte-identical")
				}
			}
			if doc.Archive == documents.ArchivePatient {
				xmllint(t, signed)
			}
			f := filepath.Join(t.TempDir(), "signed.xml")
			if err := os.WriteFile(f, signed, 0o600); err != nil {
				t.Fatal(err)
			}
			body := "structuredBody"
			if doc.Archive == documents.ArchiveSocial {
				body = "nonXMLBody"
			}
			out, err := exec.Command(xmlsec1, "--verify", "--trusted-pem", caCert,
				"--id-attr:ID", body, "--id-attr:ID", "signatureTimestamp", f).CombinedOutput()
			if err != nil {
				t.Fatalf("xmlsec1 --verify: %v\n%s", err, out)
			}
			if _, err := signing.Verify(signed, signing.VerifyOptions{Insecure: true, ExpectedBodyID: doc.BodyID}); err != nil {
				t.Fatalf("signing.Verify: %v", err)
			}
			if err := cda.CheckProfile(signed); err != nil {
				t.Fatal(err)
			}
			h, err := cda.Inspect(signed)
			if err != nil || h.DocumentID != doc.ID || h.BodyID != doc.BodyID {
				t.Fatalf("Inspect: %+v %v", h, err)
			}
			raw, err := wire.BuildMessage(wire.MessageInput{
				Document: signed, Interaction: doc.Interaction,
				MessageID:    documents.MessageID(org.DocumentRoot, c.e.ID, c.e.Revision),
				CreationTime: at, ProcessingCode: "D", SenderOID: "1.2.246.10.2012566.10.99",
			})
			if err != nil {
				t.Fatal(err)
			}
			m, err := wire.ParseMessage(raw)
			if err != nil || !bytes.Equal(m.Document, signed) {
				t.Fatalf("frame round trip: %v", err)
			}
		})
	}
}

// systemIdentity is a system signing identity of the test organiser from a
// fresh test PKI (valid from 2026-01-01), and the PKI's CA certificate file
// (xmlsec1's trust root).
func systemIdentity(tb testing.TB) (*signing.Identity, string) {
	tb.Helper()
	paths, err := pki.Generate(tb.TempDir(), []pki.Organiser{{OID: org.OID, Name: org.Name}}, "test-password", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		tb.Fatal(err)
	}
	id, err := signing.LoadPEM(paths.Signing[org.OID].Cert, paths.Signing[org.OID].Key)
	if err != nil {
		tb.Fatal(err)
	}
	return id, paths.CACert
}

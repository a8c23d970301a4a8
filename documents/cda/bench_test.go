package cda_test

import (
	"testing"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/documents/cda"
	"github.com/helsinki-student-welfare/kanta-gateway/fixtures/pki"
	"github.com/helsinki-student-welfare/kanta-gateway/signing"
)

// BenchmarkBuildSignSocial measures a school welfare officer's entry (4 KB
// narrative) from Build to signed bytes: what the gateway does per social
// document before framing.
func BenchmarkBuildSignSocial(b *testing.B) {
	at := time.Date(2026, 9, 3, 12, 0, 0, 0, time.UTC)
	paths, err := pki.Generate(b.TempDir(), []pki.Organiser{{OID: org.OID, Name: org.Name}}, "test-password", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		b.Fatal(err)
	}
	id, err := signing.LoadPEM(paths.Signing[org.OID].Cert, paths.Signing[org.OID].Key)
	if err != nil {
		b.Fatal(err)
	}
	signer, err := signing.NewSigner(id, org.OID, signing.TypeSystem, at)
	if err != nil {
		b.Fatal(err)
	}
	e := socialEntry()
	e.Text.Narrative = narrative4K()
	d := decide(b, e, nil)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		doc, err := cda.Build(e, d, org, cda.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if err := signer.Sign(doc.Tree, doc.BodyID, at); err != nil {
			b.Fatal(err)
		}
		if _, err := doc.Bytes(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
}

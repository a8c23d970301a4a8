package cda_test

import (
	"testing"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/documents/cda"
	"github.com/helsinki-student-welfare/kanta-gateway/signing"
)

// BenchmarkBuildSignSocial measures a school welfare officer's entry (4 KB
// narrative) from Build to signed bytes: what the gateway does per social
// document before framing.
func BenchmarkBuildSignSocial(b *testing.B) {
	at := time.Date(2026, 9, 3, 12, 0, 0, 0, time.UTC)
	id, _ := systemIdentity(b)
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

package signing

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
)

// benchDocument is the health care test document with a ~4 KB narrative.
func benchDocument(b *testing.B) *etree.Document {
	doc := readDoc(b, "health-document.xml")
	text := doc.FindElement("//section/text")
	for _, c := range text.Child {
		text.RemoveChild(c)
	}
	var sb strings.Builder
	for i := 0; sb.Len() < 4096; i++ {
		p := text.CreateElement("paragraph")
		line := fmt.Sprintf("Kappale %d: oppilas kertoi koulupäivästä, tavoitteet & seuranta sovittiin <ei merkintöjä>. ", i)
		p.SetText(line + line)
		sb.WriteString(line + line)
	}
	return doc
}

// BenchmarkSign compares our two-reference Kanta signature with goxmldsig's
// plain one-reference enveloped signature of the same document. Both copy
// the parsed document per iteration (signing mutates or canonicalizes it).
func BenchmarkSign(b *testing.B) {
	now := time.Now()
	p := newTestPKI(b, now)
	id := p.identity(b, organiserOID, now.Add(-time.Hour), now.AddDate(2, 0, 0))
	doc := benchDocument(b)

	b.Run("kanta", func(b *testing.B) {
		s, err := NewSigner(id, organiserOID, TypeSystem, now)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if err := s.Sign(doc.Copy(), healthBodyID, now); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
	})
	b.Run("goxmldsig-enveloped", func(b *testing.B) {
		ctx, err := dsig.NewSigningContext(id.Key, [][]byte{id.Cert.Raw})
		if err != nil {
			b.Fatal(err)
		}
		ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if _, err := ctx.SignEnveloped(doc.Copy().Root()); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
	})
}

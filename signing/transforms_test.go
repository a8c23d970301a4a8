package signing

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"testing"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
)

const (
	algExcC14N    = "http://www.w3.org/2001/10/xml-exc-c14n#"
	algEnveloped  = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
	algInclC14N   = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
	algXPath      = "http://www.w3.org/TR/1999/REC-xpath-19991116"
	algExcC14NCom = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments"
)

// transformAlgorithms lists each reference's Transform algorithms in order.
func transformAlgorithms(t *testing.T, doc *etree.Document) [][]string {
	t.Helper()
	var out [][]string
	for _, ref := range doc.FindElements("//ds:SignedInfo/ds:Reference") {
		var algs []string
		for _, tr := range ref.FindElements("ds:Transforms/ds:Transform") {
			algs = append(algs, tr.SelectAttrValue("Algorithm", ""))
		}
		out = append(out, algs)
	}
	return out
}

// The real Apotti client-relationship document of Vantaa-Kerava
// (Warc0ck/SH-Kanta-validator, Testiasiakirjat/Asiakkuusasiakirja_S.xml)
// signs two references, the signatureTimestamp first and the nonXMLBody
// second, each with the transforms enveloped-signature
// (http://www.w3.org/2000/09/xmldsig#enveloped-signature) then exclusive
// c14n (http://www.w3.org/2001/10/xml-exc-c14n#), SHA-256 digests and
// rsa-sha256 over exc-c14n SignedInfo. A document of that shape signed by
// the test PKI verifies here and in xmlsec1.
func TestEnvelopedSignatureTransformPairVerifies(t *testing.T) {
	p := newTestPKI(t, testNow)
	for _, c := range []struct{ file, bodyID, bodyTag string }{
		{"social-document.xml", socialBodyID, "nonXMLBody"},
		{"health-document.xml", healthBodyID, "structuredBody"},
	} {
		t.Run(c.bodyTag, func(t *testing.T) {
			s := mustSigner(t, p.identity(t, organiserOID, testNow.Add(-time.Hour), testNow.AddDate(2, 0, 0)), TypeSystem)
			s.EnvelopedTransform = true
			doc := readDoc(t, c.file)
			if err := s.Sign(doc, c.bodyID, testNow); err != nil {
				t.Fatal(err)
			}
			got := transformAlgorithms(t, doc)
			if len(got) != 2 {
				t.Fatalf("%d references, want 2", len(got))
			}
			for i, algs := range got {
				if len(algs) != 2 || algs[0] != algEnveloped || algs[1] != algExcC14N {
					t.Fatalf("reference %d transforms %v, want the real document's [enveloped-signature exc-c14n]", i, algs)
				}
			}
			refs := doc.FindElements("//ds:SignedInfo/ds:Reference")
			if refs[0].SelectAttrValue("URI", "") != "#TS3_"+c.bodyID || refs[1].SelectAttrValue("URI", "") != "#"+c.bodyID {
				t.Fatal("references are not timestamp first, body second as in the real document")
			}
			signed := docBytes(t, doc)
			infos, err := Verify(signed, VerifyOptions{Roots: p.roots, ExpectedBodyID: c.bodyID})
			if err != nil {
				t.Fatalf("Verify refuses the enveloped-signature + exc-c14n pair: %v", err)
			}
			if len(infos) != 1 || infos[0].SignerSerialNumber != organiserOID {
				t.Fatalf("signature info %+v", infos)
			}
			if err := xmlsec1Verify(t, signed, p.rootPEM, c.bodyTag, "signatureTimestamp"); err != nil {
				t.Fatalf("xmlsec1 rejects the pair: %v", err)
			}
			// The digests equal those of exc-c14n alone: the transform
			// removes nothing from these targets.
			plain := mustSigner(t, s.Identity, TypeSystem)
			pdoc := readDoc(t, c.file)
			if err := plain.Sign(pdoc, c.bodyID, testNow); err != nil {
				t.Fatal(err)
			}
			a, b := doc.FindElements("//ds:DigestValue"), pdoc.FindElements("//ds:DigestValue")
			for i := range a {
				if a[i].Text() != b[i].Text() {
					t.Errorf("digest %d differs between the two transform lists", i)
				}
			}
		})
	}
}

// resignWithTransforms replaces every reference's transforms by algs (an
// algorithm with a "+param" suffix gets an InclusiveNamespaces child) and
// signs SignedInfo again with the signer's key, so the signature value is
// valid and only the transform list can make a verifier refuse.
func resignWithTransforms(t *testing.T, doc *etree.Document, key *rsa.PrivateKey, algs []string) {
	t.Helper()
	for _, ref := range doc.FindElements("//ds:SignedInfo/ds:Reference") {
		trs := ref.FindElement("ds:Transforms")
		for _, c := range trs.ChildElements() {
			trs.RemoveChild(c)
		}
		for _, a := range algs {
			param := false
			if n := len(a); n > 6 && a[n-6:] == "+param" {
				a, param = a[:n-6], true
			}
			tr := trs.CreateElement("ds:Transform")
			tr.CreateAttr("Algorithm", a)
			if param {
				in := tr.CreateElement("ec:InclusiveNamespaces")
				in.CreateAttr("xmlns:ec", algExcC14N)
				in.CreateAttr("PrefixList", "hl7fi")
			}
		}
	}
	si := doc.FindElement("//ds:SignedInfo")
	c14n, err := canonicalize(si)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(c14n)
	v, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, h[:])
	if err != nil {
		t.Fatal(err)
	}
	doc.FindElement("//ds:SignatureValue").SetText(base64.StdEncoding.EncodeToString(v))
}

func TestTransformListsOtherThanTheRealOnesAreRefused(t *testing.T) {
	p := newTestPKI(t, testNow)
	id := p.identity(t, organiserOID, testNow.Add(-time.Hour), testNow.AddDate(2, 0, 0))
	cases := []struct {
		name   string
		algs   []string
		accept bool
	}{
		{"exc-c14n alone (ours, the 2017 health sample)", []string{algExcC14N}, true},
		{"enveloped-signature then exc-c14n (Apotti 2026)", []string{algEnveloped, algExcC14N}, true},
		{"no transform", nil, false},
		{"enveloped-signature alone", []string{algEnveloped}, false},
		{"exc-c14n then enveloped-signature", []string{algExcC14N, algEnveloped}, false},
		{"inclusive c14n", []string{algInclC14N}, false},
		{"enveloped-signature then inclusive c14n", []string{algEnveloped, algInclC14N}, false},
		{"exc-c14n with comments", []string{algEnveloped, algExcC14NCom}, false},
		{"enveloped-signature twice", []string{algEnveloped, algEnveloped, algExcC14N}, false},
		{"XPath then exc-c14n", []string{algXPath, algExcC14N}, false},
		{"exc-c14n twice", []string{algExcC14N, algExcC14N}, false},
		{"pair with InclusiveNamespaces", []string{algEnveloped, algExcC14N + "+param"}, false},
		{"enveloped-signature with a parameter", []string{algEnveloped + "+param", algExcC14N}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := mustSigner(t, id, TypeSystem)
			doc := readDoc(t, "social-document.xml")
			if err := s.Sign(doc, socialBodyID, testNow); err != nil {
				t.Fatal(err)
			}
			resignWithTransforms(t, doc, id.Key, c.algs)
			_, err := Verify(docBytes(t, doc), VerifyOptions{Roots: p.roots})
			if c.accept {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			wantErr(t, err, "transform")
			wantErr(t, err, "reference #")
		})
	}
}

// Two references of one signature may not differ either: each is checked.
func TestEachReferenceIsCheckedForItsTransforms(t *testing.T) {
	p := newTestPKI(t, testNow)
	id := p.identity(t, organiserOID, testNow.Add(-time.Hour), testNow.AddDate(2, 0, 0))
	s := mustSigner(t, id, TypeSystem)
	s.EnvelopedTransform = true
	doc := readDoc(t, "social-document.xml")
	if err := s.Sign(doc, socialBodyID, testNow); err != nil {
		t.Fatal(err)
	}
	// Make the body's reference use inclusive c14n after enveloped-signature.
	body := doc.FindElements("//ds:SignedInfo/ds:Reference")[1]
	body.FindElements("ds:Transforms/ds:Transform")[1].SelectAttr("Algorithm").Value = algInclC14N
	si := doc.FindElement("//ds:SignedInfo")
	c14n, err := canonicalize(si)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(c14n)
	v, _ := rsa.SignPKCS1v15(nil, id.Key, crypto.SHA256, h[:])
	doc.FindElement("//" + "ds:" + dsig.SignatureValueTag).SetText(base64.StdEncoding.EncodeToString(v))
	_, err = Verify(docBytes(t, doc), VerifyOptions{Roots: p.roots})
	wantErr(t, err, "reference #"+socialBodyID+" transforms must be exclusive c14n")
}

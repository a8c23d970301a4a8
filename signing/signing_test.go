package signing

import (
	"bytes"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
)

const (
	healthBodyID = "OID1.2.246.10.2012566.10.1.42.0"
	socialBodyID = "OID1.2.246.10.2012566.11.1.77"
	organiserOID = "1.2.246.10.2012566.10.0"
)

// testNow is the wall clock because xmlsec1 checks certificates against it.
var testNow = time.Now().UTC().Truncate(time.Second)

func mustSigner(t *testing.T, id *Identity, sigType string) *Signer {
	t.Helper()
	s, err := NewSigner(id, organiserOID, sigType, testNow)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func signedHealth(t *testing.T, p *testPKI) []byte {
	t.Helper()
	s := mustSigner(t, p.identity(t, organiserOID, testNow.Add(-time.Hour), testNow.AddDate(2, 0, 0)), TypeSystem)
	doc := readDoc(t, "health-document.xml")
	if err := s.Sign(doc, healthBodyID, testNow); err != nil {
		t.Fatal(err)
	}
	return docBytes(t, doc)
}

func TestSignHealthDocumentVerifies(t *testing.T) {
	p := newTestPKI(t, testNow)
	signed := signedHealth(t, p)

	infos, err := Verify(signed, VerifyOptions{Roots: p.roots, ExpectedBodyID: healthBodyID})
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if len(infos) != 1 {
		t.Fatalf("got %d signatures, want 1", len(infos))
	}
	got := infos[0]
	if got.BodyID != healthBodyID || got.SignatureType != TypeSystem || got.SignerSerialNumber != organiserOID ||
		!got.Timestamp.Equal(testNow) || got.TimestampID != "TS3_"+healthBodyID || got.SignatureID != "S3_"+healthBodyID {
		t.Errorf("unexpected signature info %+v", got)
	}
	// The signature lands in the existing collection, in hl7fi's prefix.
	if !bytes.Contains(signed, []byte(`<hl7fi:signatureCollection><hl7fi:signature ID="S3_`+healthBodyID+`">`)) {
		t.Errorf("signature not placed in the existing hl7fi:signatureCollection:\n%s", signed)
	}
	if err := xmlsec1Verify(t, signed, p.rootPEM, "structuredBody", "signatureTimestamp"); err != nil {
		t.Fatalf("xmlsec1 rejects our signature: %v", err)
	}
}

func TestSignSocialWelfareDocumentVerifies(t *testing.T) {
	p := newTestPKI(t, testNow)
	s := mustSigner(t, p.identity(t, organiserOID, testNow.Add(-time.Hour), testNow.AddDate(2, 0, 0)), "")
	doc := readDoc(t, "social-document.xml")
	if err := s.Sign(doc, socialBodyID, testNow); err != nil {
		t.Fatal(err)
	}
	header := doc.FindElement("//hl7fi:localSocialHeader")
	children := header.ChildElements()
	if last := children[len(children)-1]; last.Tag != "signatureCollection" || last.Space != "hl7fi" {
		t.Fatalf("signatureCollection not created at the end of the local header, last child is %s", last.FullTag())
	}
	signed := docBytes(t, doc)
	infos, err := Verify(signed, VerifyOptions{Roots: p.roots})
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if infos[0].BodyID != socialBodyID {
		t.Errorf("body ID %q, want %q", infos[0].BodyID, socialBodyID)
	}
	if !bytes.Contains(signed, []byte(`URI="#`+socialBodyID+`"`)) {
		t.Error("no reference to the nonXMLBody")
	}
	if err := xmlsec1Verify(t, signed, p.rootPEM, "nonXMLBody", "signatureTimestamp"); err != nil {
		t.Fatalf("xmlsec1 rejects our signature: %v", err)
	}
}

// A document's signature must not depend on where namespaces are declared
// in the part that is not signed: here the default namespace is declared only
// on the root and the hl7fi prefix only on the local header.
func TestSignWithNamespacesDeclaredOnAncestorsOnly(t *testing.T) {
	p := newTestPKI(t, testNow)
	src := `<?xml version="1.0"?><ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:unused="urn:x"><id root="1.2.3"/>` +
		`<fi:localHeader xmlns:fi="urn:hl7finland"><fi:recordStatus code="3"/></fi:localHeader>` +
		`<component><nonXMLBody ID="OID1.2.3"><text>x</text></nonXMLBody></component></ClinicalDocument>`
	doc := etree.NewDocument()
	if err := doc.ReadFromString(src); err != nil {
		t.Fatal(err)
	}
	s := mustSigner(t, p.identity(t, organiserOID, testNow.Add(-time.Hour), testNow.AddDate(2, 0, 0)), TypeSystem)
	if err := s.Sign(doc, "OID1.2.3", testNow); err != nil {
		t.Fatal(err)
	}
	signed := docBytes(t, doc)
	if _, err := Verify(signed, VerifyOptions{Roots: p.roots}); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if err := xmlsec1Verify(t, signed, p.rootPEM, "nonXMLBody", "signatureTimestamp"); err != nil {
		t.Fatalf("xmlsec1: %v", err)
	}
}

func TestSignIsDeterministic(t *testing.T) {
	p := newTestPKI(t, testNow)
	s := mustSigner(t, p.identity(t, organiserOID, testNow.Add(-time.Hour), testNow.AddDate(2, 0, 0)), TypeSystem)
	var out [2][]byte
	for i := range out {
		doc := readDoc(t, "health-document.xml")
		if err := s.Sign(doc, healthBodyID, testNow); err != nil {
			t.Fatal(err)
		}
		out[i] = docBytes(t, doc)
	}
	if !bytes.Equal(out[0], out[1]) {
		t.Error("signing the same document at the same instant gave different bytes")
	}
	doc := readDoc(t, "health-document.xml")
	if err := s.Sign(doc, healthBodyID, testNow); err != nil {
		t.Fatal(err)
	}
	if err := s.Sign(doc, healthBodyID, testNow); err == nil || !strings.Contains(err.Error(), "already has an element with ID") {
		t.Errorf("second system signature on one document: got %v", err)
	}
}

func TestSystemAndProfessionalSignaturesTogether(t *testing.T) {
	p := newTestPKI(t, testNow)
	sys := mustSigner(t, p.identity(t, organiserOID, testNow.Add(-time.Hour), testNow.AddDate(2, 0, 0)), TypeSystem)
	prof := mustSigner(t, p.identity(t, "TESTREG0001", testNow.Add(-time.Hour), testNow.AddDate(2, 0, 0)), TypeProfessional)
	doc := readDoc(t, "health-document.xml")
	if err := prof.Sign(doc, healthBodyID, testNow); err != nil {
		t.Fatal(err)
	}
	if err := sys.Sign(doc, healthBodyID, testNow.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	signed := docBytes(t, doc)
	infos, err := Verify(signed, VerifyOptions{Roots: p.roots})
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if len(infos) != 2 || infos[0].SignatureType != TypeProfessional || infos[1].SignatureType != TypeSystem {
		t.Fatalf("unexpected signatures %+v", infos)
	}
	if err := xmlsec1Verify(t, signed, p.rootPEM, "structuredBody", "signatureTimestamp"); err != nil {
		// xmlsec1 checks the first signature it finds.
		t.Fatalf("xmlsec1: %v", err)
	}

	// A professional signature whose certificate is not the author's.
	other := mustSigner(t, p.identity(t, "TESTREG9999", testNow.Add(-time.Hour), testNow.AddDate(2, 0, 0)), TypeProfessional)
	doc = readDoc(t, "health-document.xml")
	if err := other.Sign(doc, healthBodyID, testNow); err != nil {
		t.Fatal(err)
	}
	_, err = Verify(docBytes(t, doc), VerifyOptions{Roots: p.roots})
	wantErr(t, err, "matches no author/assignedAuthor/id/@extension")
	if strings.Contains(err.Error(), "TESTREG9999") {
		t.Error("error message echoes the professional's registration number")
	}
}

// The real archived document from Kanta's public test material.
func TestRealSampleVerifies(t *testing.T) {
	cda := sampleCDA(t)
	cert := sampleSignerCert(t)
	if cert.Subject.SerialNumber != "1.2.246.537.10.15675350.10.0" {
		t.Fatalf("sample signer serialNumber %q", cert.Subject.SerialNumber)
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	infos, err := Verify(cda, VerifyOptions{Roots: roots, ExpectedBodyID: "OID1.2.246.537.10.15675350.10.1.11220.19098.0"})
	if err != nil {
		t.Fatalf("Verify sample: %v", err)
	}
	got := infos[0]
	if len(infos) != 1 || got.SignatureType != TypeSystem || got.SignerSerialNumber != "1.2.246.537.10.15675350.10.0" ||
		!got.Timestamp.Equal(time.Date(2017, 9, 22, 12, 15, 52, 0, time.UTC)) || !got.Signer.Equal(cert) {
		t.Errorf("unexpected sample signature info %+v", got)
	}
	// The certificate expired in 2021: only checking at the signature
	// timestamp makes this pass, and without trusting it the chain fails.
	if !time.Now().After(cert.NotAfter) {
		t.Fatal("sample certificate unexpectedly still valid; test premise broken")
	}
	_, err = Verify(cda, VerifyOptions{Roots: x509.NewCertPool()})
	wantErr(t, err, "not trusted at signature time")
	if _, err := Verify(cda, VerifyOptions{Insecure: true}); err != nil {
		t.Errorf("Insecure verify of sample: %v", err)
	}
	if err := xmlsec1Verify(t, cda, "", "structuredBody", "signatureTimestamp"); err != nil {
		t.Fatalf("xmlsec1 rejects the sample: %v", err)
	}
}

func wantErr(t *testing.T, err error, fragment string) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted, want error containing %q", fragment)
	}
	if !strings.Contains(err.Error(), fragment) {
		t.Fatalf("error %q, want it to contain %q", err, fragment)
	}
}

func TestTamperingIsDetected(t *testing.T) {
	p := newTestPKI(t, testNow)
	signed := string(signedHealth(t, p))
	tsID := "TS3_" + healthBodyID

	replaceOnce := func(s, old, new string) string {
		t.Helper()
		if strings.Count(s, old) < 1 {
			t.Fatalf("tamper target %q not in document", old)
		}
		return strings.Replace(s, old, new, 1)
	}
	editDoc := func(edit func(doc *etree.Document)) string {
		t.Helper()
		doc := etree.NewDocument()
		if err := doc.ReadFromString(signed); err != nil {
			t.Fatal(err)
		}
		edit(doc)
		return string(docBytes(t, doc))
	}
	digestValue := func(doc *etree.Document, uri string) *etree.Element {
		for _, ref := range doc.FindElements("//ds:Reference") {
			if ref.SelectAttrValue("URI", "") == uri {
				return ref.FindElement("ds:DigestValue")
			}
		}
		t.Fatalf("no reference %s", uri)
		return nil
	}

	cases := []struct {
		name, doc, err string
	}{
		{"body text", replaceOnce(signed, "Käynnin syy", "Käynnin syyt"), "reference #" + healthBodyID + " digest mismatch"},
		{"body attribute", replaceOnce(signed, `styleCode="Bold"`, `styleCode="Italics"`), "reference #" + healthBodyID + " digest mismatch"},
		{"timestamp value", replaceOnce(signed, testNow.Format(time.RFC3339), testNow.Add(time.Second).Format(time.RFC3339)), "reference #" + tsID + " digest mismatch"},
		{"signature value", editDoc(func(doc *etree.Document) {
			sv := doc.FindElement("//ds:SignatureValue")
			b := []byte(sv.Text())
			if b[10] == 'A' {
				b[10] = 'B'
			} else {
				b[10] = 'A'
			}
			sv.SetText(string(b))
		}), "SignatureValue does not verify"},
		{"digest value", editDoc(func(doc *etree.Document) {
			digestValue(doc, "#"+tsID).SetText("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
		}), "reference #" + tsID + " digest mismatch"},
		{"second structuredBody with the same ID", editDoc(func(doc *etree.Document) {
			comp := doc.FindElement("/ClinicalDocument/component")
			evil := comp.SelectElement("structuredBody").Copy()
			comp.InsertChildAt(0, evil)
		}), "ClinicalDocument/component has 2 bodies"},
		{"original body hidden elsewhere with its ID", editDoc(func(doc *etree.Document) {
			body := doc.FindElement("/ClinicalDocument/component/structuredBody")
			doc.FindElement("//hl7fi:recordStatus").AddChild(body.Copy())
			body.FindElement(".//title").SetText("forged")
		}), `duplicate ID "` + healthBodyID + `"`},
		{"ID moved off the body", editDoc(func(doc *etree.Document) {
			body := doc.FindElement("/ClinicalDocument/component/structuredBody")
			doc.FindElement("//hl7fi:recordStatus").AddChild(body.Copy())
			body.RemoveAttr("ID")
			body.CreateAttr("ID", "OIDforged")
			body.FindElement(".//title").SetText("forged")
		}), "reference #" + healthBodyID + " is neither this signature's timestamp"},
		{"body without ID", editDoc(func(doc *etree.Document) {
			doc.FindElement("/ClinicalDocument/component/structuredBody").RemoveAttr("ID")
		}), "structuredBody has no ID attribute"},
		{"unsigned signatureCollection", editDoc(func(doc *etree.Document) {
			c := doc.FindElement("//hl7fi:signatureCollection")
			c.RemoveChildAt(0)
		}), "signatureCollection holds no signature"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Verify([]byte(c.doc), VerifyOptions{Roots: p.roots})
			wantErr(t, err, c.err)
			// Plain content tampering must be caught by xmlsec1 as well,
			// which proves the case really breaks the signature.
			if i < 5 {
				if err := xmlsec1Verify(t, []byte(c.doc), p.rootPEM, "structuredBody", "signatureTimestamp"); err == nil {
					t.Error("xmlsec1 accepts the tampered document; the case does not tamper")
				}
			}
		})
	}
}

// A correctly signed reference to an element other than the body (valid
// digest, valid signature, trusted key) is still refused.
func TestReferenceToOtherElementIsRefused(t *testing.T) {
	p := newTestPKI(t, testNow)
	s := mustSigner(t, p.identity(t, organiserOID, testNow.Add(-time.Hour), testNow.AddDate(2, 0, 0)), TypeSystem)
	doc := readDoc(t, "health-document.xml")
	section := doc.FindElement("//section")
	section.CreateAttr("ID", "harmless")
	// Sign normally, then replace the ds:Signature by one whose second
	// reference names the section instead of the body.
	if err := s.Sign(doc, healthBodyID, testNow); err != nil {
		t.Fatal(err)
	}
	sigEl := doc.FindElement("//hl7fi:signature")
	sigEl.RemoveChild(sigEl.SelectElement("Signature"))
	ts := sigEl.SelectElement("signatureTimestamp")
	if err := s.signElements(sigEl, "DSx", []*etree.Element{ts, section}, []string{ts.SelectAttrValue("ID", ""), "harmless"}); err != nil {
		t.Fatal(err)
	}
	_, err := Verify(docBytes(t, doc), VerifyOptions{Roots: p.roots})
	wantErr(t, err, "reference #harmless is neither this signature's timestamp")

	// Referencing another signature's timestamp is refused the same way.
	doc = readDoc(t, "health-document.xml")
	prof := mustSigner(t, p.identity(t, "TESTREG0001", testNow.Add(-time.Hour), testNow.AddDate(2, 0, 0)), TypeProfessional)
	if err := prof.Sign(doc, healthBodyID, testNow); err != nil {
		t.Fatal(err)
	}
	if err := s.Sign(doc, healthBodyID, testNow); err != nil {
		t.Fatal(err)
	}
	sigs := doc.FindElements("//hl7fi:signature")
	second := sigs[1]
	second.RemoveChild(second.SelectElement("Signature"))
	firstTS := sigs[0].SelectElement("signatureTimestamp")
	body := doc.FindElement("//structuredBody")
	if err := s.signElements(second, "DSy", []*etree.Element{firstTS, body}, []string{firstTS.SelectAttrValue("ID", ""), healthBodyID}); err != nil {
		t.Fatal(err)
	}
	_, err = Verify(docBytes(t, doc), VerifyOptions{Roots: p.roots})
	wantErr(t, err, "reference #TS1_"+healthBodyID+" is neither this signature's timestamp")
}

func TestCertificateChecks(t *testing.T) {
	p := newTestPKI(t, testNow)
	doc := func() *etree.Document { return readDoc(t, "health-document.xml") }

	t.Run("expired at signature time", func(t *testing.T) {
		id := p.identity(t, organiserOID, testNow.AddDate(-3, 0, 0), testNow.AddDate(-1, 0, 0))
		if _, err := NewSigner(id, organiserOID, TypeSystem, testNow); err == nil || !strings.Contains(err.Error(), "certificate expired") {
			t.Fatalf("NewSigner accepted an expired certificate: %v", err)
		}
		s := &Signer{Identity: id, CustodianOID: organiserOID, SignatureType: TypeSystem}
		d := doc()
		wantErr(t, s.Sign(d, healthBodyID, testNow), "certificate not valid at")
		// Forge one past the guard to prove Verify checks it too.
		if err := s.sign(d, healthBodyID, testNow); err != nil {
			t.Fatal(err)
		}
		_, err := Verify(docBytes(t, d), VerifyOptions{Roots: p.roots})
		wantErr(t, err, "signer certificate not valid at signature time "+testNow.Format(time.RFC3339))
		_, err = Verify(docBytes(t, d), VerifyOptions{Insecure: true})
		wantErr(t, err, "signer certificate not valid at signature time")
	})
	t.Run("not yet valid", func(t *testing.T) {
		id := p.identity(t, organiserOID, testNow.Add(time.Hour), testNow.AddDate(1, 0, 0))
		_, err := NewSigner(id, organiserOID, TypeSystem, testNow)
		wantErr(t, err, "certificate not valid before")
	})
	t.Run("untrusted root", func(t *testing.T) {
		s := mustSigner(t, p.untrustedIdentity(t, organiserOID, testNow), TypeSystem)
		d := doc()
		if err := s.Sign(d, healthBodyID, testNow); err != nil {
			t.Fatal(err)
		}
		signed := docBytes(t, d)
		_, err := Verify(signed, VerifyOptions{Roots: p.roots})
		wantErr(t, err, "signer certificate not trusted at signature time")
		if _, err := Verify(signed, VerifyOptions{Insecure: true}); err != nil {
			t.Errorf("Insecure must still accept the signature math: %v", err)
		}
		if err := xmlsec1Verify(t, signed, p.rootPEM, "structuredBody", "signatureTimestamp"); err == nil {
			t.Error("xmlsec1 accepts a signature from an untrusted root")
		}
		_, err = Verify(signed, VerifyOptions{})
		wantErr(t, err, "no trusted roots given")
	})
	t.Run("system signature serialNumber", func(t *testing.T) {
		id := p.identity(t, "1.2.246.10.9999999.10.0", testNow.Add(-time.Hour), testNow.AddDate(2, 0, 0))
		_, err := NewSigner(id, organiserOID, TypeSystem, testNow)
		wantErr(t, err, "is not the custodian OID")
		// Verify insists the serialNumber of a system certificate is an OID.
		notOID := p.identity(t, "TESTREG0001", testNow.Add(-time.Hour), testNow.AddDate(2, 0, 0))
		s := &Signer{Identity: notOID, CustodianOID: organiserOID, SignatureType: TypeSystem}
		d := doc()
		if err := s.Sign(d, healthBodyID, testNow); err != nil {
			t.Fatal(err)
		}
		_, err = Verify(docBytes(t, d), VerifyOptions{Roots: p.roots})
		wantErr(t, err, "is not an organisation OID")
	})
	t.Run("wrong body ID", func(t *testing.T) {
		s := mustSigner(t, p.identity(t, organiserOID, testNow.Add(-time.Hour), testNow.AddDate(2, 0, 0)), TypeSystem)
		wantErr(t, s.Sign(doc(), "OID9.9.9.0", testNow), `body ID is "`+healthBodyID+`", want "OID9.9.9.0"`)
		signed := signedHealth(t, p)
		_, err := Verify(signed, VerifyOptions{Roots: p.roots, ExpectedBodyID: "OID9.9.9.0"})
		wantErr(t, err, "expected \"OID9.9.9.0\"")
	})
}

// Text built in memory with CR LF line ends and an attribute value with a
// newline must survive serialisation: a parser would normalise both.
func TestSignedInMemoryContentSurvivesSerialisation(t *testing.T) {
	p := newTestPKI(t, testNow)
	s := mustSigner(t, p.identity(t, organiserOID, testNow.Add(-time.Hour), testNow.AddDate(2, 0, 0)), TypeSystem)
	doc := readDoc(t, "health-document.xml")
	section := doc.FindElement("//section")
	section.FindElement("title").SetText("rivi 1\r\nrivi 2\ttab")
	section.CreateAttr("styleCode", "a\nb\tc")
	if err := s.Sign(doc, healthBodyID, testNow); err != nil {
		t.Fatal(err)
	}
	signed := docBytes(t, doc)
	if _, err := Verify(signed, VerifyOptions{Roots: p.roots}); err != nil {
		t.Fatalf("Verify after serialisation: %v", err)
	}
	if err := xmlsec1Verify(t, signed, p.rootPEM, "structuredBody", "signatureTimestamp"); err != nil {
		t.Fatalf("xmlsec1 after serialisation: %v", err)
	}
}

// Adding our signature to the real document, whose local header uses the
// default namespace, keeps both signatures valid.
func TestCountersignRealSample(t *testing.T) {
	p := newTestPKI(t, testNow)
	const sampleBody = "OID1.2.246.537.10.15675350.10.1.11220.19098.0"
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(sampleCDA(t)); err != nil {
		t.Fatal(err)
	}
	s := mustSigner(t, p.identity(t, organiserOID, testNow.Add(-time.Hour), testNow.AddDate(2, 0, 0)), TypeSystem)
	if err := s.Sign(doc, sampleBody, testNow); err != nil {
		t.Fatal(err)
	}
	signed := docBytes(t, doc)
	if !bytes.Contains(signed, []byte(`<signature ID="S3_`+sampleBody+`"><signatureDescription code="3"`)) {
		t.Error("new signature not written in the header's default namespace")
	}
	roots := p.roots.Clone()
	roots.AddCert(sampleSignerCert(t))
	infos, err := Verify(signed, VerifyOptions{Roots: roots})
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if len(infos) != 2 || infos[1].SignerSerialNumber != organiserOID || infos[0].Timestamp.Year() != 2017 {
		t.Fatalf("unexpected signatures %+v", infos)
	}
}

// A chain cache answers for the period in which every certificate of the
// chain is valid, and never remembers a chain that did not verify.
func TestChainCache(t *testing.T) {
	p := newTestPKI(t, testNow)
	// The signer outlives its CAs (valid 5 years from testNow-24h).
	id := p.identity(t, organiserOID, testNow.Add(-time.Hour), testNow.AddDate(10, 0, 0))
	s := mustSigner(t, id, TypeSystem)
	d := readDoc(t, "health-document.xml")
	if err := s.Sign(d, healthBodyID, testNow); err != nil {
		t.Fatal(err)
	}
	cache := NewChainCache()
	for i := 0; i < 2; i++ {
		if _, err := Verify(docBytes(t, d), VerifyOptions{Roots: p.roots, Chains: cache}); err != nil {
			t.Fatalf("verify %d: %v", i, err)
		}
	}
	key := chainKey(append([]*x509.Certificate{id.Cert}, id.Chain...))
	if len(cache.chains) != 1 || len(cache.chains[key]) != 1 {
		t.Fatalf("cache holds %v, want one chain for the signer", cache.chains)
	}
	if len(cache.certs) != 2 {
		t.Errorf("%d parsed certificates cached, want the signer's and its CA's", len(cache.certs))
	}
	got := cache.chains[key][0]
	if !got.from.Equal(id.Cert.NotBefore) || !got.until.Equal(p.inter.NotAfter) {
		t.Errorf("cached period %v–%v, want signer's start %v to the CA's end %v", got.from, got.until, id.Cert.NotBefore, p.inter.NotAfter)
	}
	if !cache.trusted(key, testNow) || cache.trusted(key, p.inter.NotAfter.Add(time.Hour)) || cache.trusted(key, id.Cert.NotBefore.Add(-time.Second)) {
		t.Error("cache answers outside the chain's period")
	}

	untrusted := mustSigner(t, p.untrustedIdentity(t, organiserOID, testNow), TypeSystem)
	u := readDoc(t, "health-document.xml")
	if err := untrusted.Sign(u, healthBodyID, testNow); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		_, err := Verify(docBytes(t, u), VerifyOptions{Roots: p.roots, Chains: cache})
		wantErr(t, err, "signer certificate not trusted at signature time")
	}
	if len(cache.chains) != 1 {
		t.Errorf("cache remembered a chain that failed: %d entries", len(cache.chains))
	}
}

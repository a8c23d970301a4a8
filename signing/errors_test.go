package signing

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
)

// Every verification failure carries exactly one kind, and the kind is the
// one its cause calls for; the message stays what it was.
func TestVerifyErrorsCarryOneKind(t *testing.T) {
	p := newTestPKI(t, testNow)
	valid := p.identity(t, organiserOID, testNow.Add(-time.Hour), testNow.AddDate(2, 0, 0))
	sign := func(id *Identity, sigType string, at time.Time) *etree.Document {
		t.Helper()
		s := &Signer{Identity: id, CustodianOID: organiserOID, SignatureType: sigType}
		d := readDoc(t, "health-document.xml")
		if err := s.sign(d, healthBodyID, at); err != nil {
			t.Fatal(err)
		}
		return d
	}
	edited := func(edit func(*etree.Document)) []byte {
		t.Helper()
		d := sign(valid, TypeSystem, testNow)
		edit(d)
		return docBytes(t, d)
	}
	trusted := VerifyOptions{Roots: p.roots}
	atReceipt := VerifyOptions{Roots: p.roots, ReceivedAt: testNow, MaxFutureSkew: time.Minute}

	cases := []struct {
		name string
		doc  []byte
		opts VerifyOptions
		kind error
		text string // a fragment of the message, unchanged by the kind
	}{
		{"not XML", []byte("<ClinicalDocument"), trusted, ErrSignatureInvalid, "parse document"},
		{"body tampered", edited(func(d *etree.Document) {
			d.FindElement("//structuredBody//title").SetText("forged")
		}), trusted, ErrSignatureInvalid, "digest mismatch"},
		{"signature value tampered", edited(func(d *etree.Document) {
			d.FindElement("//ds:SignatureValue").SetText("AAAA")
		}), trusted, ErrSignatureInvalid, "SignatureValue does not verify"},
		{"no signature in the collection", edited(func(d *etree.Document) {
			c := d.FindElement("//hl7fi:signatureCollection")
			c.RemoveChildAt(0)
		}), trusted, ErrSignatureMissing, "holds no signature"},
		{"no signatureCollection", edited(func(d *etree.Document) {
			c := d.FindElement("//hl7fi:signatureCollection")
			c.Parent().RemoveChild(c)
		}), trusted, ErrSignatureMissing, "has no signatureCollection"},
		{"untrusted root", docBytes(t, sign(p.untrustedIdentity(t, organiserOID, testNow), TypeSystem, testNow)),
			trusted, ErrSignerNotTrusted, "not trusted at signature time"},
		{"expired at signature time", docBytes(t, sign(p.identity(t, organiserOID, testNow.AddDate(-3, 0, 0), testNow.AddDate(-1, 0, 0)), TypeSystem, testNow)),
			trusted, ErrSignerNotTrusted, "not valid at signature time"},
		{"system certificate without an OID", docBytes(t, sign(p.identity(t, "TESTREG0001", testNow.Add(-time.Hour), testNow.AddDate(2, 0, 0)), TypeSystem, testNow)),
			trusted, ErrSignerMismatch, "is not an organisation OID"},
		{"professional certificate of no author", docBytes(t, sign(p.identity(t, "TESTREG9999", testNow.Add(-time.Hour), testNow.AddDate(2, 0, 0)), TypeProfessional, testNow)),
			trusted, ErrSignerMismatch, "matches no author"},
		{"signed in the future", docBytes(t, sign(valid, TypeSystem, testNow.Add(time.Hour))),
			atReceipt, ErrSignedInFuture, "lies in the future"},
		{"expired at receipt", docBytes(t, sign(p.identity(t, organiserOID, testNow.Add(-20*time.Hour), testNow.Add(-6*time.Hour)), TypeSystem, testNow.Add(-12*time.Hour))),
			atReceipt, ErrSignerExpiredAtReceipt, "not valid at receipt time"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Verify(c.doc, c.opts)
			wantErr(t, err, c.text)
			if got := KindOf(err); got != c.kind {
				t.Errorf("kind %v, want %v (error %q)", got, c.kind, err)
			}
			var kinds []string
			for _, k := range verifyKinds {
				if errors.Is(err, k) {
					kinds = append(kinds, k.Error())
				}
			}
			if len(kinds) != 1 {
				t.Errorf("error %q carries kinds [%s], want exactly one", err, strings.Join(kinds, "; "))
			}
		})
	}
}

func TestCheckSystemSignerMismatchKind(t *testing.T) {
	p := newTestPKI(t, testNow)
	d := readDoc(t, "health-document.xml")
	other := "1.2.246.10.9999999.10.0"
	s := &Signer{Identity: p.identity(t, other, testNow.Add(-time.Hour), testNow.AddDate(2, 0, 0)), CustodianOID: other, SignatureType: TypeSystem}
	if err := s.sign(d, healthBodyID, testNow); err != nil {
		t.Fatal(err)
	}
	sigs, err := VerifyTree(d, VerifyOptions{Roots: p.roots})
	if err != nil {
		t.Fatal(err)
	}
	err = CheckSystemSigner(d, sigs[0])
	wantErr(t, err, "neither the document's custodian")
	if !errors.Is(err, ErrSignerMismatch) {
		t.Errorf("CheckSystemSigner: %v, want ErrSignerMismatch", err)
	}
}

func TestKindOfAnUnrelatedError(t *testing.T) {
	if k := KindOf(errors.New("signer not trusted")); k != nil {
		t.Errorf("an error that only reads like a kind has kind %v", k)
	}
	if k := KindOf(nil); k != nil {
		t.Errorf("KindOf(nil) = %v", k)
	}
}

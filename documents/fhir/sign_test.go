package fhir

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
)

func signedBundle(t *testing.T) (*Bundle, []byte) {
	t.Helper()
	e := entry(documents.RolePsychologist, "2016-05-05")
	e.MyKanta = documents.MyKanta{Display: documents.DisplayDelayed, ReleaseDate: documents.MustDate("2027-01-15"), ReasonCode: "2"}
	b, _ := build(t, e, decide(t, e, nil))
	sign(t, b)
	raw := mustMarshal(t, b)
	checkBundleJSON(t, raw)
	return b, raw
}

func TestSignVerify(t *testing.T) {
	p := getPKI(t)
	b, raw := signedBundle(t)

	sig := b.Signature
	if val(sig.SigFormat) != "application/jose" || sig.When != "2026-11-21T12:00:05+02:00" {
		t.Errorf("signature = %+v", sig)
	}
	if len(sig.Type) != 1 || val(sig.Type[0].System) != "urn:iso-astm:E1762-95:2013" || val(sig.Type[0].Code) != "1.2.840.10065.1.12.1.5" {
		t.Errorf("signature type = %+v", sig.Type)
	}
	who, ok := resolve(t, b, &sig.Who).(*Organization)
	if !ok || val(who.Identifier[0].Value) != "urn:oid:"+testOrg.OID {
		t.Errorf("signature who = %+v", sig.Who)
	}
	// Detached JWS: header..signature, header with RS256 and the x5c chain.
	compact, err := base64.StdEncoding.DecodeString(val(sig.Data))
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(string(compact), ".")
	if len(parts) != 3 || parts[1] != "" {
		t.Fatalf("not a detached compact JWS: %d parts", len(parts))
	}
	hdrJSON, _ := base64.RawURLEncoding.DecodeString(parts[0])
	var hdr struct {
		Alg string   `json:"alg"`
		X5c []string `json:"x5c"`
	}
	if err := json.Unmarshal(hdrJSON, &hdr); err != nil || hdr.Alg != "RS256" || len(hdr.X5c) != 2 {
		t.Fatalf("header %s (%v)", hdrJSON, err)
	}

	leaf, err := Verify(b, p.roots)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if !leaf.Equal(p.leaf) {
		t.Error("Verify returned another certificate")
	}
	back, leaf2, err := VerifyJSON(raw, p.roots)
	if err != nil {
		t.Fatalf("VerifyJSON: %v", err)
	}
	if !leaf2.Equal(p.leaf) || mustInspect(t, back).ReleaseDate != documents.MustDate("2027-01-15") || !mustInspect(t, back).Signed {
		t.Error("VerifyJSON returned the wrong bundle or certificate")
	}
	// The canonical form ignores formatting and member order.
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, raw, "", "  "); err != nil {
		t.Fatal(err)
	}
	if _, _, err := VerifyJSON(pretty.Bytes(), p.roots); err != nil {
		t.Errorf("indented JSON does not verify: %v", err)
	}
	// Nil roots: the mathematics only.
	if _, err := Verify(b, nil); err != nil {
		t.Errorf("Verify without roots: %v", err)
	}
}

func TestVerifyDetectsTampering(t *testing.T) {
	p := getPKI(t)
	tamper := map[string]func(b *Bundle){
		"narrative": func(b *Bundle) {
			s := &composition(t, b).Section[0]
			s.Text.Div = strings.Replace(s.Text.Div, "Tapaaminen", "Tapaaminem", 1)
		},
		"patient id": func(b *Bundle) {
			only[*Patient](t, b).Identifier[0].Value = str(testHetu("2016-05-05", 922))
		},
		"release date": func(b *Bundle) {
			extension(only[*Provenance](t, b).Extension, defaultCodes[CodeExtReleaseDate]).ValueDate = str("2026-11-21")
		},
		"bundle identifier": func(b *Bundle) {
			b.Identifier.Value = str(val(b.Identifier.Value) + "0")
		},
		"security label removed": func(b *Bundle) {
			b.Meta.Security = b.Meta.Security[:1]
		},
	}
	for name, mutate := range tamper {
		t.Run(name, func(t *testing.T) {
			b, _ := signedBundle(t)
			mutate(b)
			if _, err := Verify(b, p.roots); err == nil {
				t.Fatal("tampered bundle verifies")
			}
			if _, err := Verify(b, nil); err == nil {
				t.Fatal("tampered bundle verifies without roots")
			}
			if _, _, err := VerifyJSON(mustMarshal(t, b), p.roots); err == nil {
				t.Fatal("tampered JSON verifies")
			}
		})
	}
	t.Run("raw JSON edit", func(t *testing.T) {
		_, raw := signedBundle(t)
		edited := bytes.Replace(raw, []byte(`"valueDate":"2027-01-15"`), []byte(`"valueDate":"2027-01-14"`), 1)
		if bytes.Equal(edited, raw) {
			t.Fatal("test did not edit the JSON")
		}
		if _, _, err := VerifyJSON(edited, p.roots); err == nil {
			t.Fatal("edited JSON verifies")
		}
	})
	t.Run("added member", func(t *testing.T) {
		_, raw := signedBundle(t)
		edited := bytes.Replace(raw, []byte(`{"resourceType":"Bundle",`), []byte(`{"resourceType":"Bundle","language":"sv",`), 1)
		if _, _, err := VerifyJSON(edited, p.roots); err == nil {
			t.Fatal("JSON with an added member verifies")
		}
	})
}

func TestVerifySwappedSignature(t *testing.T) {
	p := getPKI(t)
	a, _ := signedBundle(t)
	e := entry(documents.RolePsychologist, "2016-05-05")
	e.ID = "APT-PSY-000002"
	b, _ := build(t, e, decide(t, e, nil))
	sign(t, b)
	if _, err := Verify(b, p.roots); err != nil {
		t.Fatalf("second bundle: %v", err)
	}
	b.Signature = a.Signature
	if _, err := Verify(b, p.roots); err == nil {
		t.Fatal("a signature taken from another bundle verifies")
	}
}

func TestVerifyUntrustedRoot(t *testing.T) {
	p := getPKI(t)
	b, raw := signedBundle(t)
	if _, err := Verify(b, p.others); err == nil {
		t.Fatal("verifies against an unrelated root")
	}
	if _, _, err := VerifyJSON(raw, x509.NewCertPool()); err == nil {
		t.Fatal("verifies against an empty root pool")
	}
	// A chain whose leaf is signed by another key than the one that signed
	// the bundle: the signature must not verify.
	forged := *b
	sig := *b.Signature
	forged.Signature = &sig
	if err := Sign(&forged, p.leafKey, []*x509.Certificate{p.otherRoot}, signedAt, testOrg.OID); err != nil {
		t.Fatalf("Sign with a self-signed cert of the same key: %v", err)
	}
	if _, err := Verify(&forged, p.roots); err == nil {
		t.Fatal("a self-signed certificate verifies against the trusted CA")
	}
}

func TestSignRefusesMismatchedKey(t *testing.T) {
	p := getPKI(t)
	b, _ := signedBundle(t)
	if err := Sign(b, p.caKey, []*x509.Certificate{p.leaf}, signedAt, testOrg.OID); err == nil {
		t.Fatal("signed with a key that is not the certificate's")
	}
	if err := Sign(b, p.leafKey, nil, signedAt, testOrg.OID); err == nil {
		t.Fatal("signed without a certificate")
	}
}

func TestCanonicalForm(t *testing.T) {
	in := `{ "b": [1, 1.5e-7, 1e21, 100, -0, 0.1], "a": "x<>&\u2028é\u0007\"\\/", "signature": {"data": "x"},
		"\u20ac": true, "\ud83d\ude00": null, "\ufb33": 2, "A": {"z": false, "y": {}} }`
	got, err := canonicalWithoutSignature([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"A":{"y":{},"z":false},"a":"x<>&` + "\u2028é" + `\u0007\"\\/","b":[1,1.5e-7,1e+21,100,0,0.1],"` + `€":true,"` + "\U0001F600" + `":null,"` + "\ufb33" + `":2}`
	if string(got) != want {
		t.Errorf("canonical =\n%s\nwant\n%s", got, want)
	}
	if _, err := canonicalWithoutSignature([]byte(`[1]`)); err == nil {
		t.Error("a non-object was canonicalized")
	}
	if _, err := canonicalWithoutSignature([]byte(`{} {}`)); err == nil {
		t.Error("trailing data accepted")
	}
}

func BenchmarkBuildSign(b *testing.B) {
	p := getPKI(b)
	e := entry(documents.RolePsychologist, "2016-05-05")
	var sb strings.Builder
	for sb.Len() < 4096 {
		sb.WriteString("Oppilas kertoi koulupäivästään & kavereista <tärkeää>. Seuraava tapaaminen sovittiin.\n")
	}
	e.Text.Narrative = sb.String() // just over 4 KiB
	d := decide(b, e, nil)
	chain := []*x509.Certificate{p.leaf, p.ca}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		bundle, err := Build(e, d, testOrg, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if err := Sign(bundle, p.leafKey, chain, signedAt, testOrg.OID); err != nil {
			b.Fatal(err)
		}
		if _, err := Marshal(bundle); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "bundles/s")
}

func TestVerifySigningTime(t *testing.T) {
	p := getPKI(t)
	b, _ := signedBundle(t)
	// Signature.when is outside the payload, but must equal the signed sigT.
	b.Signature.When = "2026-11-22T12:00:05+02:00"
	if _, err := Verify(b, p.roots); err == nil {
		t.Fatal("a changed Signature.when verifies")
	}
	// Signed before the leaf's validity (2026-01-01): the chain check fails
	// as of the signing time; the mathematics alone still holds.
	early := signedAt.AddDate(-1, 0, 0)
	if err := Sign(b, p.leafKey, []*x509.Certificate{p.leaf, p.ca}, early, testOrg.OID); err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(b, p.roots); err == nil {
		t.Fatal("a signature made before the certificate's validity verifies")
	}
	if _, err := Verify(b, nil); err != nil {
		t.Fatalf("math-only verification: %v", err)
	}
}

// The fast path of the canonical string (runs of valid UTF-8) writes what
// the rune-by-rune path writes.
func TestCanonicalStringFastPath(t *testing.T) {
	var all strings.Builder
	for c := 0; c < 0x80; c++ {
		all.WriteByte(byte(c))
	}
	for _, s := range []string{"", "plain", `"`, `\`, "a\"b\\c", all.String(), "é€\U0001F600\u2028<>&", "\x00\x1f\x7f", "x\ny\tz\r\b\f"} {
		var fast, slow bytes.Buffer
		writeCanonicalString(&fast, s)
		slow.WriteByte('"')
		writeCanonicalStringByRune(&slow, s)
		if fast.String() != slow.String() {
			t.Errorf("%q: fast %q, by rune %q", s, fast.String(), slow.String())
		}
	}
	// Invalid UTF-8 goes by rune: U+FFFD, as a JSON parser reads it.
	var b bytes.Buffer
	writeCanonicalString(&b, "a\xffb")
	if b.String() != "\"a\uFFFDb\"" {
		t.Errorf("invalid UTF-8: %q", b.String())
	}
}

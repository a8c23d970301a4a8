package mockkanta

import (
	"bytes"
	"encoding/base64"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/hl7"
	"github.com/helsinki-student-welfare/kanta-gateway/wire"
)

func TestHasNonTestHetu(t *testing.T) {
	real := hetuFor("2014-03-12", 123) // 120314A123?
	test := hetuFor("2014-03-12", 923)
	wrongCheck := real[:10] + string("0123456789ABCDEFHJKLMNPRSTUVWXY"[(strings.IndexByte("0123456789ABCDEFHJKLMNPRSTUVWXY", real[10])+1)%31])
	old := hetuFor("1985-06-30", 456) // 300685-456?
	for _, c := range []struct {
		text string
		want bool
	}{
		{real, true},
		{"Asiakas " + real + ", tavattu.", true},
		{`extension="` + real + `"`, true},
		{`{"value":"` + real + `"}`, true},
		{"1900s: " + old + ".", true},
		{real[:6] + "-" + real[7:], true}, // the same digits born in 1914: the check character ignores the century
		{test, false},
		{"Asiakas " + test + ".", false},
		{real[:6] + "*****", false}, // the masked display form
		{wrongCheck, false},
		{"X" + real, false}, // inside a longer word: not a code standing alone
		{real + "7", false},
		{"1" + real, false},
		{"2.16.840.1.113883.1.18 20261120101500+0200", false},
		{"", false},
		{real[:10], false},
	} {
		if got := hasNonTestHetu([]byte(c.text)); got != c.want {
			t.Errorf("hasNonTestHetu(%q) = %v, want %v", c.text, got, c.want)
		}
	}
}

// naiveNonTestHetu is hasNonTestHetu without its skipping: every position.
func naiveNonTestHetu(b []byte) bool {
	for i := 0; i+11 <= len(b); i++ {
		if (i > 0 && wordByte[b[i-1]]) || (i+11 < len(b) && wordByte[b[i+11]]) {
			continue
		}
		if info, err := documents.ParseHetu(string(b[i : i+11])); err == nil && !info.IsTestCode() {
			return true
		}
	}
	return false
}

// The skipping scan finds exactly what a check at every position finds, on
// random text dense in digits, century signs and planted codes.
func TestHasNonTestHetuSkipsNothing(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := "0123456789012345678901234567890123456789-+AFUY /.\"\n<>x"
	codes := []string{hetuFor("2011-01-20", 345), hetuFor("1985-06-30", 456), hetuFor("2014-03-12", 923)}
	found := 0
	for n := 0; n < 20000; n++ {
		var sb strings.Builder
		for size := 10 + rng.IntN(70); sb.Len() < size; {
			if rng.IntN(12) == 0 {
				sb.WriteString(codes[rng.IntN(len(codes))])
			} else {
				sb.WriteByte(alphabet[rng.IntN(len(alphabet))])
			}
		}
		b := []byte(sb.String())
		want := naiveNonTestHetu(b)
		if got := hasNonTestHetu(b); got != want {
			t.Fatalf("hasNonTestHetu(%q) = %v, every position says %v", b, got, want)
		}
		if want {
			found++
		}
	}
	if found < 1000 {
		t.Fatalf("only %d of the random texts hold a code: the test does not exercise finding", found)
	}
}

// In the test environment a valid non-test identity code anywhere in the
// message is refused, as Kela's test environment does (kanta-domain.md 8.1
// "Test environment"); the answer never quotes it.
func TestNonTestIdentityCodeAnywhereIsRefused(t *testing.T) {
	_, hs := newTestServer(t, trusted())
	real := hetuFor("2011-01-20", 345)
	psy := func(id string) *documents.Entry { return entry(id, documents.RolePsychologist, "2014-01-01") }
	kur := func(id string) *documents.Entry { return entry(id, documents.RoleSchoolWelfareOfficer, "2014-01-01") }
	var plainly = map[string]bool{} // message -> the code is plainly in the frame or the CDA bytes
	msg := func(e *documents.Entry, mod func(*spec)) []byte {
		s := spec{entry: e, decision: decide(e, true)}
		if mod != nil {
			mod(&s)
		}
		b := build(t, s)
		plainly[string(b.message)] = bytes.Contains(b.message, []byte(real)) || bytes.Contains(b.cda, []byte(real))
		return b.message
	}
	withNarrative := func(e *documents.Entry, text string) *documents.Entry {
		e.Text.Narrative = text
		return e
	}
	authorID := func(d *etree.Document) {
		aa := d.Root().SelectElement("author").SelectElement("assignedAuthor")
		id := etree.NewElement("id")
		id.CreateAttr("root", hl7.OIDHetu)
		id.CreateAttr("extension", real)
		aa.InsertChildAt(0, id)
	}
	guardian := func(d *etree.Document) {
		p := d.Root().FindElement("recordTarget/patientRole/patient")
		bt := p.SelectElement("birthTime")
		g := etree.NewElement("guardian")
		g.CreateElement("id").CreateAttr("extension", real)
		g.SelectElement("id").CreateAttr("root", hl7.OIDHetu)
		g.CreateElement("guardianPerson").CreateElement("name").CreateElement("family").SetText("Huoltaja")
		p.InsertChildAt(bt.Index()+1, g)
	}
	structured := func(value string) func(d *etree.Document) {
		return func(d *etree.Document) {
			body := d.Root().FindElement("component/nonXMLBody")
			js := `{"asiakas":{"henkilotunnus":{"system":"urn:oid:1.2.246.21","value":"` + value + `"}}}`
			body.CreateElement("hl7fi:json").SetText("\n" + base64.StdEncoding.EncodeToString([]byte(js)) + "\n")
		}
	}
	inFrame := func(s *spec) {
		s.editFrame = func(b []byte) []byte {
			return replaceOnce(b, `<assignedPerson>`, `<assignedPerson><id root="1.2.246.21" extension="`+real+`"/>`)
		}
	}

	refused := []struct {
		name string
		msg  []byte
	}{
		{"frame: author's identity code (health)", msg(psy("ID-FRAME-H"), inFrame)},
		{"frame: author's identity code (social)", msg(kur("ID-FRAME-S"), inFrame)},
		{"document: author id (health)", msg(psy("ID-AUTH-H"), func(s *spec) { s.editCDA = authorID })},
		{"document and frame: author id (social)", msg(kur("ID-AUTH-S"), func(s *spec) { s.editCDA = authorID })},
		{"document: guardian (health)", msg(psy("ID-GUARD"), func(s *spec) { s.editCDA = guardian })},
		{"display text: health narrative", msg(withNarrative(psy("ID-TEXT-H"), "Äidin henkilötunnus "+real+" kirjattu."), nil)},
		{"display text: social XHTML, only in base64", msg(withNarrative(kur("ID-TEXT-S"), "Äidin henkilötunnus "+real+" kirjattu."), nil)},
		{"structured content: hl7fi:json, only in base64", msg(kur("ID-JSON"), func(s *spec) { s.editCDA = structured(real) })},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			if base64Only := strings.Contains(c.name, "only in base64"); plainly[string(c.msg)] == base64Only {
				t.Fatalf("fixture: the code is plainly in the frame or document: %v, want %v", !base64Only, base64Only)
			}
			resp, body, err := postRaw(t, http.DefaultClient, hs.URL, c.msg)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			ack, err := wire.ParseAck(body)
			if err != nil {
				t.Fatal(err)
			}
			expectAck(t, ack, wire.AckRejected, wire.DetailIdentityInContent)
			if bytes.Contains(body, []byte(real)) || bytes.Contains(body, []byte(real[:6])) {
				t.Error("the answer quotes the identity code")
			}
		})
	}

	accepted := []struct {
		name string
		msg  []byte
	}{
		{"masked display form and a test code in the text", msg(withNarrative(psy("ID-OK-H"),
			"Huoltaja "+real[:6]+"*****, toinen huoltaja "+hetuFor("1980-05-05", 912)+"."), nil)},
		{"a test code in the structured content", msg(kur("ID-OK-S"), func(s *spec) { s.editCDA = structured(hetuFor("2011-01-20", 945)) })},
		{"a code with a wrong check character", msg(withNarrative(psy("ID-OK-CHK"), "Numero "+real[:10]+string(otherCheck(real[10]))+"."), nil)},
	}
	archiveRelationship(t, hs.URL, kur("ID-OK-S"))
	for _, c := range accepted {
		t.Run(c.name, func(t *testing.T) {
			expectAck(t, submit(t, hs.URL, c.msg), wire.AckAccepted, wire.DetailAccepted)
		})
	}

	// Production takes real codes anywhere (there they are the normal case).
	cfg := trusted()
	cfg.Environment = EnvironmentProduction
	_, prod := newTestServer(t, cfg)
	e := withNarrative(psy("ID-PROD"), "Äidin henkilötunnus "+real+" kirjattu.")
	e.Client.Hetu = hetuFor("2014-01-01", 123)
	expectAck(t, submit(t, prod.URL, msg(e, func(s *spec) { s.processingCode = "P" })), wire.AckAccepted, wire.DetailAccepted)
}

func otherCheck(c byte) byte {
	if c == 'A' {
		return 'B'
	}
	return 'A'
}

// The FHIR route applies the same rule to the Bundle JSON.
func TestFHIRNonTestIdentityCodeIsRefused(t *testing.T) {
	_, hs := newTestServer(t, trusted())
	real := hetuFor("2011-01-20", 345)
	e := entry("FHIR-ID-TEXT", documents.RolePsychologist, "2014-01-01")
	e.Text.Narrative = "Äidin henkilötunnus " + real + " kirjattu."
	r := sendBundle(t, hs.URL, buildBundle(t, bundleSpec{entry: e, decision: decide(e, true)}))
	expectOutcome(t, "code in the narrative", r, 422, wire.DetailIdentityInContent)
	if bytes.Contains(r.body, []byte(real)) {
		t.Error("the OperationOutcome quotes the identity code")
	}

	// The whole paragraph, with the markup escaped as some JSON encoders
	// write it (the JWS covers the canonical form, so it still verifies):
	// in the raw bytes the code follows "\u003e" and does not stand alone;
	// the unescaped text shows it does.
	p := entry("FHIR-ID-PARA", documents.RolePsychologist, "2014-01-01")
	p.Text.Narrative = real
	b := buildBundle(t, bundleSpec{entry: p, decision: decide(p, true), editRaw: func(raw []byte) []byte {
		return replaceOnce(raw, "<p>"+real+"</p>", `\u003cp\u003e`+real+`\u003c/p\u003e`)
	}})
	if hasNonTestHetu(b.raw) {
		t.Fatal("fixture: the raw JSON shows the code standing alone")
	}
	expectOutcome(t, "code as a whole escaped paragraph", sendBundle(t, hs.URL, b), 422, wire.DetailIdentityInContent)

	ok := entry("FHIR-ID-OK", documents.RolePsychologist, "2014-01-01")
	ok.Text.Narrative = "Huoltaja " + real[:6] + "*****."
	expectOutcome(t, "masked form", sendBundle(t, hs.URL, buildBundle(t, bundleSpec{entry: ok, decision: decide(ok, true)})), 201, wire.DetailAccepted)
}

// BenchmarkIdentityScan is the cost per message of looking for non-test
// identity codes (frame, document, decoded base64), 4 KiB of narrative:
//
//	go test -run '^$' -bench BenchmarkIdentityScan -benchtime 2s -cpu 1 ./mockkanta/
func BenchmarkIdentityScan(b *testing.B) {
	text := strings.Repeat("Oppilaan kanssa keskusteltiin koulunkäynnistä ja jaksamisesta. ", 66)[:4096]
	for _, role := range []documents.Role{documents.RolePsychologist, documents.RoleSchoolWelfareOfficer} {
		e := entry("SCAN-"+string(role), role, "2014-01-01")
		e.Text.Narrative = text
		built := build(b, spec{entry: e, decision: decide(e, true)})
		msg, err := wire.ParseMessage(built.message)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(string(role), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if cdaHasNonTestHetu(built.message, msg.Document, msg.DocumentTree) {
					b.Fatal("found a code")
				}
			}
			b.ReportMetric(float64(len(built.message)+len(msg.Document)), "bytes")
		})
	}
	e := entry("SCAN-FHIR", documents.RolePsychologist, "2014-01-01")
	e.Text.Narrative = text
	bundle := buildBundle(b, bundleSpec{entry: e, decision: decide(e, true)}).raw
	b.Run("fhir-bundle", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if bundleHasNonTestHetu(bundle) {
				b.Fatal("found a code")
			}
		}
		b.ReportMetric(float64(len(bundle)), "bytes")
	})
}

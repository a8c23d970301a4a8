package cda_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/documents/cda"
	"github.com/helsinki-student-welfare/kanta-gateway/internal/kantasample"
)

var update = flag.Bool("update", false, "rewrite testdata/golden")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./documents/cda -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from golden file (run go test ./documents/cda -update and review the diff)\n got: %.400s", name, got)
	}
}

func TestGoldenDocuments(t *testing.T) {
	for _, c := range cases() {
		t.Run(c.name, func(t *testing.T) {
			golden(t, c.name+".xml", bytesOf(t, build(t, c)))
		})
	}
}

// xmllint validates a health care document against the Finnish CDA schema.
func xmllint(t *testing.T, doc []byte) {
	t.Helper()
	bin, err := exec.LookPath("xmllint")
	if err != nil {
		t.Fatal("xmllint is required for schema validation: ", err)
	}
	f := filepath.Join(t.TempDir(), "doc.xml")
	if err := os.WriteFile(f, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "--noout", "--nonet", "--schema", filepath.Join("schema", "CDA_Fi.xsd"), f).CombinedOutput()
	if err != nil {
		t.Fatalf("xmllint: %v\n%s", err, out)
	}
}

func TestHealthDocumentsValidateAgainstSchema(t *testing.T) {
	n := 0
	for _, c := range cases() {
		if c.e.Author.Role != documents.RolePsychologist {
			continue
		}
		n++
		t.Run(c.name, func(t *testing.T) { xmllint(t, bytesOf(t, build(t, c))) })
	}
	if n < 5 {
		t.Fatalf("only %d health cases", n)
	}
}

// The schema check must be able to fail: a localHeader out of order is invalid.
func TestSchemaValidationRejectsWrongOrder(t *testing.T) {
	doc := build(t, cases()[0])
	h := doc.Tree.Root().FindElement("hl7fi:localHeader")
	rs := h.FindElement("hl7fi:recordStatus")
	h.RemoveChild(rs)
	h.InsertChildAt(0, rs)
	b := bytesOf(t, doc)
	f := filepath.Join(t.TempDir(), "doc.xml")
	if err := os.WriteFile(f, b, 0o600); err != nil {
		t.Fatal(err)
	}
	bin, err := exec.LookPath("xmllint")
	if err != nil {
		t.Fatal("xmllint is required for schema validation: ", err)
	}
	if out, err := exec.Command(bin, "--noout", "--nonet", "--schema", "schema/CDA_Fi.xsd", f).CombinedOutput(); err == nil {
		t.Fatalf("xmllint accepted a misordered local header:\n%s", out)
	}
}

func TestBuildIsDeterministic(t *testing.T) {
	for _, c := range cases() {
		a := bytesOf(t, build(t, c))
		b := bytesOf(t, build(t, c))
		if !bytes.Equal(a, b) {
			t.Errorf("%s: two builds differ", c.name)
		}
	}
}

func TestDocumentMetadata(t *testing.T) {
	cs := cases()
	newDoc, corr, social := build(t, cs[0]), build(t, cs[1]), build(t, cs[6])
	root := "1.2.246.10.2012566"
	if want := documents.DocumentID(root, "apotti-psy-0001", 1); newDoc.ID != want || newDoc.SetID != want || newDoc.Version != 1 || newDoc.Replaces != nil {
		t.Errorf("new: %+v", newDoc)
	}
	if newDoc.BodyID != "OID"+newDoc.ID+".0" || newDoc.Interaction != "RCMR_IN100002FI01" || newDoc.Archive != documents.ArchivePatient {
		t.Errorf("new: body %q interaction %q archive %q", newDoc.BodyID, newDoc.Interaction, newDoc.Archive)
	}
	if corr.ID == newDoc.ID || corr.SetID != newDoc.ID || corr.Version != 2 || corr.Interaction != "RCMR_IN100016FI01" {
		t.Errorf("correction: %+v", corr)
	}
	if corr.Replaces == nil || *corr.Replaces != (cda.Related{ID: newDoc.ID, SetID: newDoc.ID, Version: 1}) {
		t.Errorf("correction replaces %+v", corr.Replaces)
	}
	if social.BodyID != "OID"+social.ID || social.Interaction != "RCMR_IN200002FI01" || social.Archive != documents.ArchiveSocial {
		t.Errorf("social: %+v", social)
	}
}

func TestInspectRoundTrip(t *testing.T) {
	for _, c := range cases() {
		t.Run(c.name, func(t *testing.T) {
			d := decide(t, c.e, c.h)
			doc := build(t, c)
			h, err := cda.Inspect(bytesOf(t, doc))
			if err != nil {
				t.Fatal(err)
			}
			if h.DocumentID != doc.ID || h.SetID != doc.SetID || h.Version != c.e.Revision || h.BodyID != doc.BodyID {
				t.Errorf("ids: %+v", h)
			}
			if h.Archive != d.Archive || h.AuthorRole != c.e.Author.Role || h.AuthorRegistration != c.e.Author.RegistrationNumber {
				t.Errorf("archive/author: %+v", h)
			}
			if h.Hetu != c.e.Client.Hetu || h.BirthDate != c.e.Client.BirthDate {
				t.Errorf("client mismatch")
			}
			if h.ReleaseDate != d.ReleaseDate || h.Concealed != d.Concealed || h.GuardianDisclosure != d.GuardianVisible {
				t.Errorf("restrictions: release %v concealed %v guardian %v, decision %v %v %v",
					h.ReleaseDate, h.Concealed, h.GuardianDisclosure, d.ReleaseDate, d.Concealed, d.GuardianVisible)
			}
			if h.Confidentiality != d.Confidentiality || !h.EffectiveTime.Equal(c.e.FinalizedAt) {
				t.Errorf("confidentiality %q effective %v", h.Confidentiality, h.EffectiveTime)
			}
			if (h.Replaces == nil) != (doc.Replaces == nil) || (h.Replaces != nil && *h.Replaces != *doc.Replaces) {
				t.Errorf("replaces %+v, want %+v", h.Replaces, doc.Replaces)
			}
			if h.EnteredInError != (c.e.Status == documents.StatusEnteredInError) {
				t.Errorf("entered in error %v", h.EnteredInError)
			}
		})
	}
}

// The real archived document reads back too.
func TestInspectRealSample(t *testing.T) {
	cdaXML := sampleCDA(t)
	h, err := cda.Inspect(cdaXML)
	if err != nil {
		t.Fatal(err)
	}
	if h.DocumentID != "1.2.246.537.10.15675350.10.1.11220.19098" || h.Version != 1 || h.Archive != documents.ArchivePatient {
		t.Errorf("%+v", h)
	}
	if h.BodyID != "OID1.2.246.537.10.15675350.10.1.11220.19098.0" || h.Confidentiality != "5" || h.BirthDate != documents.MustDate("2000-01-01") {
		t.Errorf("%+v", h)
	}
	if want := time.Date(2017, 9, 22, 15, 15, 52, 0, time.UTC); !h.EffectiveTime.Equal(want) {
		t.Errorf("effective %v", h.EffectiveTime)
	}
}

// sampleCDA decodes the signed CDA from the real archive message.
func sampleCDA(t *testing.T) []byte {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(kantasample.Message()); err != nil {
		t.Fatal(err)
	}
	text := doc.FindElement("//clinicalDocument/text").Text()
	_, rest, _ := strings.Cut(text, "Content-ID: <1.2.246.537.10.15675350.10.1.11220.19098>\n\n")
	b64, _, _ := strings.Cut(rest, "\n\n")
	out, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(b64, "\n", ""))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestEscaping(t *testing.T) {
	tricky := `<script>alert("x")</script> & 'q' ]]> Åsa Sámi ŋ č đ ž ä ö 😀 tab	end`
	for _, c := range []testCase{{"health", healthEntry(), nil}, {"social", socialEntry(), nil}} {
		t.Run(c.name, func(t *testing.T) {
			c.e.Client.Given, c.e.Client.Family = "Áile "+tricky, "Ŋuolja&<>"
			c.e.Author.Family = `O"Brien <&>`
			c.e.Text.Title = tricky
			c.e.Text.Narrative = tricky + "\r\nrivi 2\n\nkappale 2 " + tricky
			doc := build(t, c)
			b := bytesOf(t, doc)
			if bytes.Contains(b, []byte("<script>")) || bytes.Contains(b, []byte(`"x"`)) {
				t.Fatal("markup leaked unescaped")
			}
			// The serialization must parse back to the very same text.
			back := etree.NewDocument()
			if err := back.ReadFromBytes(b); err != nil {
				t.Fatal(err)
			}
			if got := back.FindElement("//recordTarget/patientRole/patient/name/family").Text(); got != "Ŋuolja&<>" {
				t.Errorf("family name %q", got)
			}
			if got := back.FindElement("//author/assignedAuthor/assignedPerson/name/family").Text(); got != `O"Brien <&>` {
				t.Errorf("author family %q", got)
			}
			var narrative string
			if c.name == "health" {
				if p := back.FindElements("//structuredBody/component/section/text/paragraph"); len(p) != 2 {
					t.Fatalf("%d paragraphs, want 2", len(p))
				} else if len(p[0].SelectElements("br")) != 1 {
					t.Errorf("line break not rendered as <br/>")
				}
				narrative = back.FindElement("//structuredBody/component/section/text/paragraph").Child[0].(*etree.CharData).Data
				xmllint(t, b)
			} else {
				x := xhtmlOf(t, b)
				if bytes.Contains(x, []byte("<script>")) {
					t.Fatal("markup leaked into XHTML")
				}
				xd := etree.NewDocument()
				if err := xd.ReadFromBytes(x); err != nil {
					t.Fatalf("XHTML not well-formed: %v", err)
				}
				narrative = socItemText(t, xd, "Kuvaus")
				if got := socItemText(t, xd, "Tapahtuma"); got != tricky {
					t.Errorf("XHTML title %q", got)
				}
			}
			if narrative != tricky {
				t.Errorf("narrative first line %q, want %q", narrative, tricky)
			}
		})
	}
}

// socItemText is the first text of the display form item titled title.
func socItemText(t *testing.T, xd *etree.Document, title string) string {
	t.Helper()
	for _, item := range xd.FindElements("//div[@class='soc-item']") {
		if h := item.SelectElement("h1"); h != nil && h.Text() == title {
			return item.FindElement("./div[@class='soc-content']/p").Child[0].(*etree.CharData).Data
		}
	}
	t.Fatalf("display form has no item %q", title)
	return ""
}

func xhtmlOf(t *testing.T, cdaXML []byte) []byte {
	t.Helper()
	d := etree.NewDocument()
	if err := d.ReadFromBytes(cdaXML); err != nil {
		t.Fatal(err)
	}
	x, err := base64.StdEncoding.DecodeString(d.FindElement("//nonXMLBody/text").Text())
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func TestXHTMLDisplayFormMasksIdentityCode(t *testing.T) {
	c := cases()[6]
	x := xhtmlOf(t, bytesOf(t, build(t, c)))
	if bytes.Contains(x, []byte(c.e.Client.Hetu)) {
		t.Fatal("display form shows the full identity code")
	}
	if !bytes.Contains(x, []byte(c.e.Client.Hetu[:6]+"*****")) {
		t.Fatalf("display form lacks the masked identity code:\n%s", x)
	}
	// The real display forms are a fragment, not a document (Warc0ck/
	// SH-Kanta-validator "asia ja rajoitukset testi S.xml", decoded text).
	doc := build(t, c)
	want := `<div class="soc-document" id="` + doc.BodyID + `" xmlns="http://www.w3.org/1999/xhtml">`
	if !bytes.HasPrefix(x, []byte(want)) {
		t.Errorf("display form starts %.120s, want %s", x, want)
	}
	if bytes.Contains(x, []byte("<?xml")) || bytes.Contains(x, []byte("DOCTYPE")) {
		t.Error("display form has an XML declaration or a DOCTYPE")
	}
	for _, class := range []string{"soc-header", "soc-main-wrapper", "soc-list", "soc-item", "soc-content", "soc-footer"} {
		if !bytes.Contains(x, []byte(`class="`+class+`"`)) {
			t.Errorf("display form lacks class %s", class)
		}
	}
}

func TestInvalidCharactersAreRefused(t *testing.T) {
	bad := []string{"\x00", "\x08", "\x0B", "\x0C", "\x1F", "\uFFFE", "\uFFFF", "\xff"}
	fields := map[string]func(e *documents.Entry, s string){
		"text.narrative":                   func(e *documents.Entry, s string) { e.Text.Narrative = "ok " + s },
		"text.title":                       func(e *documents.Entry, s string) { e.Text.Title = s },
		"client.given":                     func(e *documents.Entry, s string) { e.Client.Given = s },
		"author.family":                    func(e *documents.Entry, s string) { e.Author.Family = s },
		"service.unit_name":                func(e *documents.Entry, s string) { e.Service.UnitName = s },
		"restrictions.mykanta.reason_text": func(e *documents.Entry, s string) { e.MyKanta.ReasonText = s },
	}
	for field, set := range fields {
		for _, ch := range bad {
			e := healthEntry()
			d := decide(t, e, nil)
			set(e, "Secret"+ch)
			_, err := cda.Build(e, d, org, cda.Options{})
			if err == nil {
				t.Fatalf("%s with %q accepted", field, ch)
			}
			if !strings.Contains(err.Error(), field) {
				t.Errorf("error %q does not name %s", err, field)
			}
			if strings.Contains(err.Error(), "Secret") || strings.Contains(err.Error(), e.Client.Hetu) {
				t.Errorf("error leaks the value: %q", err)
			}
		}
	}
}

func TestBuildRefusals(t *testing.T) {
	tests := map[string]func(e *documents.Entry, d *documents.Decision, o *documents.Organisation){
		"skip outcome": func(e *documents.Entry, d *documents.Decision, o *documents.Organisation) {
			d.Outcome = documents.OutcomeSkip
		},
		"bad unit oid": func(e *documents.Entry, d *documents.Decision, o *documents.Organisation) {
			e.Service.UnitOID = "1.2.x"
		},
		"no document root": func(e *documents.Entry, d *documents.Decision, o *documents.Organisation) { o.DocumentRoot = "" },
		"no finalized_at": func(e *documents.Entry, d *documents.Decision, o *documents.Organisation) {
			e.FinalizedAt = time.Time{}
		},
		"concealed, no reason": func(e *documents.Entry, d *documents.Decision, o *documents.Organisation) { d.Concealed = true },
		"unknown archive":      func(e *documents.Entry, d *documents.Decision, o *documents.Organisation) { d.Archive = "x" },
		"no registration": func(e *documents.Entry, d *documents.Decision, o *documents.Organisation) {
			e.Author.RegistrationNumber = ""
		},
		"eie without a version": func(e *documents.Entry, d *documents.Decision, o *documents.Organisation) {
			e.Status = documents.StatusEnteredInError
		},
	}
	for name, mutate := range tests {
		e := healthEntry()
		d := decide(t, e, nil)
		o := org
		mutate(e, &d, &o)
		if _, err := cda.Build(e, d, o, cda.Options{}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestCodeOverrides(t *testing.T) {
	c := cases()[6]
	d := decide(t, c.e, nil)
	doc, err := cda.Build(c.e, d, org, cda.Options{Codes: map[string]string{cda.CodeSocialServiceTask: "99", cda.CodeHealthViewPsychology: "XYZ"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := doc.Tree.Root().FindElement("hl7fi:localSocialHeader/hl7fi:functionCode").SelectAttrValue("code", ""); got != "99" {
		t.Errorf("service task %q", got)
	}
	if _, err := cda.Build(c.e, d, org, cda.Options{Codes: map[string]string{"social.no_such_code": "1"}}); err == nil {
		t.Error("unknown code name accepted")
	}
	// The configuration's code map is shared with the FHIR and frame
	// builders: their names are not this builder's business.
	if _, err := cda.Build(c.e, d, org, cda.Options{Codes: map[string]string{"fhir.something": "1"}}); err != nil {
		t.Errorf("another builder's code name refused: %v", err)
	}
	table, err := cda.Codes(cda.Options{})
	if err != nil || len(table) < 20 {
		t.Fatalf("code table: %d rows, %v", len(table), err)
	}
}

func TestCheckProfileAcceptsBuiltDocuments(t *testing.T) {
	for _, c := range cases() {
		if err := cda.CheckProfile(bytesOf(t, build(t, c))); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

func TestCheckProfileNamesMissingElement(t *testing.T) {
	cs := cases()
	health, correction, social := cs[0], cs[1], cs[6]
	tests := []struct {
		c       testCase
		remove  string // etree path of the element to remove
		missing string // what the error must name
	}{
		{health, "./id", "id@root"},
		{health, "./setId", "setId@root"},
		{health, "./versionNumber", "versionNumber@value"},
		{health, "./confidentialityCode", "confidentialityCode@code"},
		{health, "./recordTarget", "recordTarget/patientRole/id@extension"},
		{health, "./recordTarget/patientRole/patient/birthTime", "recordTarget/patientRole/patient/birthTime@value"},
		{health, "./author/assignedAuthor/id", "author/assignedAuthor/id@extension"},
		{health, "./custodian", "custodian/assignedCustodian/representedCustodianOrganization/id@root"},
		{health, "./componentOf", "componentOf/encompassingEncounter/id@root"},
		{health, "./hl7fi:localHeader/hl7fi:tableOfContents", "hl7fi:localHeader/hl7fi:tableOfContents/hl7fi:contentsCode@code"},
		{health, "./hl7fi:localHeader/hl7fi:recordStatus", "hl7fi:localHeader/hl7fi:recordStatus@code"},
		{health, "./hl7fi:localHeader/hl7fi:signatureCollection", "hl7fi:localHeader/hl7fi:signatureCollection"},
		{health, "./hl7fi:localHeader/hl7fi:retentionPeriodClass", "hl7fi:localHeader/hl7fi:retentionPeriodClass@code"},
		{health, "./component/structuredBody/component", "component/structuredBody/component/section/code@code"},
		{health, "./component/structuredBody/component/section/text", "component/structuredBody/component/section/text"},
		{correction, "./relatedDocument", `relatedDocument[@typeCode="RPLC"]`},
		{correction, "./relatedDocument/parentDocument/setId", "relatedDocument/parentDocument/setId@root"},
		{social, "./authorization", "authorization/consent/code@code"},
		{social, "./componentOf/encompassingEncounter/encounterParticipant", "componentOf/encompassingEncounter/encounterParticipant/assignedEntity/representedOrganization/id@root"},
		{social, "./hl7fi:localSocialHeader/hl7fi:functionCode", "hl7fi:localSocialHeader/hl7fi:functionCode@code"},
		{social, "./hl7fi:localSocialHeader/hl7fi:registryType", "hl7fi:localSocialHeader/hl7fi:registryType@code"},
		{social, "./hl7fi:localSocialHeader/hl7fi:signatureCollection", "hl7fi:localSocialHeader/hl7fi:signatureCollection"},
		{social, "./component/nonXMLBody/text", "component/nonXMLBody/text@mediaType"},
	}
	for _, tc := range tests {
		t.Run(tc.c.name+tc.remove, func(t *testing.T) {
			doc := build(t, tc.c)
			el := doc.Tree.Root().FindElement(tc.remove)
			if el == nil {
				t.Fatalf("fixture has no %s", tc.remove)
			}
			el.Parent().RemoveChild(el)
			err := cda.CheckProfile(bytesOf(t, doc))
			var pe *cda.ProfileError
			if !errors.As(err, &pe) || pe.Missing != tc.missing {
				t.Fatalf("got %v, want missing %s", err, tc.missing)
			}
		})
	}
}

// The real 2017 document predates the view (tableOfContents) our profile
// requires; CheckProfile must say exactly that.
func TestCheckProfileRealSample(t *testing.T) {
	err := cda.CheckProfile(sampleCDA(t))
	var pe *cda.ProfileError
	if !errors.As(err, &pe) || pe.Missing != "hl7fi:localHeader/hl7fi:tableOfContents/hl7fi:contentsCode@code" {
		t.Fatalf("got %v", err)
	}
}

func TestCheckProfileOtherViolations(t *testing.T) {
	cs := cases()
	doc := build(t, cs[0])
	doc.Tree.Root().FindElement("./component/structuredBody").CreateAttr("ID", "OIDother")
	if err := cda.CheckProfile(bytesOf(t, doc)); err == nil || !strings.Contains(err.Error(), "body ID") {
		t.Errorf("wrong body ID: %v", err)
	}
	doc = build(t, cs[6])
	h := doc.Tree.Root().FindElement("./hl7fi:localSocialHeader")
	ft := h.FindElement("hl7fi:functionCode")
	h.RemoveChild(ft)
	h.InsertChildAt(0, ft)
	if err := cda.CheckProfile(bytesOf(t, doc)); err == nil || !strings.Contains(err.Error(), "out of order") {
		t.Errorf("misordered social header: %v", err)
	}
	doc = build(t, cs[0])
	doc.Tree.Root().FindElement("./hl7fi:localHeader").Tag = "somethingElse"
	if err := cda.CheckProfile(bytesOf(t, doc)); err == nil || !strings.Contains(err.Error(), "localHeader") {
		t.Errorf("no local header: %v", err)
	}
	if err := cda.CheckProfile([]byte("<ClinicalDocument")); err == nil {
		t.Error("not XML accepted")
	}
}

func benchmarkBuild(b *testing.B, c testCase) {
	c.e.Text.Narrative = narrative4K()
	d := decide(b, c.e, nil)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		doc, err := cda.Build(c.e, d, org, cda.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := doc.Bytes(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
}

func BenchmarkBuildHealth(b *testing.B) { benchmarkBuild(b, testCase{"health", healthEntry(), nil}) }
func BenchmarkBuildSocial(b *testing.B) { benchmarkBuild(b, testCase{"social", socialEntry(), nil}) }

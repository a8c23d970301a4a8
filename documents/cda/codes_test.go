package cda_test

import (
	"strings"
	"testing"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/documents/cda"
)

// Every guardian basis of a minor is coded from 1.2.246.537.5.40202.201901
// as the FHIR FI base value set defines the codes (fhir-fi/finnish-base-
// profiles, input/fsh/valuesets/restrictionparent-vs.fsh): 1 "Ei
// päätöskykyinen alaikäinen, tiedot luovutetaan huoltajille", 2 capable and
// allows, 3 capable and forbids, 4 capability unknown, not disclosed. The
// reader (the mock's guardian view) reads the same code back.
func TestGuardianDisclosureCodes(t *testing.T) {
	tests := []struct {
		name       string
		birth      documents.Date
		hetu       string
		consent    documents.Consent
		prohibited bool
		code       string // "" = no authorization element
		disclosed  bool
	}{
		{"under 12", documents.MustDate("2016-05-05"), "050516A912J", documents.ConsentNotAssessed, false, "1", true},
		{"12+ granted", documents.MustDate("2013-01-01"), "010113A934H", documents.ConsentGranted, false, "2", true},
		{"12+ refused", documents.MustDate("2013-01-01"), "010113A934H", documents.ConsentRefused, false, "3", false},
		{"12+ not assessed", documents.MustDate("2013-01-01"), "010113A934H", documents.ConsentNotAssessed, false, "4", false},
		{"professional prohibits", documents.MustDate("2016-05-05"), "050516A912J", documents.ConsentNotAssessed, true, "4", false},
		{"adult", documents.MustDate("2007-01-01"), "010107A9123", documents.ConsentNotAssessed, false, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := healthEntry()
			e.Client.BirthDate, e.Client.Hetu = tc.birth, fixHetu(t, tc.hetu)
			e.Guardian = documents.Guardian{MinorConsent: tc.consent, ProhibitedByProfessional: tc.prohibited}
			d := decide(t, e, nil)
			doc, err := cda.Build(e, d, org, cda.Options{})
			if err != nil {
				t.Fatal(err)
			}
			el := doc.Tree.Root().FindElement("authorization/consent/code")
			switch {
			case tc.code == "" && el != nil:
				t.Fatalf("an adult's document carries a guardian code %s", el.SelectAttrValue("code", ""))
			case tc.code == "":
				return
			case el == nil:
				t.Fatal("no authorization/consent/code")
			}
			if got := el.SelectAttrValue("code", ""); got != tc.code || el.SelectAttrValue("codeSystem", "") != "1.2.246.537.5.40202.201901" {
				t.Errorf("code %s (%s), want %s", got, el.SelectAttrValue("codeSystem", ""), tc.code)
			}
			if el.SelectAttrValue("displayName", "") == "" {
				t.Error("no display name")
			}
			h, err := cda.Inspect(bytesOf(t, doc))
			if err != nil {
				t.Fatal(err)
			}
			if h.GuardianDisclosure != tc.disclosed || d.GuardianVisible != tc.disclosed {
				t.Errorf("read back disclosure %v, policy %v, want %v", h.GuardianDisclosure, d.GuardianVisible, tc.disclosed)
			}
		})
	}
}

// fixHetu recomputes the check character of a test identity code.
func fixHetu(t *testing.T, h string) string {
	t.Helper()
	return testHetu(h[0:6], h[6], h[7:10])
}

// A professional's prohibition has no seen code: the operator can choose one,
// and the display name follows the code.
func TestGuardianProhibitionCodeIsConfiguration(t *testing.T) {
	e := healthEntry()
	e.Guardian.ProhibitedByProfessional = true
	doc, err := cda.Build(e, decide(t, e, nil), org, cda.Options{Codes: map[string]string{cda.CodeHealthGuardianProfProhibited: "3"}})
	if err != nil {
		t.Fatal(err)
	}
	el := doc.Tree.Root().FindElement("authorization/consent/code")
	if el.SelectAttrValue("code", "") != "3" || !strings.Contains(el.SelectAttrValue("displayName", ""), "kieltää") {
		t.Errorf("override: code %s display %q", el.SelectAttrValue("code", ""), el.SelectAttrValue("displayName", ""))
	}
}

// Both invalidation forms are an entered-in-error version to the reader.
// Kela's: KantaCDA-API (TheFinnishSocialInsuranceInstitution/KantaCDA-API)
// src/test/resources/testi_arkisto.properties sets the invalidation's
// localHeader.recordStatus to 7 "Poistettu" of 1.2.246.537.5.40154.2008, and
// OstopalvelunvaltuutusKasaaja.mitatoiCDA writes a new version with
// relatedDocument RPLC, that recordStatus, and a structuredBody whose one
// section (the view's code) holds a section 99 "Määrittämätön
// hoitoprosessin vaihe" (1.2.246.537.6.13.2006) holding a section 76 "Muu
// merkintä" with the text.
func TestInvalidationStyles(t *testing.T) {
	c := cases()[5] // health_entered_in_error
	if c.name != "health_entered_in_error" {
		t.Fatal("fixture order changed")
	}
	d := decide(t, c.e, c.h)
	for _, style := range []string{"", cda.InvalidationKela, cda.InvalidationMarker} {
		t.Run("style "+style, func(t *testing.T) {
			doc, err := cda.Build(c.e, d, org, cda.Options{Invalidation: style})
			if err != nil {
				t.Fatal(err)
			}
			raw := bytesOf(t, doc)
			xmllint(t, raw)
			if err := cda.CheckProfile(raw); err != nil {
				t.Fatal(err)
			}
			h, err := cda.Inspect(raw)
			if err != nil || !h.EnteredInError || h.Replaces == nil || h.Replaces.Version != 1 {
				t.Fatalf("read back: %+v %v", h, err)
			}
			root := doc.Tree.Root()
			status := root.FindElement("hl7fi:localHeader/hl7fi:recordStatus")
			desc := root.FindElement("hl7fi:localHeader/hl7fi:description")
			if style == cda.InvalidationMarker {
				if status.SelectAttrValue("code", "") != "3" || desc == nil || desc.Text() != "mitätöity" {
					t.Errorf("marker: recordStatus %s, description %v", status.SelectAttrValue("code", ""), desc)
				}
				return
			}
			if status.SelectAttrValue("code", "") != "7" || status.SelectAttrValue("codeSystem", "") != "1.2.246.537.5.40154.2008" || status.SelectAttrValue("displayName", "") != "Poistettu" {
				t.Errorf("kela: recordStatus %v", status.Attr)
			}
			if desc != nil {
				t.Error("kela form carries the marker too")
			}
			inner := root.FindElement("component/structuredBody/component/section/component/section/component/section")
			phase := root.FindElement("component/structuredBody/component/section/component/section/code")
			if inner == nil || phase.SelectAttrValue("code", "") != "99" || inner.FindElement("code").SelectAttrValue("code", "") != "76" || inner.FindElement("text") == nil {
				t.Errorf("kela invalidation body not as Kela's builder writes it")
			}
			if strings.Contains(string(raw), c.e.Text.Narrative[:20]) {
				t.Error("the invalidated text is repeated in the invalidation")
			}
		})
	}
	if _, err := cda.Build(c.e, d, org, cda.Options{Invalidation: "delete"}); err == nil {
		t.Error("unknown invalidation style accepted")
	}
	// A social welfare document keeps the marker by default (Kela's social
	// welfare codes are not public); kela there changes only recordStatus.
	sc := cases()[11]
	for style, wantStatus := range map[string]string{"": "3", cda.InvalidationMarker: "3", cda.InvalidationKela: "7"} {
		doc, err := cda.Build(sc.e, decide(t, sc.e, sc.h), org, cda.Options{Invalidation: style})
		if err != nil {
			t.Fatal(err)
		}
		desc := doc.Tree.Root().FindElement("hl7fi:localSocialHeader/hl7fi:description")
		status := doc.Tree.Root().FindElement("hl7fi:localSocialHeader/hl7fi:recordStatus").SelectAttrValue("code", "")
		if status != wantStatus || (desc != nil) != (wantStatus == "3") {
			t.Errorf("social invalidation %q: recordStatus %s, marker %v", style, status, desc != nil)
		}
	}
}

// Every name of the table is overridable, also the shared ones without a
// health./social. prefix.
func TestEveryCodeNameIsOverridable(t *testing.T) {
	table, err := cda.Codes(cda.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range table {
		over, err := cda.Codes(cda.Options{Codes: map[string]string{row.Name: "X1"}})
		if err != nil {
			t.Fatalf("%s: %v", row.Name, err)
		}
		for _, r := range over {
			if r.Name == row.Name && r.Code.Code != "X1" {
				t.Errorf("%s: override not applied (%q)", row.Name, r.Code.Code)
			}
		}
	}
	if _, err := cda.Codes(cda.Options{Codes: map[string]string{"health.guardian_restriction.minor_refused": "1"}}); err == nil || !strings.Contains(err.Error(), "health.guardian_restriction.minor_refused") {
		t.Errorf("unknown health name: %v", err)
	}
}

// The codes section 8.3 of the domain notes corrects.
func TestCorrectedHealthDefaults(t *testing.T) {
	doc := build(t, cases()[0])
	root := doc.Tree.Root()
	// Real documents: documentType 1 is "Kertomusteksti" (1.2.246.537.5.5001.2011).
	if dt := root.FindElement("hl7fi:localHeader/hl7fi:documentType"); dt.SelectAttrValue("code", "") != "1" || dt.SelectAttrValue("displayName", "") != "Kertomusteksti" {
		t.Errorf("documentType %v", dt.Attr)
	}
	// Views are numbers with the abbreviation as display name
	// (shared/samples/kanta/KIE_Kielto_20170127.xml: contentsCode 331).
	view := root.FindElement("hl7fi:localHeader/hl7fi:tableOfContents/hl7fi:contentsCode")
	if !digits(view.SelectAttrValue("code", "")) || view.SelectAttrValue("displayName", "") != "PSY" {
		t.Errorf("view %v", view.Attr)
	}
	// Professions are 3-digit codes (001 physician, 034 specialist).
	if p := root.FindElement("author/assignedAuthor/code").SelectAttrValue("code", ""); len(p) != 3 || !digits(p) {
		t.Errorf("profession %q", p)
	}
	unconfirmed := map[string]bool{}
	table, _ := cda.Codes(cda.Options{})
	for _, r := range table {
		unconfirmed[r.Name] = !r.Confirmed
	}
	for _, name := range []string{cda.CodeHealthViewPsychology, cda.CodeProfessionPsychologist, cda.CodeHealthGuardianProfProhibited} {
		if !unconfirmed[name] {
			t.Errorf("%s is not marked unconfirmed", name)
		}
	}
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

package fhir

import (
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
)

func TestBuildPsychologistFirstVersion(t *testing.T) {
	e := entry(documents.RolePsychologist, "2016-05-05") // 10 years old: guardian sees it
	d := decide(t, e, nil)
	b, _ := build(t, e, d)

	docID := documents.DocumentID(testOrg.DocumentRoot, e.ID, 1)
	if val(b.Id) != documents.FHIRBundleID(testOrg.DocumentRoot, e.ID, 1) {
		t.Errorf("Bundle.id = %q", val(b.Id))
	}
	if val(b.Identifier.System) != "urn:ietf:rfc:3986" || val(b.Identifier.Value) != "urn:oid:"+docID {
		t.Errorf("Bundle.identifier = %+v", b.Identifier)
	}
	if b.Type.Code() != "document" || val(b.Timestamp) != "2026-11-20T10:15:00+02:00" {
		t.Errorf("type %q timestamp %q", b.Type, val(b.Timestamp))
	}
	for _, en := range b.Entry {
		if !strings.HasPrefix(val(en.FullUrl), "urn:uuid:") {
			t.Errorf("fullUrl %q is not a urn:uuid", val(en.FullUrl))
		}
	}

	c := composition(t, b)
	if c.Status.Code() != "final" || len(c.RelatesTo) != 0 {
		t.Errorf("status %q relatesTo %v", c.Status, c.RelatesTo)
	}
	if val(c.Identifier.Value) != "urn:oid:"+documents.SetID(testOrg.DocumentRoot, e.ID) {
		t.Errorf("Composition.identifier = %+v", c.Identifier)
	}
	if got := c.Category[0].Coding[0]; val(got.System) != "urn:oid:1.2.246.537.5.40150.2009" || val(got.Code) != "2" {
		t.Errorf("category = %+v", got)
	}
	if val(c.Confidentiality) != "R" || c.Title != "Psykologin käynti" || c.Date != val(b.Timestamp) {
		t.Errorf("confidentiality %q title %q date %q", val(c.Confidentiality), c.Title, c.Date)
	}
	if !hasSecurity(c.Meta, "urn:oid:1.2.246.777.5.99902.2006", "5") || !hasSecurity(b.Meta, "urn:oid:1.2.246.777.5.99902.2006", "5") {
		t.Errorf("confidentiality 5 label missing: %+v / %+v", c.Meta, b.Meta)
	}
	if hasSecurity(c.Meta, "http://terminology.hl7.org/CodeSystem/v3-ActCode", "NOPAT") {
		t.Error("visible entry carries the concealment label")
	}

	p, ok := resolve(t, b, c.Subject).(*Patient)
	if !ok || val(p.Identifier[0].System) != "urn:oid:1.2.246.21" || val(p.Identifier[0].Value) != e.Client.Hetu {
		t.Fatalf("subject = %+v", p)
	}
	if val(p.BirthDate) != "2016-05-05" || val(p.Name[0].Family) != "Oppilas" || strings.Join(p.Name[0].Given, " ") != "Testi Tapani" {
		t.Errorf("patient = %+v", p)
	}
	role, ok := resolve(t, b, &c.Author[0]).(*PractitionerRole)
	if !ok {
		t.Fatal("author is not a PractitionerRole")
	}
	pr := resolve(t, b, role.Practitioner).(*Practitioner)
	if val(pr.Identifier[0].System) != "urn:oid:1.2.246.537.26" || val(pr.Identifier[0].Value) != "100000001" {
		t.Errorf("practitioner = %+v", pr)
	}
	custodian := resolve(t, b, c.Custodian).(*Organization)
	if val(custodian.Identifier[0].Value) != "urn:oid:"+testOrg.OID || val(custodian.Name) != testOrg.Name {
		t.Errorf("custodian = %+v", custodian)
	}
	if resolve(t, b, role.Organization) != Resource(custodian) {
		t.Error("an in-house author's role is not at the organiser")
	}
	enc := resolve(t, b, c.Encounter).(*Encounter)
	if enc.Status.Code() != "finished" || val(enc.Class.Code) != "AMB" || val(enc.Period.Start) != "2026-11-20T09:00:00+02:00" || val(enc.Period.End) != "2026-11-20T09:45:00+02:00" {
		t.Errorf("encounter = %+v %+v", enc, enc.Period)
	}
	if val(enc.Identifier[0].Value) != "ENC-1" {
		t.Errorf("encounter identifier = %+v", enc.Identifier)
	}
	unit := resolve(t, b, enc.ServiceProvider).(*Organization)
	if val(unit.Identifier[0].Value) != "urn:oid:"+e.Service.UnitOID || val(unit.Name) != e.Service.UnitName || resolve(t, b, unit.PartOf) != Resource(custodian) {
		t.Errorf("unit = %+v", unit)
	}
	prov := only[*Provenance](t, b)
	if prov.Recorded != val(b.Timestamp) || val(prov.Target[0].Reference) != val(b.Entry[0].FullUrl) || val(prov.Agent[0].Who.Reference) != val(c.Author[0].Reference) {
		t.Errorf("provenance = %+v", prov)
	}
	// A 10-year-old: RestrictionParent 1 (not capable, disclosed) only.
	if len(prov.Extension) != 1 || prov.Extension[0].ValueCoding == nil || val(prov.Extension[0].ValueCoding.Code) != "1" || prov.Agent[0].OnBehalfOf != nil {
		t.Errorf("unexpected provenance extension/onBehalfOf: %+v", prov)
	}
	if got := len(resources[*Organization](b)); got != 2 {
		t.Errorf("%d organizations, want organiser and unit", got)
	}

	s := mustInspect(t, b)
	want := Summary{
		DocumentID: docID, SetID: documents.SetID(testOrg.DocumentRoot, e.ID), Version: 1,
		Hetu: e.Client.Hetu, Archive: documents.ArchivePatient, AuthorRole: documents.RolePsychologist,
		Confidentiality: "5", Status: "final", GuardianDisclosure: "1", GuardianDisclosed: true,
	}
	if s != want {
		t.Errorf("Inspect = %+v\nwant      %+v", s, want)
	}
}

func TestBuildWelfareOfficer(t *testing.T) {
	e := entry(documents.RoleSchoolWelfareOfficer, "2016-05-05")
	d := decide(t, e, nil)
	b, _ := build(t, e, d)
	c := composition(t, b)
	if got := c.Category[0].Coding[0]; val(got.System) != "urn:oid:1.2.246.537.6.1264.201701" || val(got.Code) != "1" {
		t.Errorf("category = %+v", got)
	}
	if got := c.Type.Coding[0]; val(got.System) != "urn:oid:1.2.246.537.6.1506.201701" {
		t.Errorf("type = %+v", got)
	}
	if enc := only[*Encounter](t, b); val(enc.Class.Code) != "VR" {
		t.Errorf("phone contact class = %q, want VR", val(enc.Class.Code))
	}
	s := mustInspect(t, b)
	if s.Archive != documents.ArchiveSocial || s.AuthorRole != documents.RoleSchoolWelfareOfficer || s.Confidentiality != "6" {
		t.Errorf("Inspect = %+v", s)
	}
	// The two professions' documents never share ids.
	p := entry(documents.RolePsychologist, "2016-05-05")
	pb, _ := build(t, p, decide(t, p, nil))
	if val(pb.Identifier.Value) == val(b.Identifier.Value) || pb.Entry[0].FullUrl == b.Entry[0].FullUrl {
		t.Error("different entries got the same ids")
	}
}

func TestBuildMyKantaRestrictions(t *testing.T) {
	t.Run("delayed", func(t *testing.T) {
		e := entry(documents.RolePsychologist, "2016-05-05")
		e.MyKanta = documents.MyKanta{Display: documents.DisplayDelayed, ReleaseDate: documents.MustDate("2027-01-15"), ReasonCode: "2", ReasonText: "Lain mukainen peruste"}
		b, raw := build(t, e, decide(t, e, nil))
		prov := only[*Provenance](t, b)
		x := extension(prov.Extension, "https://hl7.fi/fhir/finnish-base-profiles/StructureDefinition/ReleaseDateForPatientViewing")
		if x == nil || val(x.ValueDate) != "2027-01-15" {
			t.Fatalf("release date extension = %+v", x)
		}
		if !strings.Contains(string(raw), `"valueDate":"2027-01-15"`) {
			t.Error("release date is not encoded as valueDate")
		}
		if len(prov.Reason) != 1 || val(prov.Reason[0].Coding[0].Code) != "2" || val(prov.Reason[0].Text) != "Lain mukainen peruste" {
			t.Errorf("reason = %+v", prov.Reason)
		}
		s := mustInspect(t, b)
		if s.ReleaseDate != documents.MustDate("2027-01-15") || s.Concealed {
			t.Errorf("Inspect = %+v", s)
		}
	})
	t.Run("concealed", func(t *testing.T) {
		e := entry(documents.RoleSchoolWelfareOfficer, "2016-05-05")
		e.MyKanta = documents.MyKanta{Display: documents.DisplayHidden, ReasonCode: "1"}
		b, _ := build(t, e, decide(t, e, nil))
		c := composition(t, b)
		const v3 = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
		if !hasSecurity(c.Meta, v3, "NOPAT") || !hasSecurity(b.Meta, v3, "NOPAT") {
			t.Errorf("concealment label missing: %+v", c.Meta)
		}
		if extension(only[*Provenance](t, b).Extension, "https://hl7.fi/fhir/finnish-base-profiles/StructureDefinition/ReleaseDateForPatientViewing") != nil {
			t.Error("concealed entry has a release date")
		}
		if s := mustInspect(t, b); !s.Concealed || !s.ReleaseDate.IsZero() {
			t.Errorf("Inspect = %+v", s)
		}
	})
	t.Run("delayed without date refused", func(t *testing.T) {
		e := entry(documents.RolePsychologist, "2016-05-05")
		d := decide(t, e, nil)
		d.Display = documents.DisplayDelayed
		if _, err := Build(e, d, testOrg, Options{}); err == nil {
			t.Fatal("delayed without a release date was accepted")
		}
	})
}

// RestrictionParent carries the guardian basis of every minor's document,
// coded as the FHIR FI base value set defines 1.2.246.537.5.40202.201901
// (fhir-fi/finnish-base-profiles input/fsh/valuesets/restrictionparent-vs.fsh;
// the extension, input/fsh/extensions/restrictionParent.fsh, requires
// valueCoding system, code and display): 1 not capable and disclosed, 2
// capable and allows, 3 capable and forbids, 4 capability unknown.
func TestBuildGuardianRestriction(t *testing.T) {
	// Ages on 2026-11-20, the finalization day.
	cases := []struct {
		name      string
		birth     string
		guardian  documents.Guardian
		want      string // RestrictionParent code, "" = absent
		disclosed bool
	}{
		{"under 12", "2016-05-05", documents.Guardian{}, "1", true},
		{"under 12 prohibited by professional", "2016-05-05", documents.Guardian{ProhibitedByProfessional: true}, "4", false},
		{"12 today without assessment", "2014-11-20", documents.Guardian{MinorConsent: documents.ConsentNotAssessed}, "4", false},
		{"11 until tomorrow", "2014-11-21", documents.Guardian{}, "1", true},
		{"12+ consent granted", "2012-03-01", documents.Guardian{MinorConsent: documents.ConsentGranted, MaturityAssessed: true}, "2", true},
		{"12+ consent refused", "2012-03-01", documents.Guardian{MinorConsent: documents.ConsentRefused, MaturityAssessed: true}, "3", false},
		{"12+ consent granted but prohibited", "2012-03-01", documents.Guardian{MinorConsent: documents.ConsentGranted, ProhibitedByProfessional: true}, "4", false},
		{"17", "2009-11-21", documents.Guardian{MinorConsent: documents.ConsentRefused}, "3", false},
		{"18 today", "2008-11-20", documents.Guardian{MinorConsent: documents.ConsentRefused}, "", true},
		{"adult", "2000-01-01", documents.Guardian{}, "", true},
	}
	for _, tc := range cases {
		for _, role := range []documents.Role{documents.RolePsychologist, documents.RoleSchoolWelfareOfficer} {
			t.Run(tc.name+"/"+string(role), func(t *testing.T) {
				e := entry(role, tc.birth)
				e.Guardian = tc.guardian
				d := decide(t, e, nil)
				b, _ := build(t, e, d)
				x := extension(only[*Provenance](t, b).Extension, "https://hl7.fi/fhir/finnish-base-profiles/StructureDefinition/RestrictionParent")
				got := ""
				if x != nil {
					if x.ValueCoding == nil || val(x.ValueCoding.System) != "urn:oid:1.2.246.537.5.40202.201901" || val(x.ValueCoding.Display) == "" {
						t.Fatalf("RestrictionParent = %+v", x)
					}
					got = val(x.ValueCoding.Code)
				}
				if got != tc.want {
					t.Errorf("RestrictionParent code %q, want %q (GuardianVisible=%v)", got, tc.want, d.GuardianVisible)
				}
				// Present exactly for a minor.
				minor := e.Client.BirthDate.AgeOn(documents.MustDate("2026-11-20")) < 18
				if (got != "") != minor {
					t.Errorf("RestrictionParent present=%v, minor=%v", got != "", minor)
				}
				s := mustInspect(t, b)
				if s.GuardianDisclosure != tc.want || s.GuardianDisclosed != tc.disclosed {
					t.Errorf("Inspect: code %q disclosed %v", s.GuardianDisclosure, s.GuardianDisclosed)
				}
				if minor && s.GuardianDisclosed != d.GuardianVisible {
					t.Errorf("read back disclosed %v, policy %v", s.GuardianDisclosed, d.GuardianVisible)
				}
			})
		}
	}
}

func TestBuildAmendment(t *testing.T) {
	first := entry(documents.RolePsychologist, "2016-05-05")
	b1, _ := build(t, first, decide(t, first, nil))

	e := entry(documents.RolePsychologist, "2016-05-05")
	e.Revision, e.Status = 2, documents.StatusAmended
	e.Amends = &documents.Amends{Revision: 1, Reason: "korjaus"}
	e.Text.Narrative = "Korjattu teksti."
	b, _ := build(t, e, decide(t, e, history{e.ID: 1}))
	c := composition(t, b)
	if c.Status.Code() != "amended" {
		t.Errorf("status %q", c.Status)
	}
	if len(c.RelatesTo) != 1 || c.RelatesTo[0].Code.Code() != "replaces" || val(c.RelatesTo[0].TargetIdentifier.Value) != val(b1.Identifier.Value) {
		t.Fatalf("relatesTo = %+v, want replaces %s", c.RelatesTo, val(b1.Identifier.Value))
	}
	if val(c.Identifier.Value) != val(composition(t, b1).Identifier.Value) {
		t.Error("versions of one entry do not share the set id")
	}
	if val(b.Identifier.Value) == val(b1.Identifier.Value) || b.Id == b1.Id || b.Entry[0].FullUrl == b1.Entry[0].FullUrl {
		t.Error("the amendment reuses the first version's ids")
	}
	if a := val(only[*Provenance](t, b).Activity.Coding[0].Code); a != "UPDATE" {
		t.Errorf("activity %q", a)
	}
	s := mustInspect(t, b)
	if s.Version != 2 || s.Replaces != strings.TrimPrefix(val(b1.Identifier.Value), "urn:oid:") || s.Status != "amended" {
		t.Errorf("Inspect = %+v", s)
	}
}

func TestBuildEnteredInError(t *testing.T) {
	e := entry(documents.RolePsychologist, "2016-05-05")
	e.Revision, e.Status = 3, documents.StatusEnteredInError
	d := decide(t, e, history{e.ID: 2})
	if d.Outcome != documents.OutcomeInvalidate {
		t.Fatalf("outcome %s", d.Outcome)
	}
	b, _ := build(t, e, d)
	c := composition(t, b)
	if c.Status.Code() != "entered-in-error" {
		t.Errorf("status %q", c.Status)
	}
	if len(c.RelatesTo) != 1 || val(c.RelatesTo[0].TargetIdentifier.Value) != "urn:oid:"+documents.DocumentID(testOrg.DocumentRoot, e.ID, 2) {
		t.Errorf("relatesTo = %+v", c.RelatesTo)
	}
	if a := val(only[*Provenance](t, b).Activity.Coding[0].Code); a != "NULLIFY" {
		t.Errorf("activity %q", a)
	}
	if s := mustInspect(t, b); s.Status != "entered-in-error" || s.Version != 3 {
		t.Errorf("Inspect = %+v", s)
	}

	// Without finalized_at the encounter start stands in, so the output
	// stays deterministic.
	e.FinalizedAt = time.Time{}
	b, _ = build(t, e, decide(t, e, history{e.ID: 2}))
	if val(b.Timestamp) != "2026-11-20T09:00:00+02:00" || only[*Provenance](t, b).Recorded != val(b.Timestamp) {
		t.Errorf("timestamp %q without finalized_at", val(b.Timestamp))
	}

	// A first revision cannot be an invalidation: it would reuse the id of
	// the document it is meant to invalidate.
	first := entry(documents.RolePsychologist, "2016-05-05")
	first.Status = documents.StatusEnteredInError
	if _, err := Build(first, documents.Decision{Outcome: documents.OutcomeInvalidate, Archive: documents.ArchivePatient, Confidentiality: "5"}, testOrg, Options{}); err == nil {
		t.Error("entered-in-error revision 1 was accepted")
	}
}

func TestBuildOutsourced(t *testing.T) {
	e := entry(documents.RolePsychologist, "2016-05-05")
	e.Service.ProviderOID = "1.2.246.10.1234567.19.1"
	b, _ := build(t, e, decide(t, e, nil))
	orgs := resources[*Organization](b)
	if len(orgs) != 3 {
		t.Fatalf("%d organizations, want organiser, provider, unit", len(orgs))
	}
	c := composition(t, b)
	custodian := resolve(t, b, c.Custodian).(*Organization)
	if val(custodian.Identifier[0].Value) != "urn:oid:"+testOrg.OID {
		t.Errorf("custodian is %+v, want the organiser (the register keeper)", custodian.Identifier)
	}
	role := resolve(t, b, &c.Author[0]).(*PractitionerRole)
	provider := resolve(t, b, role.Organization).(*Organization)
	if val(provider.Identifier[0].Value) != "urn:oid:1.2.246.10.1234567.19.1" {
		t.Errorf("author's organization = %+v", provider.Identifier)
	}
	unit := resolve(t, b, only[*Encounter](t, b).ServiceProvider).(*Organization)
	if resolve(t, b, unit.PartOf) != Resource(provider) {
		t.Error("the unit is not part of the provider")
	}
	if agent := only[*Provenance](t, b).Agent[0]; agent.OnBehalfOf == nil || resolve(t, b, agent.OnBehalfOf) != Resource(custodian) {
		t.Errorf("provenance agent = %+v, want on behalf of the organiser", agent)
	}
}

func TestNarrativeEscaping(t *testing.T) {
	text := "Oppilas sanoi: \"<script>alert('x')</script>\" & lähti.\r\n" +
		"Toinen rivi 😀 åäö ÅÄÖ, sámegiella: čđŋšŧž ÁČĐŊŠŦŽ\n\n\n" +
		"Uusi kappale\twith tab\rja CR-rivi"
	e := entry(documents.RolePsychologist, "2016-05-05")
	e.Text.Narrative = text
	e.Text.Title = `Otsikko <b> & "lainaus"`
	b, raw := build(t, e, decide(t, e, nil))
	div := composition(t, b).Section[0].Text.Div
	want := `<div xmlns="http://www.w3.org/1999/xhtml">` +
		`<p>Oppilas sanoi: &quot;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&quot; &amp; lähti.<br/>` +
		`Toinen rivi 😀 åäö ÅÄÖ, sámegiella: čđŋšŧž ÁČĐŊŠŦŽ</p>` +
		"<p>Uusi kappale\twith tab<br/>ja CR-rivi</p></div>"
	if div != want {
		t.Fatalf("div =\n%s\nwant\n%s", div, want)
	}
	// The div is well-formed XML in the XHTML namespace and its text is
	// the narrative's, character for character.
	dec := xml.NewDecoder(strings.NewReader(div))
	var chars strings.Builder
	var root xml.Name
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("div is not well-formed XML: %v", err)
		}
		switch x := tok.(type) {
		case xml.StartElement:
			if root.Local == "" {
				root = x.Name
			}
			if x.Name.Local == "br" {
				chars.WriteString("\n")
			}
		case xml.CharData:
			chars.Write(x)
		}
	}
	if root.Space != "http://www.w3.org/1999/xhtml" || root.Local != "div" {
		t.Errorf("root element %v", root)
	}
	wantChars := "Oppilas sanoi: \"<script>alert('x')</script>\" & lähti.\nToinen rivi 😀 åäö ÅÄÖ, sámegiella: čđŋšŧž ÁČĐŊŠŦŽ" +
		"Uusi kappale\twith tab\nja CR-rivi"
	if chars.String() != wantChars {
		t.Errorf("text content =\n%q\nwant\n%q", chars.String(), wantChars)
	}
	// Go's HTML escaping is off: the JSON carries the markup literally.
	if !strings.Contains(string(raw), `"div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>`) || strings.Contains(string(raw), `\u003c`) {
		t.Error("narrative is not encoded as literal XHTML in the JSON")
	}
	if composition(t, b).Title != `Otsikko <b> & "lainaus"` {
		t.Error("title changed")
	}
}

func TestInvalidXMLCharacterRefused(t *testing.T) {
	cases := map[string]string{
		"bell":            "Teksti \x07 tässä",
		"form feed":       "sivu\x0cvaihto",
		"nul":             "a\x00b",
		"invalid UTF-8":   "bad \xff byte",
		"noncharacter":    "x\uFFFEy",
		"lone surrogate":  "x\xed\xa0\x80y",
		"escape sequence": "\x1b[31mred",
	}
	for name, narrative := range cases {
		t.Run(name, func(t *testing.T) {
			e := entry(documents.RolePsychologist, "2016-05-05")
			e.Text.Narrative = "Salainen sisältö " + narrative
			_, err := Build(e, decide(t, e, nil), testOrg, Options{})
			var ice *InvalidCharError
			if !errors.As(err, &ice) || ice.Field != "text.narrative" {
				t.Fatalf("err = %v, want InvalidCharError on text.narrative", err)
			}
			if strings.Contains(err.Error(), "Salainen") || strings.Contains(err.Error(), e.Client.Hetu) {
				t.Errorf("error leaks entry content: %v", err)
			}
		})
	}
	t.Run("title", func(t *testing.T) {
		e := entry(documents.RolePsychologist, "2016-05-05")
		e.Text.Title = "Otsikko\x01"
		_, err := Build(e, decide(t, e, nil), testOrg, Options{})
		var ice *InvalidCharError
		if !errors.As(err, &ice) || ice.Field != "text.title" || ice.Rune != 1 || ice.Offset != 7 {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("empty narrative", func(t *testing.T) {
		e := entry(documents.RolePsychologist, "2016-05-05")
		e.Text.Narrative = " \n\n \r\n"
		if _, err := Build(e, decide(t, e, nil), testOrg, Options{}); err == nil {
			t.Fatal("empty narrative accepted")
		}
	})
}

func TestBuildRefusesDecisionsWithoutDocument(t *testing.T) {
	e := entry(documents.RolePsychologist, "2016-05-05")
	d := decide(t, e, nil)
	for _, o := range []documents.Outcome{documents.OutcomeReject, documents.OutcomeSkip} {
		d.Outcome = o
		if _, err := Build(e, d, testOrg, Options{}); err == nil {
			t.Errorf("outcome %s built a document", o)
		}
	}
	d = decide(t, e, nil)
	other := testOrg
	other.OID = "1.2.246.10.9999999.19.1"
	if _, err := Build(e, d, other, Options{}); err == nil {
		t.Error("entry of another organiser accepted")
	}
	draft := *e
	draft.Status = documents.StatusDraft
	if _, err := Build(&draft, d, testOrg, Options{}); err == nil {
		t.Error("draft built a document")
	}
}

func TestCodeOverrides(t *testing.T) {
	e := entry(documents.RolePsychologist, "2016-05-05")
	e.MyKanta = documents.MyKanta{Display: documents.DisplayHidden, ReasonCode: "1"}
	d := decide(t, e, nil)
	b, err := Build(e, d, testOrg, Options{Codes: map[string]string{
		CodeConcealed:            "X-HIDDEN",
		CodeHealthType:           "11",
		"cda.something.else":     "ignored: another builder's key",
		CodeEncounterClassVisit:  "HH",
		CodeEncounterClassSystem: "http://terminology.hl7.org/CodeSystem/v3-ActCode",
	}})
	if err != nil {
		t.Fatal(err)
	}
	checkBundleJSON(t, mustMarshal(t, b))
	c := composition(t, b)
	if !hasSecurity(c.Meta, "http://terminology.hl7.org/CodeSystem/v3-ActCode", "X-HIDDEN") || val(c.Type.Coding[0].Code) != "11" {
		t.Errorf("overrides not applied: %+v %+v", c.Meta, c.Type)
	}
	if val(only[*Encounter](t, b).Class.Code) != "HH" {
		t.Error("encounter class override not applied")
	}
	if _, err := Build(e, d, testOrg, Options{Codes: map[string]string{"fhir.no.such.code": "1"}}); err == nil {
		t.Error("unknown fhir code name accepted")
	}
	if _, err := Build(e, d, testOrg, Options{Codes: map[string]string{CodeConcealed: ""}}); err == nil {
		t.Error("empty override accepted")
	}
	overrides := map[string]string{CodeConcealed: "X-HIDDEN"}
	if s, err := InspectWith(b, overrides); err != nil || !s.Concealed {
		t.Errorf("InspectWith = %+v, %v", s, err)
	}
	if s := mustInspect(t, b); s.Concealed {
		t.Error("Inspect with the default table read the overridden label as concealment")
	}
	// The defaults are untouched by overrides.
	if DefaultCodes()[CodeConcealed] != "NOPAT" {
		t.Error("override leaked into the default table")
	}
}

func hasSecurity(m *Meta, system, code string) bool {
	if m == nil {
		return false
	}
	for _, s := range m.Security {
		if val(s.System) == system && val(s.Code) == code {
			return true
		}
	}
	return false
}

func extension(xs []Extension, url string) *Extension {
	for i := range xs {
		if xs[i].Url == url {
			return &xs[i]
		}
	}
	return nil
}

package cda_test

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/documents/cda"
)

var helsinki = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Helsinki")
	if err != nil {
		panic(err)
	}
	return loc
}()

var org = documents.Organisation{OID: "1.2.246.10.2012566.10.0", Name: "Helsingin kaupunki", DocumentRoot: "1.2.246.10.2012566"}

// testHetu builds a valid test identity code (individual number 9xx).
func testHetu(ddmmyy string, century byte, individual string) string {
	s := ddmmyy + string(century) + individual
	return s + string(documents.HetuCheckChar(s))
}

func policy() *documents.Policy {
	return &documents.Policy{
		Environment:          documents.EnvironmentTest,
		Location:             helsinki,
		GuardianAgeThreshold: 12,
		AdultAge:             18,
		Roles:                documents.DefaultRoles(),
	}
}

type history map[string]int

func (h history) LatestAccepted(id string) (int, bool) { r, ok := h[id]; return r, ok }

// healthEntry is a psychologist's entry about a 9-year-old (guardian sees it).
func healthEntry() *documents.Entry {
	return &documents.Entry{
		ID:          "apotti-psy-0001",
		Revision:    1,
		Status:      documents.StatusFinal,
		FinalizedAt: time.Date(2026, 3, 10, 12, 30, 0, 0, time.UTC),
		Author: documents.Author{
			Role: documents.RolePsychologist, RegistrationNumber: "10100123456",
			Given: "Pirjo Anneli", Family: "Psykologi",
		},
		Client: documents.Client{
			Hetu: testHetu("050516", 'A', "912"), Given: "Aino", Family: "Testinen",
			BirthDate: documents.MustDate("2016-05-05"), HomeMunicipality: "091",
		},
		Service: documents.Service{
			Kind: documents.ServiceSchoolPsychology, UnitOID: "1.2.246.10.2012566.10.4711",
			UnitName: "Koulupsykologipalvelut, Itäinen alue", OrganiserOID: "1.2.246.10.2012566.10.0",
		},
		Encounter: documents.Encounter{
			ID: "ENC-2026-0042", Type: documents.EncounterVisit,
			Start: time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC), End: time.Date(2026, 3, 10, 10, 0, 0, 0, time.UTC),
		},
		Text: documents.Text{
			Title:     "Psykologin käynti",
			Narrative: "Tapaaminen koululla.\nKeskusteltiin koulunkäynnistä.\n\nSovittiin seurantakäynti.",
			Language:  "fi",
		},
		MyKanta:  documents.MyKanta{Display: documents.DisplayVisible},
		Guardian: documents.Guardian{MinorConsent: documents.ConsentNotAssessed},
	}
}

// socialEntry is a school welfare officer's entry of an open client relationship.
func socialEntry() *documents.Entry {
	e := healthEntry()
	e.ID = "apotti-kur-0001"
	e.FinalizedAt = time.Date(2026, 9, 3, 11, 15, 0, 0, time.UTC)
	e.Author = documents.Author{Role: documents.RoleSchoolWelfareOfficer, RegistrationNumber: "20200123456", Given: "Kalle", Family: "Kuraattori"}
	e.Service.Kind = documents.ServiceSchoolSocialWork
	e.Service.UnitOID = "1.2.246.10.2012566.10.4712"
	e.Service.UnitName = "Koulukuraattoripalvelut, Itäinen alue"
	e.Encounter.ID = "ENC-2026-0099"
	e.Encounter.Start = time.Date(2026, 9, 3, 8, 0, 0, 0, time.UTC)
	e.Encounter.End = time.Date(2026, 9, 3, 8, 45, 0, 0, time.UTC)
	e.ClientRelationship = &documents.ClientRelationship{ID: "CR-2026-0007", Opened: documents.MustDate("2026-08-20")}
	e.Text.Title = "Kuraattorin tapaaminen"
	e.Text.Narrative = "Oppilas tuli tapaamiseen.\nTilanne kartoitettiin."
	return e
}

// minor makes the client 13 years old (consent decides guardian visibility).
func minor(e *documents.Entry, consent documents.Consent) *documents.Entry {
	e.Client.Hetu = testHetu("010113", 'A', "934")
	e.Client.BirthDate = documents.MustDate("2013-01-01")
	e.Guardian = documents.Guardian{MinorConsent: consent, MaturityAssessed: true}
	return e
}

func decide(t testing.TB, e *documents.Entry, h documents.History) documents.Decision {
	t.Helper()
	d := policy().Decide(e, time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC), h)
	if d.Outcome != documents.OutcomeSubmit && d.Outcome != documents.OutcomeInvalidate {
		t.Fatalf("fixture %s: policy says %s (%s)", e.Key(), d.Outcome, d.Reason)
	}
	return d
}

type testCase struct {
	name string
	e    *documents.Entry
	h    documents.History
}

// cases are the golden documents: every kind the gateway produces.
func cases() []testCase {
	correction := healthEntry()
	correction.Revision = 2
	correction.Status = documents.StatusAmended
	correction.Amends = &documents.Amends{Revision: 1, Reason: "correction"}
	correction.Text.Narrative += "\nKorjattu päivämäärä."

	delayed := healthEntry()
	delayed.MyKanta = documents.MyKanta{Display: documents.DisplayDelayed, ReleaseDate: documents.MustDate("2026-04-15"), ReasonCode: "2", ReasonText: "Tulokset käydään ensin läpi vastaanotolla."}

	concealed := socialEntry()
	concealed.MyKanta = documents.MyKanta{Display: documents.DisplayHidden, ReasonCode: "1", ReasonText: "Näyttäminen vaarantaisi asiakkaan turvallisuuden."}

	socialDelayed := socialEntry()
	socialDelayed.MyKanta = documents.MyKanta{Display: documents.DisplayDelayed, ReleaseDate: documents.MustDate("2026-10-01"), ReasonCode: "2", ReasonText: "Asia käsitellään ensin tapaamisessa."}

	outsourced := socialEntry()
	outsourced.Service.ProviderOID = "1.2.246.10.99999901.10.0"

	eie := healthEntry()
	eie.Revision = 2
	eie.Status = documents.StatusEnteredInError
	eie.Amends = &documents.Amends{Revision: 1, Reason: "entered in error"}

	socialEIE := socialEntry()
	socialEIE.Revision = 2
	socialEIE.Status = documents.StatusEnteredInError
	socialEIE.Amends = &documents.Amends{Revision: 1, Reason: "entered in error"}

	return []testCase{
		{"health_new", healthEntry(), nil},
		{"health_correction", correction, nil},
		{"health_delayed", delayed, nil},
		{"health_minor_consent", minor(healthEntry(), documents.ConsentGranted), nil},
		{"health_minor_no_consent", minor(healthEntry(), documents.ConsentRefused), nil},
		{"health_entered_in_error", eie, history{"apotti-psy-0001": 1}},
		{"social", socialEntry(), nil},
		{"social_concealed", concealed, nil},
		{"social_delayed", socialDelayed, nil},
		{"social_minor_no_consent", minor(socialEntry(), documents.ConsentRefused), nil},
		{"social_outsourced", outsourced, nil},
		{"social_entered_in_error", socialEIE, history{"apotti-kur-0001": 1}},
	}
}

func build(t testing.TB, c testCase) *cda.Document {
	t.Helper()
	doc, err := cda.Build(c.e, decide(t, c.e, c.h), org, cda.Options{})
	if err != nil {
		t.Fatalf("%s: Build: %v", c.name, err)
	}
	return doc
}

func bytesOf(t testing.TB, d *cda.Document) []byte {
	t.Helper()
	b, err := d.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func narrative4K() string {
	var sb strings.Builder
	line := "Oppilas kertoi koulupäivästä, kavereista ja kotitilanteesta <ei huolta> & jatkosta sovittiin.\n"
	for sb.Len() < 4096 {
		sb.WriteString(line)
	}
	s := sb.String()[:4096]
	for !utf8.ValidString(s) { // do not cut a character in two
		s = s[:len(s)-1]
	}
	return s
}

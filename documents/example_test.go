package documents_test

import (
	"fmt"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
)

// The policy decides per entry revision and per moment: a school welfare
// officer's entry is held until the social welfare go-live, and is due from
// then on.
func ExamplePolicy_Decide() {
	helsinki, err := time.LoadLocation("Europe/Helsinki")
	if err != nil {
		fmt.Println(err)
		return
	}
	p := &documents.Policy{Environment: documents.EnvironmentTest, Location: helsinki,
		GuardianAgeThreshold: 12, AdultAge: 18, Roles: documents.DefaultRoles()}
	e := &documents.Entry{
		ID: "APT-KUR-1", Revision: 1, Status: documents.StatusFinal,
		FinalizedAt: time.Date(2026, 5, 12, 14, 0, 0, 0, helsinki),
		Author:      documents.Author{Role: documents.RoleSchoolWelfareOfficer, RegistrationNumber: "200000002", Given: "Kaisa", Family: "Kuraattori"},
		Client:      documents.Client{Hetu: "010114A919P", Given: "Testi", Family: "Oppilas", BirthDate: documents.MustDate("2014-01-01")},
		Service: documents.Service{Kind: documents.ServiceSchoolSocialWork, UnitOID: "1.2.246.10.2012566.10.2001",
			UnitName: "Vallilan koulun kuraattoripalvelut", OrganiserOID: "1.2.246.10.2012566.19.1"},
		Encounter:          documents.Encounter{ID: "ENC-1", Type: documents.EncounterVisit, Start: time.Date(2026, 5, 12, 13, 0, 0, 0, helsinki)},
		ClientRelationship: &documents.ClientRelationship{ID: "ASK-1", Opened: documents.MustDate("2025-08-15")},
		Text:               documents.Text{Title: "Kuraattorin tapaaminen", Narrative: "Keskustelu koulunkäynnistä.", Language: "fi"},
		MyKanta:            documents.MyKanta{Display: documents.DisplayVisible},
		Guardian:           documents.Guardian{MinorConsent: documents.ConsentNotAssessed},
	}
	for _, now := range []time.Time{
		time.Date(2026, 8, 31, 12, 0, 0, 0, helsinki),
		time.Date(2026, 9, 1, 8, 0, 0, 0, helsinki),
	} {
		d := p.Decide(e, now, documents.NoHistory{})
		fmt.Printf("%s: %s to the %s archive (%s), not before %s, reason class %s\n",
			now.Format("2006-01-02"), d.Outcome, d.Archive, d.Register, d.NotBefore.Format(time.RFC3339), d.ReasonClass)
	}
	// Output:
	// 2026-08-31: hold to the social archive (social_welfare_client), not before 2026-09-01T00:00:00+03:00, reason class not_yet_due
	// 2026-09-01: submit to the social archive (social_welfare_client), not before 2026-09-01T00:00:00+03:00, reason class due
}

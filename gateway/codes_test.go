package gateway

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/config"
	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/fixtures/pki"
)

func TestCodeTableShowsEffectiveValues(t *testing.T) {
	rows, err := CodeTable(map[string]string{"health.view.psychology": "123", "fhir.concealed.code": "X", "frame.correction_reason": "1", "record_status.ready": "3"})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]CodeRow{}
	for _, r := range rows {
		if _, dup := byName[r.Name]; dup {
			t.Fatalf("%s listed twice", r.Name)
		}
		byName[r.Name] = r
	}
	for name, want := range map[string]string{
		"health.view.psychology": "123", "fhir.concealed.code": "X", "frame.correction_reason": "1",
		"health.document_type": "1", "health.guardian_disclosure.consent_refused": "3",
		"fhir.extension.restriction_parent": "https://hl7.fi/fhir/finnish-base-profiles/StructureDefinition/RestrictionParent",
	} {
		if byName[name].Value != want {
			t.Errorf("%s = %q, want %q", name, byName[name].Value, want)
		}
	}
	if r := byName["health.view.psychology"]; !r.Set || r.Confirmed {
		t.Errorf("view row %+v: set by configuration, unconfirmed", r)
	}
	if r := byName["health.document_type"]; r.Set || !r.Confirmed {
		t.Errorf("document type row %+v", r)
	}
}

// An unknown name is an error naming it, whatever its prefix.
func TestUnknownCodeNameIsAnError(t *testing.T) {
	for _, name := range []string{"health.view.psycology", "fhir.nope", "frame.nope", "gendr", "health.guardian_restriction.minor_refused"} {
		_, err := CodeTable(map[string]string{name: "1"})
		if err == nil || !strings.Contains(err.Error(), `"`+name+`"`) {
			t.Errorf("%s: %v", name, err)
		}
		if err := checkCodeNames(map[string]string{name: "1"}); err == nil {
			t.Errorf("%s accepted at start", name)
		}
	}
}

func TestUnconfirmedCodesInUseAreWarned(t *testing.T) {
	cfg := config.Default()
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	if err := WarnUnconfirmedCodes(log, &cfg); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, name := range []string{"health.view.psychology", "health.profession.psychologist", "health.guardian_disclosure.professional_prohibited"} {
		if !strings.Contains(out, "code_name="+name+" ") {
			t.Errorf("no warning for %s:\n%s", name, out)
		}
	}
	if strings.Contains(out, "code_name=health.document_type ") || strings.Contains(out, "code_name=fhir.") {
		t.Errorf("confirmed code or unused route warned:\n%s", out)
	}
	// Set by the operator: no longer warned. FHIR route: its codes are.
	cfg.Documents.Codes = map[string]string{"health.view.psychology": "123"}
	cfg.Documents.Route[documents.ArchivePatient] = "fhir"
	buf.Reset()
	if err := WarnUnconfirmedCodes(log, &cfg); err != nil {
		t.Fatal(err)
	}
	out = buf.String()
	if strings.Contains(out, "code_name=health.view.psychology ") || !strings.Contains(out, "code_name=fhir.health.type.code ") {
		t.Errorf("after override and route change:\n%s", out)
	}
	if strings.Contains(out, "code_name=health.profession.psychologist ") {
		t.Errorf("a CDA code warned for a FHIR-only archive:\n%s", out)
	}
}

// documents.invalidation reaches the health builder: Kela's recordStatus 7
// by default, the marker when configured.
func TestInvalidationStyleFromConfiguration(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	cfg := config.Default()
	paths, err := pki.Generate(t.TempDir(), []pki.Organiser{{OID: cfg.Organisations[0].OID, Name: cfg.Organisations[0].Name}}, "pw", now)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Organisations[0].PKCS12, cfg.Organisations[0].PKCS12Password = paths.Signing[cfg.Organisations[0].OID].P12, "pw"
	e := &documents.Entry{
		ID: "INV-1", Revision: 2, Status: documents.StatusEnteredInError,
		Amends:      &documents.Amends{Revision: 1, Reason: "virhe"},
		FinalizedAt: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC),
		Author:      documents.Author{Role: documents.RolePsychologist, RegistrationNumber: "100000001", Given: "Pirjo", Family: "Psykologi"},
		Client:      documents.Client{Hetu: "010114A921S", Given: "Testi", Family: "Oppilas", BirthDate: documents.MustDate("2014-01-01")},
		Service: documents.Service{Kind: documents.ServiceSchoolPsychology, UnitOID: "1.2.246.10.2012566.10.1001",
			UnitName: "Kallion koulu", OrganiserOID: cfg.Organisations[0].OID},
		Encounter: documents.Encounter{ID: "ENC-1", Type: documents.EncounterVisit, Start: time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)},
		Text:      documents.Text{Title: "Käynti", Narrative: "Tapaaminen.", Language: "fi"},
	}
	for style, want := range map[string]string{config.InvalidationKela: `<hl7fi:recordStatus code="7"`, config.InvalidationMarker: `<hl7fi:description>mitätöity</hl7fi:description>`} {
		cfg.Documents.Invalidation[documents.ArchivePatient] = style
		b, err := NewBuilder(&cfg, now)
		if err != nil {
			t.Fatal(err)
		}
		d := cfg.PolicyEngine().Decide(e, now, historyOf{"INV-1": 1})
		built, err := b.Build(e, d, now)
		if err != nil || len(built) != 1 {
			t.Fatalf("%s: %v", style, err)
		}
		if !bytes.Contains(built[0].CDA, []byte(want)) {
			t.Errorf("%s: document lacks %s", style, want)
		}
	}
}

type historyOf map[string]int

func (h historyOf) LatestAccepted(id string) (int, bool) { r, ok := h[id]; return r, ok }

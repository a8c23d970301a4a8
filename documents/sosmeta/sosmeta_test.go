package sosmeta_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/helsinki-student-welfare/kanta-gateway/documents/sosmeta"
)

func meeting() sosmeta.ClientRecordEntry {
	return sosmeta.ClientRecordEntry{
		Clients: []sosmeta.Person{{Family: "Testinen", Given: "Aino", Hetu: &sosmeta.Identifier{System: sosmeta.SystemHetu, Value: "050516A912K"}}},
		Entry: sosmeta.RecordEntry{
			ServiceTask: sosmeta.Coding{System: sosmeta.SystemServiceTask, Code: "13", Display: "Opiskeluhuollon kuraattoripalvelut"},
			Event: &sosmeta.Event{
				Period:      &sosmeta.Period{Start: "2026-09-03T11:00:00+03:00", End: "2026-09-03T11:45:00+03:00"},
				Description: "Oppilas tuli tapaamiseen.",
			},
		},
		Date:   "2026-09-03",
		Author: sosmeta.EntryAuthor{Family: "Kuraattori", Given: "Kalle", Title: "koulukuraattori", Unit: &sosmeta.Coding{System: sosmeta.SystemServiceUnit, Code: "1.2.246.10.2012566.10.4712", Display: "Koulukuraattoripalvelut"}},
	}
}

func TestEntryContentValidates(t *testing.T) {
	for _, code := range sosmeta.EntryTypeCodes() {
		typ, _ := sosmeta.EntryTypeOf(code)
		raw, err := typ.Marshal(meeting())
		if err != nil {
			t.Fatalf("%s: %v", code, err)
		}
		var v map[string]map[string]any
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatal(err)
		}
		if _, ok := v[typ.Root]["laatija"]; !ok || len(v) != 1 {
			t.Errorf("%s: root %v", code, v)
		}
	}
}

// A failing field is named by its JSON path; the value is never in the error.
func TestEntryContentErrorsNamePath(t *testing.T) {
	typ, ok := sosmeta.EntryTypeOf("19005")
	if !ok {
		t.Fatal("19005 unknown")
	}
	c := meeting()
	c.Clients[0].Given = ""
	_, err := typ.Marshal(c)
	var se *sosmeta.Error
	if !errors.As(err, &se) {
		t.Fatalf("got %v", err)
	}
	if se.Path != "/merkinta_tapaamisesta_tai_yhteydenotosta/asiakas/0/etunimet" || !strings.Contains(se.Problem, "shorter") {
		t.Errorf("%+v", se)
	}

	c = meeting()
	c.Entry.Event.Period.Start = "3.9.2026 klo 11"
	_, err = typ.Marshal(c)
	if !errors.As(err, &se) || se.Path != "/merkinta_tapaamisesta_tai_yhteydenotosta/asiakaskertomusmerkinta/tapahtuma/ajanjakso/alkamishetki" {
		t.Fatalf("pattern: %v", err)
	}
	if strings.Contains(err.Error(), "klo 11") {
		t.Errorf("error carries the value: %v", err)
	}

	// 19013 has no place of the event: a field the structure lacks fails.
	other, _ := sosmeta.EntryTypeOf("19013")
	c = meeting()
	c.Entry.Event.Place = "koulu"
	_, err = other.Marshal(c)
	if !errors.As(err, &se) || se.Path != "/muu_asiakaskertomusmerkinta/asiakaskertomusmerkinta/tapahtuma/paikka" || !strings.Contains(se.Problem, "not part") {
		t.Fatalf("additional: %v", err)
	}

	c = meeting()
	c.Entry.ServiceTask.System = "urn:oid:1.2.246.537.6.1201"
	if _, err = typ.Marshal(c); !errors.As(err, &se) || se.Path != "/merkinta_tapaamisesta_tai_yhteydenotosta/asiakaskertomusmerkinta/palvelutehtava/system" {
		t.Fatalf("service task system: %v", err)
	}
}

func TestValidateRefusesUnknownAndMalformed(t *testing.T) {
	if err := sosmeta.Validate("1.2.3", []byte(`{}`)); err == nil {
		t.Error("unknown structure accepted")
	}
	if err := sosmeta.Validate(sosmeta.MeetingOrContact, []byte(`{"merkinta`)); err == nil {
		t.Error("malformed JSON accepted")
	}
	err := sosmeta.Validate(sosmeta.MeetingOrContact, []byte(`{}`))
	var se *sosmeta.Error
	if !errors.As(err, &se) || se.Path != "/merkinta_tapaamisesta_tai_yhteydenotosta" {
		t.Errorf("empty object: %v", err)
	}
}

func relationship() sosmeta.ClientRelationshipContent {
	return sosmeta.ClientRelationshipContent{
		ID:            &sosmeta.Identifier{System: sosmeta.SystemRelationshipID, Value: "1.2.246.10.2012566.10.6.1"},
		Client:        sosmeta.RelationshipClient{Family: "Testinen", Given: "Aino", Hetu: &sosmeta.Identifier{System: sosmeta.SystemHetu, Value: "050516A912K"}, BirthDate: "2016-05-05"},
		Relationship:  &sosmeta.RelationshipPeriod{Opened: "2026-08-20", Closed: "2026-12-01"},
		OrganiserUnit: &sosmeta.Coding{System: sosmeta.SystemServiceUnit, Code: "1.2.246.10.2012566.10.0", Display: "Helsingin kaupunki"},
		ResponsibleWorkers: []sosmeta.ResponsibleWorker{{Family: "Kuraattori", Given: "Kalle",
			Registration: &sosmeta.Identifier{System: sosmeta.SystemRegistration, Value: "20200123456"}}},
		ServiceTasks: []sosmeta.RelationshipServiceTask{{
			ServiceTask: sosmeta.Coding{System: sosmeta.SystemServiceTask, Code: "13", Display: "x"},
			Units:       []sosmeta.RelationshipUnit{{Name: sosmeta.Coding{System: sosmeta.SystemServiceUnit, Code: "1.2.246.10.2012566.10.4712", Display: "y"}, Opened: "2026-08-20"}},
		}},
	}
}

func TestClientRelationshipContent(t *testing.T) {
	raw, err := sosmeta.MarshalClientRelationship(relationship())
	if err != nil {
		t.Fatal(err)
	}
	// turvakielto is required: false is written, not omitted.
	if !strings.Contains(string(raw), `"turvakielto":false`) {
		t.Errorf("%s", raw)
	}
	c := relationship()
	c.Relationship.Opened = ""
	_, err = sosmeta.MarshalClientRelationship(c)
	var se *sosmeta.Error
	if !errors.As(err, &se) || se.Path != "/asiakkuusasiakirja/sosiaalihuollon_asiakkuus/asiakkuuden_alkamispvm" {
		t.Fatalf("opened missing: %v", err)
	}
	// The raw schema, without the builder, requires turvakielto.
	err = sosmeta.Validate(sosmeta.ClientRelationship, []byte(`{"asiakkuusasiakirja":{"asiakas":{"sukunimi":"A","etunimet":"B"}}}`))
	if !errors.As(err, &se) || se.Path != "/asiakkuusasiakirja/asiakas/turvakielto" || se.Problem != "required field is missing" {
		t.Fatalf("turvakielto: %v", err)
	}
}

func TestIDs(t *testing.T) {
	want := []string{sosmeta.ClientRelationship, sosmeta.GuidanceAndCounselling, sosmeta.MeetingOrContact, sosmeta.OtherClientRecordEntry}
	if got := strings.Join(sosmeta.IDs(), " "); got != strings.Join(want, " ") {
		t.Errorf("%s", got)
	}
}

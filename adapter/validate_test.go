package adapter_test

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/adapter"
	"github.com/helsinki-student-welfare/kanta-gateway/config"
	"github.com/helsinki-student-welfare/kanta-gateway/documents"
)

// psychologyLine is the contract's example line.
const psychologyLine = `{"entry_id":"APT-PSY-000001","revision":1,"status":"final","finalized_at":"2026-11-20T10:15:00+02:00","author":{"role":"psychologist","registration_number":"100000001","given":"Pirjo","family":"Psykologi"},"client":{"hetu":"010114A921S","given":"Testi","family":"Oppilas","birth_date":"2014-01-01","home_municipality":"091"},"service":{"kind":"school_psychology","unit_oid":"1.2.246.10.2012566.10.1001","unit_name":"Kallion koulun oppilashuolto","organiser_oid":"1.2.246.10.2012566.19.1"},"encounter":{"id":"ENC-1","type":"visit","start":"2026-11-20T09:00:00+02:00","end":"2026-11-20T09:45:00+02:00"},"text":{"title":"Psykologin käynti","narrative":"Tapaaminen oppilaan kanssa.","language":"fi"}}`

// socialWorkLine is a school social worker's entry with every optional
// field set.
const socialWorkLine = `{"entry_id":"APT-SOC-000002","revision":2,"status":"amended","finalized_at":"2026-11-21T14:00:00Z","author":{"role":"school_welfare_officer","registration_number":"200000002","given":"Áilu","family":"Ŋuolja"},"client":{"hetu":"150809A9558","given":"Åsa","family":"Öhman","birth_date":"2009-08-15"},"service":{"kind":"school_social_work","unit_oid":"1.2.246.10.2012566.10.1002","unit_name":"Brändö gymnasium","organiser_oid":"1.2.246.10.2012566.19.1","provider_oid":"1.2.246.10.2012566.19.77"},"encounter":{"id":"ENC-2","type":"phone","start":"2026-11-21T13:00:00Z"},"client_relationship":{"id":"ASK-9","opened":"2025-01-07","closed":null},"text":{"title":"Kuraattorin puhelu","narrative":"Eleven <sade> \"nej\" & \nmer.","language":"sv"},"restrictions":{"mykanta":{"display":"delayed","release_date":"2027-01-01","reason_code":"LA-2","reason_text":"Arvio kesken"},"guardian":{"minor_consent":"refused","maturity_assessed":true,"prohibited_by_professional":true}},"amends":{"revision":1,"reason":"Täydennys"}}`

// mutate applies edits to a copy of a line: a path maps to a new value, or
// to deleteField to remove it.
type deleteMarker struct{}

var deleteField = deleteMarker{}

func mutate(t testing.TB, line string, edits map[string]any) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatal(err)
	}
	for path, v := range edits {
		parts := strings.Split(path, ".")
		obj := m
		for _, p := range parts[:len(parts)-1] {
			next, ok := obj[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				obj[p] = next
			}
			obj = next
		}
		last := parts[len(parts)-1]
		if v == deleteField {
			delete(obj, last)
		} else {
			obj[last] = v
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// readAll reads every item of a batch given as a string.
func readAll(t testing.TB, batch string, opts adapter.Options) []adapter.Item {
	t.Helper()
	r := adapter.NewReader(strings.NewReader(batch), "batch.ndjson", opts)
	var items []adapter.Item
	for {
		it, err := r.Next()
		if err == io.EOF {
			return items
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		items = append(items, it)
	}
}

// parseOne reads a single line and requires exactly one item.
func parseOne(t testing.TB, line string) adapter.Item {
	t.Helper()
	items := readAll(t, line+"\n", adapter.Options{})
	if len(items) != 1 {
		t.Fatalf("got %d items, want 1", len(items))
	}
	it := items[0]
	if (it.Entry == nil) == (it.Rejection == nil) {
		t.Fatalf("item must carry exactly one of Entry and Rejection: %+v", it)
	}
	return it
}

// personalValues are the identity codes, names and text of a line: none of
// them may appear in a rejection's reason or error text.
func personalValues(line string) []string {
	var m struct {
		Author struct{ Given, Family any }
		Client struct{ Hetu, Given, Family any }
		Text   struct{ Title, Narrative any }
	}
	_ = json.Unmarshal([]byte(line), &m) // a malformed line leaves fields unset
	var out []string
	for _, v := range []any{m.Author.Given, m.Author.Family, m.Client.Hetu, m.Client.Given, m.Client.Family, m.Text.Title, m.Text.Narrative} {
		if s, ok := v.(string); ok && len(s) >= 3 {
			out = append(out, s)
		}
	}
	return out
}

func assertNoPersonalData(t testing.TB, line string, rej *adapter.Rejection) {
	t.Helper()
	for _, v := range append(personalValues(line), "010114A921S", "150809A9558", "Pirjo", "Testi", "Oppilas", "Áilu", "Åsa") {
		if strings.Contains(rej.Reason, v) || strings.Contains(rej.Error(), v) {
			t.Fatalf("rejection text contains personal data %q: %s", v, rej.Error())
		}
	}
}

func TestValidLinesConvert(t *testing.T) {
	it := parseOne(t, psychologyLine)
	if it.Rejection != nil {
		t.Fatalf("rejected: %v", it.Rejection)
	}
	e := it.Entry
	want := documents.Entry{
		ID: "APT-PSY-000001", Revision: 1, Status: documents.StatusFinal,
		FinalizedAt: time.Date(2026, 11, 20, 8, 15, 0, 0, time.UTC),
		Author:      documents.Author{Role: documents.RolePsychologist, RegistrationNumber: "100000001", Given: "Pirjo", Family: "Psykologi"},
		Client:      documents.Client{Hetu: "010114A921S", Given: "Testi", Family: "Oppilas", BirthDate: documents.MustDate("2014-01-01"), HomeMunicipality: "091"},
		Service:     documents.Service{Kind: documents.ServiceSchoolPsychology, UnitOID: "1.2.246.10.2012566.10.1001", UnitName: "Kallion koulun oppilashuolto", OrganiserOID: "1.2.246.10.2012566.19.1"},
		Encounter:   documents.Encounter{ID: "ENC-1", Type: documents.EncounterVisit, Start: time.Date(2026, 11, 20, 7, 0, 0, 0, time.UTC), End: time.Date(2026, 11, 20, 7, 45, 0, 0, time.UTC)},
		Text:        documents.Text{Title: "Psykologin käynti", Narrative: "Tapaaminen oppilaan kanssa.", Language: "fi"},
		MyKanta:     documents.MyKanta{Display: documents.DisplayVisible},
		Guardian:    documents.Guardian{MinorConsent: documents.ConsentNotAssessed},
	}
	if !e.FinalizedAt.Equal(want.FinalizedAt) || !e.Encounter.Start.Equal(want.Encounter.Start) || !e.Encounter.End.Equal(want.Encounter.End) {
		t.Fatalf("times: got %v %v %v", e.FinalizedAt, e.Encounter.Start, e.Encounter.End)
	}
	e.FinalizedAt, e.Encounter.Start, e.Encounter.End = want.FinalizedAt, want.Encounter.Start, want.Encounter.End
	if e.ClientRelationship != nil || e.Amends != nil {
		t.Fatalf("unexpected relationship or amends: %+v", e)
	}
	if *e != want {
		t.Fatalf("entry:\n got %+v\nwant %+v", *e, want)
	}

	it = parseOne(t, socialWorkLine)
	if it.Rejection != nil {
		t.Fatalf("rejected: %v", it.Rejection)
	}
	e = it.Entry
	if e.Status != documents.StatusAmended || e.Revision != 2 || e.Amends == nil || *e.Amends != (documents.Amends{Revision: 1, Reason: "Täydennys"}) {
		t.Fatalf("amendment: %+v %+v", e, e.Amends)
	}
	if e.ClientRelationship == nil || e.ClientRelationship.ID != "ASK-9" || e.ClientRelationship.Opened != documents.MustDate("2025-01-07") || e.ClientRelationship.Closed != nil {
		t.Fatalf("relationship: %+v", e.ClientRelationship)
	}
	if e.MyKanta != (documents.MyKanta{Display: documents.DisplayDelayed, ReleaseDate: documents.MustDate("2027-01-01"), ReasonCode: "LA-2", ReasonText: "Arvio kesken"}) {
		t.Fatalf("mykanta: %+v", e.MyKanta)
	}
	if e.Guardian != (documents.Guardian{MinorConsent: documents.ConsentRefused, MaturityAssessed: true, ProhibitedByProfessional: true}) {
		t.Fatalf("guardian: %+v", e.Guardian)
	}
	if e.Service.ProviderOID != "1.2.246.10.2012566.19.77" || !e.Service.Outsourced() {
		t.Fatalf("provider: %+v", e.Service)
	}
	if e.Text.Narrative != "Eleven <sade> \"nej\" & \nmer." || e.Text.Language != "sv" {
		t.Fatalf("text: %+v", e.Text)
	}
	if !e.Encounter.End.IsZero() {
		t.Fatalf("absent encounter.end must stay zero, got %v", e.Encounter.End)
	}

	// The optional fields of the updated contract.
	it = parseOne(t, mutate(t, socialWorkLine, map[string]any{
		"author.hetu": "010180-9026", "author.title": "koulukuraattori",
		"client.security_prohibition": true, "client_relationship.case_id": "ASIA-1",
	}))
	if it.Rejection != nil {
		t.Fatalf("rejected: %v", it.Rejection)
	}
	e = it.Entry
	if e.Author.Hetu != "010180-9026" || e.Author.Title != "koulukuraattori" || !e.Client.SecurityProhibition || e.ClientRelationship.CaseID != "ASIA-1" {
		t.Fatalf("optional fields: %+v %+v %+v", e.Author, e.Client, e.ClientRelationship)
	}
}

func TestTestIdentityCodesOfFixtures(t *testing.T) {
	// The fixtures' codes must be valid test codes, or every case below
	// would test the wrong thing.
	for _, c := range []string{"010114A921S", "150809A9558"} {
		if got := documents.HetuCheckChar(c[:10]); got != c[10] {
			t.Fatalf("%s: check char %c", c[:10], got)
		}
	}
}

// TestValidation covers every rule of the contract, accepted and rejected.
func TestValidation(t *testing.T) {
	long := func(n int, s string) string { return strings.Repeat(s, n) }
	hetu := func(first10 string) string { return first10 + string(documents.HetuCheckChar(first10)) }

	cases := []struct {
		name   string
		base   string
		edits  map[string]any
		field  string // "" with reason "" means accepted
		reason string
	}{
		// entry_id and revision
		{"entry_id missing", psychologyLine, map[string]any{"entry_id": deleteField}, "entry_id", "required"},
		{"entry_id empty", psychologyLine, map[string]any{"entry_id": ""}, "entry_id", "required"},
		{"entry_id null", psychologyLine, map[string]any{"entry_id": nil}, "entry_id", "required"},
		{"entry_id 128 chars", psychologyLine, map[string]any{"entry_id": long(128, "ä")}, "", ""},
		{"entry_id 129 chars", psychologyLine, map[string]any{"entry_id": long(129, "x")}, "entry_id", "longer than 128"},
		{"entry_id number", psychologyLine, map[string]any{"entry_id": 7}, "entry_id", "wrong JSON type"},
		{"revision missing", psychologyLine, map[string]any{"revision": deleteField}, "revision", ">= 1"},
		{"revision zero", psychologyLine, map[string]any{"revision": 0}, "revision", ">= 1"},
		{"revision null", psychologyLine, map[string]any{"revision": nil}, "revision", ">= 1"},
		{"revision string", psychologyLine, map[string]any{"revision": "1"}, "revision", "wrong JSON type"},
		{"revision fraction", psychologyLine, map[string]any{"revision": 1.5}, "revision", "wrong JSON type"},

		// status and finalized_at
		{"status unknown", psychologyLine, map[string]any{"status": "signed"}, "status", "unknown value"},
		{"status missing", psychologyLine, map[string]any{"status": deleteField}, "status", "required"},
		{"status amended at revision 1", psychologyLine, map[string]any{"status": "amended"}, "status", "revision > 1"},
		{"final without finalized_at", psychologyLine, map[string]any{"finalized_at": deleteField}, "finalized_at", "required when status is final"},
		{"amended without finalized_at", socialWorkLine, map[string]any{"finalized_at": nil}, "finalized_at", "required when status is amended"},
		{"draft without finalized_at", psychologyLine, map[string]any{"status": "draft", "finalized_at": deleteField}, "", ""},
		{"entered-in-error without finalized_at", psychologyLine, map[string]any{"status": "entered-in-error", "finalized_at": deleteField}, "", ""},
		{"finalized_at with space", psychologyLine, map[string]any{"finalized_at": "2026-11-20 10:15:00+02:00"}, "finalized_at", "RFC 3339"},
		{"finalized_at without zone", psychologyLine, map[string]any{"finalized_at": "2026-11-20T10:15:00"}, "finalized_at", "RFC 3339"},
		{"finalized_at not a day", psychologyLine, map[string]any{"finalized_at": "2026-02-30T10:15:00Z"}, "finalized_at", "RFC 3339"},
		{"finalized_at fraction", psychologyLine, map[string]any{"finalized_at": "2026-11-20T10:15:00.123456+02:00"}, "", ""},
		{"draft with bad finalized_at", psychologyLine, map[string]any{"status": "draft", "finalized_at": "yesterday"}, "finalized_at", "RFC 3339"},

		// author
		{"author missing", psychologyLine, map[string]any{"author": deleteField}, "author", "required"},
		{"author null", psychologyLine, map[string]any{"author": nil}, "author", "required"},
		{"author a string", psychologyLine, map[string]any{"author": "Pirjo"}, "author", "wrong JSON type"},
		{"author.role unknown", psychologyLine, map[string]any{"author.role": "nurse"}, "author.role", "unknown value"},
		{"author.role holding a name", psychologyLine, map[string]any{"author.role": "Pirjo"}, "author.role", "unknown value"},
		{"author.role missing", psychologyLine, map[string]any{"author.role": deleteField}, "author.role", "required"},
		{"author.role number", psychologyLine, map[string]any{"author.role": 1}, "author.role", "wrong JSON type"},
		{"author.registration_number missing", psychologyLine, map[string]any{"author.registration_number": deleteField}, "author.registration_number", "required"},
		{"author.given empty", psychologyLine, map[string]any{"author.given": ""}, "author.given", "required"},
		{"author.family null", psychologyLine, map[string]any{"author.family": nil}, "author.family", "required"},
		{"author.hetu test code", psychologyLine, map[string]any{"author.hetu": hetu("010180-901")}, "", ""},
		{"author.hetu bad check char", psychologyLine, map[string]any{"author.hetu": "010180-901A"}, "author.hetu", "check character"},
		{"author.hetu number", psychologyLine, map[string]any{"author.hetu": 7}, "author.hetu", "wrong JSON type"},
		{"author.title 200 chars", psychologyLine, map[string]any{"author.title": long(200, "ä")}, "", ""},
		{"author.title 201 chars", psychologyLine, map[string]any{"author.title": long(201, "x")}, "author.title", "longer than 200"},
		{"client.security_prohibition string", psychologyLine, map[string]any{"client.security_prohibition": "yes"}, "client.security_prohibition", "wrong JSON type"},

		// client and identity code
		{"client missing", psychologyLine, map[string]any{"client": deleteField}, "client", "required"},
		{"client.hetu missing", psychologyLine, map[string]any{"client.hetu": deleteField}, "client.hetu", "required"},
		{"client.hetu number", psychologyLine, map[string]any{"client.hetu": 10114921}, "client.hetu", "wrong JSON type"},
		{"client.hetu short", psychologyLine, map[string]any{"client.hetu": "010114A921"}, "client.hetu", "not of the form"},
		{"client.hetu letter in date", psychologyLine, map[string]any{"client.hetu": "01O114A921S"}, "client.hetu", "not of the form"},
		{"client.hetu century sign", psychologyLine, map[string]any{"client.hetu": "010114G921S"}, "client.hetu", "century sign"},
		{"client.hetu check char", psychologyLine, map[string]any{"client.hetu": "010114A921T"}, "client.hetu", "check character"},
		{"client.hetu 31 February", psychologyLine, map[string]any{"client.hetu": hetu("310214A921")}, "client.hetu", "not a calendar date"},
		{"client.hetu individual 001", psychologyLine, map[string]any{"client.hetu": hetu("010114A001")}, "client.hetu", "individual number"},
		{"client.hetu 1900s sign Y", psychologyLine, map[string]any{"client.hetu": hetu("010114Y921"), "client.birth_date": "1914-01-01"}, "", ""},
		{"client.hetu 2000s sign B", psychologyLine, map[string]any{"client.hetu": hetu("010114B921")}, "", ""},
		{"client.hetu 1800s sign", psychologyLine, map[string]any{"client.hetu": hetu("010114+921"), "client.birth_date": "1814-01-01"}, "", ""},
		{"client.birth_date disagrees", psychologyLine, map[string]any{"client.birth_date": "2014-01-02"}, "client.birth_date", "does not agree"},
		{"client.birth_date century disagrees", psychologyLine, map[string]any{"client.birth_date": "1914-01-01"}, "client.birth_date", "does not agree"},
		{"client.birth_date short form", psychologyLine, map[string]any{"client.birth_date": "2014-1-1"}, "client.birth_date", "YYYY-MM-DD"},
		{"client.birth_date 30 February", psychologyLine, map[string]any{"client.birth_date": "2014-02-30"}, "client.birth_date", "YYYY-MM-DD"},
		{"client.birth_date missing", psychologyLine, map[string]any{"client.birth_date": deleteField}, "client.birth_date", "required"},
		{"client.given missing", psychologyLine, map[string]any{"client.given": deleteField}, "client.given", "required"},
		{"client.family empty", psychologyLine, map[string]any{"client.family": ""}, "client.family", "required"},
		{"client.home_municipality two digits", psychologyLine, map[string]any{"client.home_municipality": "91"}, "client.home_municipality", "3-digit"},
		{"client.home_municipality letter", psychologyLine, map[string]any{"client.home_municipality": "09a"}, "client.home_municipality", "3-digit"},
		{"client.home_municipality number", psychologyLine, map[string]any{"client.home_municipality": 91}, "client.home_municipality", "wrong JSON type"},
		{"client.home_municipality absent", psychologyLine, map[string]any{"client.home_municipality": deleteField}, "", ""},

		// service
		{"service missing", psychologyLine, map[string]any{"service": deleteField}, "service", "required"},
		{"service.kind unknown", psychologyLine, map[string]any{"service.kind": "school_nursing"}, "service.kind", "unknown value"},
		{"service.kind missing", psychologyLine, map[string]any{"service.kind": deleteField}, "service.kind", "required"},
		{"service.unit_oid leading zero arc", psychologyLine, map[string]any{"service.unit_oid": "1.2.246.010"}, "service.unit_oid", "OID"},
		{"service.unit_oid root 3", psychologyLine, map[string]any{"service.unit_oid": "3.1"}, "service.unit_oid", "OID"},
		{"service.unit_oid single arc", psychologyLine, map[string]any{"service.unit_oid": "1"}, "service.unit_oid", "OID"},
		{"service.unit_oid empty arc", psychologyLine, map[string]any{"service.unit_oid": "1..2"}, "service.unit_oid", "OID"},
		{"service.unit_oid trailing dot", psychologyLine, map[string]any{"service.unit_oid": "1.2."}, "service.unit_oid", "OID"},
		{"service.unit_oid urn", psychologyLine, map[string]any{"service.unit_oid": "urn:oid:1.2.3"}, "service.unit_oid", "OID"},
		{"service.unit_oid zero arcs", psychologyLine, map[string]any{"service.unit_oid": "0.0"}, "", ""},
		{"service.unit_oid missing", psychologyLine, map[string]any{"service.unit_oid": deleteField}, "service.unit_oid", "required"},
		{"service.unit_name missing", psychologyLine, map[string]any{"service.unit_name": deleteField}, "service.unit_name", "required"},
		{"service.organiser_oid bad", psychologyLine, map[string]any{"service.organiser_oid": "1.2.246.x"}, "service.organiser_oid", "OID"},
		{"service.organiser_oid missing", psychologyLine, map[string]any{"service.organiser_oid": deleteField}, "service.organiser_oid", "required"},
		{"service.provider_oid bad", psychologyLine, map[string]any{"service.provider_oid": "1.2.3 "}, "service.provider_oid", "OID"},
		{"service.provider_oid valid", psychologyLine, map[string]any{"service.provider_oid": "1.2.246.10.1"}, "", ""},

		// encounter
		{"encounter missing", psychologyLine, map[string]any{"encounter": deleteField}, "encounter", "required"},
		{"encounter.id missing", psychologyLine, map[string]any{"encounter.id": deleteField}, "encounter.id", "required"},
		{"encounter.type unknown", psychologyLine, map[string]any{"encounter.type": "email"}, "encounter.type", "unknown value"},
		{"encounter.type missing", psychologyLine, map[string]any{"encounter.type": deleteField}, "encounter.type", "required"},
		{"encounter.type record-only", psychologyLine, map[string]any{"encounter.type": "record-only"}, "", ""},
		{"encounter.start missing", psychologyLine, map[string]any{"encounter.start": deleteField}, "encounter.start", "required"},
		{"encounter.start date only", psychologyLine, map[string]any{"encounter.start": "2026-11-20"}, "encounter.start", "RFC 3339"},
		{"encounter.end bad", psychologyLine, map[string]any{"encounter.end": "09:45"}, "encounter.end", "RFC 3339"},
		{"encounter.end before start", psychologyLine, map[string]any{"encounter.end": "2026-11-20T08:59:59+02:00"}, "encounter.end", "before encounter.start"},
		{"encounter.end equals start in another zone", psychologyLine, map[string]any{"encounter.end": "2026-11-20T07:00:00Z"}, "", ""},
		{"encounter.end absent", psychologyLine, map[string]any{"encounter.end": deleteField}, "", ""},

		// client relationship
		{"social work without relationship", socialWorkLine, map[string]any{"client_relationship": deleteField}, "client_relationship", "required for school_social_work"},
		{"social work with null relationship", socialWorkLine, map[string]any{"client_relationship": nil}, "client_relationship", "required for school_social_work"},
		{"relationship a string", socialWorkLine, map[string]any{"client_relationship": "ASK-9"}, "client_relationship", "wrong JSON type"},
		{"relationship id missing", socialWorkLine, map[string]any{"client_relationship.id": deleteField}, "client_relationship.id", "required"},
		{"relationship opened missing", socialWorkLine, map[string]any{"client_relationship.opened": deleteField}, "client_relationship.opened", "required"},
		{"relationship opened bad", socialWorkLine, map[string]any{"client_relationship.opened": "2025-13-01"}, "client_relationship.opened", "YYYY-MM-DD"},
		{"relationship closed bad", socialWorkLine, map[string]any{"client_relationship.closed": "2025-06-31"}, "client_relationship.closed", "YYYY-MM-DD"},
		{"relationship closed number", socialWorkLine, map[string]any{"client_relationship.closed": 20250601}, "client_relationship.closed", "wrong JSON type"},
		{"relationship closed before opened", socialWorkLine, map[string]any{"client_relationship.closed": "2025-01-06"}, "client_relationship.closed", "before client_relationship.opened"},
		{"relationship closed on opening day", socialWorkLine, map[string]any{"client_relationship.closed": "2025-01-07"}, "", ""},
		{"relationship closed absent", socialWorkLine, map[string]any{"client_relationship.closed": deleteField}, "", ""},
		{"psychology with a relationship", psychologyLine, map[string]any{"client_relationship": map[string]any{"id": "X", "opened": "2025-01-01"}}, "", ""},

		// text
		{"text missing", psychologyLine, map[string]any{"text": deleteField}, "text", "required"},
		{"text.title missing", psychologyLine, map[string]any{"text.title": deleteField}, "text.title", "required"},
		{"text.narrative missing", psychologyLine, map[string]any{"text.narrative": deleteField}, "text.narrative", "required"},
		{"text.narrative null", psychologyLine, map[string]any{"text.narrative": nil}, "text.narrative", "required"},
		{"text.narrative empty", psychologyLine, map[string]any{"text.narrative": ""}, "", ""},
		{"text.narrative array", psychologyLine, map[string]any{"text.narrative": []string{"a"}}, "text.narrative", "wrong JSON type"},
		{"text.narrative exactly 1 MiB", psychologyLine, map[string]any{"text.narrative": long(1<<20, "x")}, "", ""},
		{"text.narrative over 1 MiB", psychologyLine, map[string]any{"text.narrative": long(1<<20+1, "x")}, "text.narrative", "longer than 1 MiB"},
		{"text.language unknown", psychologyLine, map[string]any{"text.language": "de"}, "text.language", "unknown value"},
		{"text.language missing", psychologyLine, map[string]any{"text.language": deleteField}, "text.language", "required"},
		{"text.language en", psychologyLine, map[string]any{"text.language": "en"}, "", ""},

		// restrictions
		{"display unknown", psychologyLine, map[string]any{"restrictions.mykanta.display": "secret"}, "restrictions.mykanta.display", "unknown value"},
		{"delayed without release_date", psychologyLine, map[string]any{"restrictions.mykanta.display": "delayed", "restrictions.mykanta.reason_code": "LA-1"}, "restrictions.mykanta.release_date", "required when display is delayed"},
		{"delayed with bad release_date", psychologyLine, map[string]any{"restrictions.mykanta.display": "delayed", "restrictions.mykanta.reason_code": "LA-1", "restrictions.mykanta.release_date": "1.1.2027"}, "restrictions.mykanta.release_date", "YYYY-MM-DD"},
		{"visible with bad release_date", psychologyLine, map[string]any{"restrictions.mykanta.release_date": "2027-02-29"}, "restrictions.mykanta.release_date", "YYYY-MM-DD"},
		{"delayed without reason_code is the policy's", psychologyLine, map[string]any{"restrictions.mykanta.display": "delayed", "restrictions.mykanta.release_date": "2027-01-01"}, "", ""},
		{"hidden without reason_code is the policy's", psychologyLine, map[string]any{"restrictions.mykanta.display": "hidden"}, "", ""},
		{"reason_code number", psychologyLine, map[string]any{"restrictions.mykanta.reason_code": 4}, "restrictions.mykanta.reason_code", "wrong JSON type"},
		{"restrictions a list", psychologyLine, map[string]any{"restrictions": []any{}}, "restrictions", "wrong JSON type"},
		{"minor_consent unknown", psychologyLine, map[string]any{"restrictions.guardian.minor_consent": "maybe"}, "restrictions.guardian.minor_consent", "unknown value"},
		{"minor_consent granted", psychologyLine, map[string]any{"restrictions.guardian.minor_consent": "granted"}, "", ""},
		{"maturity_assessed a string", psychologyLine, map[string]any{"restrictions.guardian.maturity_assessed": "yes"}, "restrictions.guardian.maturity_assessed", "wrong JSON type"},
		{"prohibited_by_professional a number", psychologyLine, map[string]any{"restrictions.guardian.prohibited_by_professional": 1}, "restrictions.guardian.prohibited_by_professional", "wrong JSON type"},

		// amendments
		{"revision 2 without amends", socialWorkLine, map[string]any{"amends": deleteField}, "amends", "required when revision > 1"},
		{"revision 2 with null amends", socialWorkLine, map[string]any{"amends": nil}, "amends", "required when revision > 1"},
		{"revision 1 with amends", psychologyLine, map[string]any{"amends": map[string]any{"revision": 1, "reason": "x"}}, "amends", "absent for revision 1"},
		{"amends skips a revision", socialWorkLine, map[string]any{"revision": 3}, "amends.revision", "revision - 1"},
		{"amends revision 3 of 4", socialWorkLine, map[string]any{"revision": 4, "amends.revision": 3}, "", ""},
		{"amends.revision missing", socialWorkLine, map[string]any{"amends.revision": deleteField}, "amends.revision", ">= 1"},
		{"amends.reason missing", socialWorkLine, map[string]any{"amends.reason": deleteField}, "amends.reason", "required"},
		{"final revision 2 with amends", socialWorkLine, map[string]any{"status": "final"}, "", ""},

		// unknown fields are ignored
		{"unknown top-level field", psychologyLine, map[string]any{"x_new": map[string]any{"a": []int{1}}}, "", ""},
		{"unknown nested field", psychologyLine, map[string]any{"client.x_nickname": 5}, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			line := mutate(t, tc.base, tc.edits)
			it := parseOne(t, line)
			if tc.field == "" && tc.reason == "" {
				if it.Rejection != nil {
					t.Fatalf("rejected: %v", it.Rejection)
				}
				return
			}
			rej := it.Rejection
			if rej == nil {
				t.Fatalf("accepted, want rejection of %s (%s)", tc.field, tc.reason)
			}
			if rej.Field != tc.field || !strings.Contains(rej.Reason, tc.reason) {
				t.Fatalf("got %q: %q, want %q: ...%q...", rej.Field, rej.Reason, tc.field, tc.reason)
			}
			if rej.Line != 1 || rej.File != "batch.ndjson" || string(rej.Raw) != line {
				t.Fatalf("rejection position or raw line wrong: %s", rej.Error())
			}
			assertNoPersonalData(t, line, rej)
		})
	}
}

// TestWholeLineProblems: lines that are not one well-formed JSON object.
func TestWholeLineProblems(t *testing.T) {
	cases := []struct{ name, line, reason string }{
		{"array", `[1,2]`, "not a JSON object"},
		{"null", `null`, "not a JSON object"},
		{"string", `"010114A921S"`, "not a JSON object"},
		{"number", `42`, "not a JSON object"},
		{"truncated", psychologyLine[:len(psychologyLine)/2], "truncated JSON"},
		{"only a brace", `{`, "truncated JSON"},
		{"trailing garbage", psychologyLine + `x`, "trailing data"},
		{"two objects", psychologyLine + ` {}`, "trailing data"},
		{"bad escape", strings.Replace(psychologyLine, `"Testi"`, `"Te\qsti"`, 1), "syntax error at byte"},
		{"single quotes", `{'entry_id':'x'}`, "syntax error at byte"},
		{"invalid UTF-8", strings.Replace(psychologyLine, "käynti", "k\xe4ynti", 1), "not valid UTF-8"},
		{"overlong UTF-8 encoding", strings.Replace(psychologyLine, "Testi", "Test\xc0\xaf", 1), "not valid UTF-8"},
		{"empty object", `{}`, "required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			it := parseOne(t, tc.line)
			rej := it.Rejection
			if rej == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(rej.Reason, tc.reason) {
				t.Fatalf("reason %q, want ...%q...", rej.Reason, tc.reason)
			}
			if tc.name != "empty object" && rej.Field != "" {
				t.Fatalf("field %q, want whole-line problem", rej.Field)
			}
			if string(rej.Raw) != tc.line {
				t.Fatal("Raw is not the line")
			}
			assertNoPersonalData(t, tc.line, rej)
		})
	}
}

// TestRejectionNamesEntry: the entry key is reported when readable, and the
// error text has the documented form.
func TestRejectionNamesEntry(t *testing.T) {
	line := mutate(t, psychologyLine, map[string]any{"client.hetu": "010114A921T"})
	rej := parseOne(t, line).Rejection
	if rej == nil {
		t.Fatal("accepted")
	}
	if rej.EntryID != "APT-PSY-000001" || rej.Revision != 1 {
		t.Fatalf("entry key %q#%d", rej.EntryID, rej.Revision)
	}
	want := "batch.ndjson:1: entry APT-PSY-000001#1: client.hetu: identity code's check character does not match"
	if rej.Error() != want {
		t.Fatalf("Error() = %q, want %q", rej.Error(), want)
	}
	// A wrong type elsewhere still lets the key be read.
	rej = parseOne(t, mutate(t, psychologyLine, map[string]any{"text.title": 5})).Rejection
	if rej == nil || rej.EntryID != "APT-PSY-000001" || rej.Field != "text.title" {
		t.Fatalf("wrong-type rejection: %+v", rej)
	}
	// An entry id with control characters is not echoed into logs.
	rej = parseOne(t, mutate(t, psychologyLine, map[string]any{"entry_id": "APT\nforged log line", "client.hetu": "x"})).Rejection
	if rej == nil || rej.EntryID != "" || strings.Contains(rej.Error(), "forged") {
		t.Fatalf("control characters reached the rejection: %v", rej)
	}
	// Nothing is known of a line that is not JSON.
	rej = parseOne(t, `{"entry_id":"A",`).Rejection
	if rej == nil || rej.EntryID != "" || rej.Error() != "batch.ndjson:1: truncated JSON: the line ends inside the object" {
		t.Fatalf("syntax rejection: %v", rej)
	}
}

// TestMissingReasonCodeIsRejectedByPolicy: the adapter lets a delayed or
// hidden entry without a reason code through so that the policy rejects it
// with its own reason class.
func TestMissingReasonCodeIsRejectedByPolicy(t *testing.T) {
	cfg := config.Default()
	policy := cfg.PolicyEngine()
	for _, edits := range []map[string]any{
		{"restrictions.mykanta.display": "hidden"},
		{"restrictions.mykanta.display": "delayed", "restrictions.mykanta.release_date": "2027-01-01"},
	} {
		it := parseOne(t, mutate(t, psychologyLine, edits))
		if it.Entry == nil {
			t.Fatalf("adapter rejected: %v", it.Rejection)
		}
		d := policy.Decide(it.Entry, time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC), nil)
		if d.Outcome != documents.OutcomeReject || d.ReasonClass != documents.ReasonMissingReasonCode {
			t.Fatalf("policy: %s %s", d.Outcome, d.ReasonClass)
		}
	}
}

// TestRoleServiceMismatchIsRejectedByPolicy: a psychologist's entry filed
// under social work (so without a client relationship) reaches the policy,
// which rejects it for mixing registers.
func TestRoleServiceMismatchIsRejectedByPolicy(t *testing.T) {
	cfg := config.Default()
	it := parseOne(t, mutate(t, psychologyLine, map[string]any{"service.kind": "school_social_work"}))
	if it.Entry == nil {
		t.Fatalf("adapter rejected: %v", it.Rejection)
	}
	d := cfg.PolicyEngine().Decide(it.Entry, time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC), nil)
	if d.Outcome != documents.OutcomeReject || d.ReasonClass != documents.ReasonRoleServiceMismatch {
		t.Fatalf("policy: %s %s", d.Outcome, d.ReasonClass)
	}
}

// TestEntriesDoNotShareMemory: every entry is the caller's to keep, even
// though the reader reuses its buffers.
func TestEntriesDoNotShareMemory(t *testing.T) {
	second := mutate(t, psychologyLine, map[string]any{"entry_id": "APT-PSY-000002", "client.given": "Toinen"})
	items := readAll(t, psychologyLine+"\n"+second+"\n", adapter.Options{})
	if len(items) != 2 || items[0].Entry == nil || items[1].Entry == nil {
		t.Fatalf("items: %+v", items)
	}
	if items[0].Entry.ID != "APT-PSY-000001" || items[0].Entry.Client.Given != "Testi" || items[1].Entry.Client.Given != "Toinen" {
		t.Fatalf("entries overwritten: %+v / %+v", items[0].Entry, items[1].Entry)
	}
	if items[0].Entry.Text.Narrative != "Tapaaminen oppilaan kanssa." {
		t.Fatal("narrative overwritten")
	}
	var buf bytes.Buffer
	buf.WriteString(`[]` + "\n" + psychologyLine + "\n")
	items = readAll(t, buf.String(), adapter.Options{})
	if string(items[0].Rejection.Raw) != "[]" {
		t.Fatalf("Raw overwritten by the next line: %q", items[0].Rejection.Raw)
	}
}

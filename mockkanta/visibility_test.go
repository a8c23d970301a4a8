package mockkanta

import (
	"net/http"
	"slices"
	"testing"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/wire"
)

func viewIDs(vs []DocumentView) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.ID)
	}
	slices.Sort(out)
	return out
}

func sorted(ids ...string) []string {
	slices.Sort(ids)
	return ids
}

// accept builds, submits and expects acceptance; it returns the document id.
func accept(t *testing.T, url string, e *documents.Entry, guardianVisible bool) string {
	t.Helper()
	if e.ClientRelationship != nil {
		archiveRelationship(t, url, e)
	}
	b := build(t, spec{entry: e, decision: decide(e, guardianVisible)})
	expectAck(t, submit(t, url, b.message), wire.AckAccepted, wire.DetailAccepted)
	return b.id
}

// What the client and the guardian see in MyKanta, through real signed
// documents: the guardian flag, the release date and concealment travel in
// the CDA and the mock reads them back.
func TestMyKantaVisibility(t *testing.T) {
	_, hs := newTestServer(t, trusted())

	// A child of 10 (born 2016-03-01): the guardian sees what the
	// professional did not forbid.
	young := func(id string) *documents.Entry { return entry(id, documents.RolePsychologist, "2016-03-01") }
	youngOpen := accept(t, hs.URL, young("VIS-Y1"), true)
	youngForbidden := accept(t, hs.URL, young("VIS-Y2"), false)

	// A child of 14 (born 2012-01-10, 18 on 2030-01-10): with and without
	// consent, delayed, concealed; and a social welfare entry with consent.
	teen := func(id string) *documents.Entry { return entry(id, documents.RolePsychologist, "2012-01-10") }
	consent := accept(t, hs.URL, teen("VIS-T1"), true)
	noConsent := accept(t, hs.URL, teen("VIS-T2"), false)
	delayedEntry := teen("VIS-T3")
	delayedEntry.MyKanta = documents.MyKanta{Display: documents.DisplayDelayed, ReleaseDate: documents.MustDate("2026-12-15"),
		ReasonCode: "1", ReasonText: "Harkinta"}
	delayed := accept(t, hs.URL, delayedEntry, true)
	concealedEntry := teen("VIS-T4")
	concealedEntry.MyKanta = documents.MyKanta{Display: documents.DisplayHidden, ReasonCode: "2", ReasonText: "Peruste"}
	concealed := accept(t, hs.URL, concealedEntry, true)
	social := entry("VIS-T5", documents.RoleSchoolWelfareOfficer, "2012-01-10")
	socialConsent := accept(t, hs.URL, social, true)

	var docs []DocumentView
	getJSON(t, hs.URL+"/api/v1/documents?hetu="+teen("x").Client.Hetu, &docs)
	for _, d := range docs {
		switch d.ID {
		case delayed:
			if d.ReleaseDate == nil || d.ReleaseDate.String() != "2026-12-15" || d.Concealed {
				t.Errorf("delayed document stored as %+v", d)
			}
		case concealed:
			if !d.Concealed || d.ReleaseDate != nil {
				t.Errorf("concealed document stored as %+v", d)
			}
		case noConsent:
			if d.GuardianDisclosure {
				t.Errorf("document without consent stored with guardian disclosure")
			}
		}
	}

	youngHetu, teenHetu := young("x").Client.Hetu, teen("x").Client.Hetu
	tests := []struct {
		name   string
		hetu   string
		query  string
		status int
		want   []string
	}{
		{"child of 10 self", youngHetu, "viewer=self&on=2026-12-01", 200, sorted(youngOpen, youngForbidden)},
		{"guardian of a child under 12", youngHetu, "viewer=guardian&on=2026-12-01", 200, sorted(youngOpen)},
		{"teen self before release date", teenHetu, "viewer=self&on=2026-12-14", 200, sorted(consent, noConsent, socialConsent)},
		{"teen self on release date", teenHetu, "viewer=self&on=2026-12-15", 200, sorted(consent, noConsent, delayed, socialConsent)},
		{"guardian of a 12+ child: only with consent", teenHetu, "viewer=guardian&on=2026-12-01", 200, sorted(consent, socialConsent)},
		{"guardian after release date", teenHetu, "viewer=guardian&on=2026-12-15", 200, sorted(consent, delayed, socialConsent)},
		{"guardian the day before the 18th birthday", teenHetu, "viewer=guardian&on=2030-01-09", 200, sorted(consent, delayed, socialConsent)},
		{"guardian once the child is 18", teenHetu, "viewer=guardian&on=2030-01-10", 200, nil},
		{"adult self still sees", teenHetu, "viewer=self&on=2030-01-10", 200, sorted(consent, noConsent, delayed, socialConsent)},
		{"default viewer is self, default day is the clock's", teenHetu, "", 200, sorted(consent, noConsent, socialConsent)},
		{"unknown viewer", teenHetu, "viewer=neighbour", 400, nil},
		{"bad date", teenHetu, "on=2026-13-01", 400, nil},
		{"invalid identity code", "010114A921X", "", 400, nil},
	}
	for _, tt := range tests {
		var got []DocumentView
		status := getJSON(t, hs.URL+"/api/v1/mykanta/"+tt.hetu+"?"+tt.query, &got)
		if status != tt.status {
			t.Errorf("%s: status %d, want %d", tt.name, status, tt.status)
			continue
		}
		if ids := viewIDs(got); !slices.Equal(ids, tt.want) {
			t.Errorf("%s: sees %v, want %v", tt.name, ids, tt.want)
		}
	}
}

// Psychologists and school welfare officers see each other's records only
// with the client's permission.
func TestProfessionSeparation(t *testing.T) {
	_, hs := newTestServer(t, trusted())
	psy := accept(t, hs.URL, entry("SEP-PSY", documents.RolePsychologist, "2013-05-05"), true)
	kur := accept(t, hs.URL, entry("SEP-KUR", documents.RoleSchoolWelfareOfficer, "2013-05-05"), true)
	hetu := entry("x", documents.RolePsychologist, "2013-05-05").Client.Hetu
	tests := []struct {
		query string
		want  []string
	}{
		{"role=psychologist", []string{psy}},
		{"role=school_welfare_officer", []string{kur}},
		{"role=psychologist&client_permission=true", sorted(psy, kur)},
		{"role=school_welfare_officer&client_permission=true", sorted(psy, kur)},
	}
	for _, tt := range tests {
		var got []DocumentView
		if status := getJSON(t, hs.URL+"/api/v1/professional/"+hetu+"?"+tt.query, &got); status != 200 {
			t.Fatalf("%s: status %d", tt.query, status)
		}
		if ids := viewIDs(got); !slices.Equal(ids, tt.want) {
			t.Errorf("%s: sees %v, want %v", tt.query, ids, tt.want)
		}
	}
	if status := getJSON(t, hs.URL+"/api/v1/professional/"+hetu+"?role=teacher", new([]DocumentView)); status != http.StatusBadRequest {
		t.Errorf("unknown role: status %d, want 400", status)
	}
}

package e2e

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
)

type viewDoc struct {
	DocumentID         string `json:"document_id"`
	Version            int    `json:"version"`
	Archive            string `json:"archive"`
	Format             string `json:"format"`
	Concealed          bool   `json:"concealed"`
	GuardianDisclosure bool   `json:"guardian_disclosure"`
}

// view renders a tester-API view as a sorted list of logical documents.
func view(m *mock, path string) string {
	var docs []viewDoc
	m.get(path, &docs)
	out := make([]string, len(docs))
	for i, d := range docs {
		out[i] = fmt.Sprintf("%s v%d %s concealed=%v guardian=%v", d.DocumentID, d.Version, d.Archive, d.Concealed, d.GuardianDisclosure)
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

// TestFHIRRoute: with route both every due revision lands once as CDA and
// once as FHIR; and a CDA-only and a FHIR-only gateway produce the same
// MyKanta and professional views.
func TestFHIRRoute(t *testing.T) {
	now := []string{"KANTA_GATEWAY_NOW=2026-11-22T12:00:00+02:00"}
	run := func(route string) *mock {
		m := startMock(t, t.TempDir(), "")
		s := newSite(t, m, "sqlite", "", "documents:\n  route:\n    patient: "+route+"\n    social: "+route+"\n")
		for _, f := range scenarioFiles {
			s.copyToSpool(f)
		}
		if code, out := s.run(now, "once", "--timeout", "2m"); code != 3 {
			t.Fatalf("route %s: once exit %d, want 3:\n%s\n%s", route, code, out, tail(s.logs.String()))
		}
		if dead := s.jobs("dead"); len(dead) > 0 {
			t.Fatalf("route %s: %d dead letters: %v", route, len(dead), dead[0])
		}
		scanLogs(t, s.logs.String(), personalData(t, scenarioFiles...))
		return m
	}

	both := run("both")
	docs := both.documents()
	exp := expectations(t)
	due := 0
	for _, e := range exp {
		if !sent(e.atNov) {
			continue
		}
		due++
		cdaID := documents.DocumentID(documentRoot, e.entry, e.revision)
		fhirID := documents.FHIRBundleID(documentRoot, e.entry, e.revision)
		if d, ok := docs[cdaID]; !ok || d.Format != "cda" {
			t.Errorf("%s#%d: CDA copy missing (%+v)", e.entry, e.revision, d)
		}
		if d, ok := docs[fhirID]; !ok || d.Format != "fhir" {
			t.Errorf("%s#%d: FHIR copy missing (%+v)", e.entry, e.revision, d)
		}
	}
	// Plus each client relationship's document, CDA only (no FHIR form).
	rels := scenarioRelationshipDocs(t, exp, func(e expectation) bool { return sent(e.atNov) })
	for id := range rels {
		if d, ok := docs[id]; !ok || d.Format != "cda" || d.ServiceRequest != "SP1" {
			t.Errorf("client relationship document %s: %v %+v", id, ok, d)
		}
	}
	if len(docs) != 2*due+len(rels) {
		t.Errorf("route both: %d documents stored, want %d (one CDA and one FHIR per due revision, one CDA per relationship)", len(docs), 2*due+len(rels))
	}

	cdaOnly, fhirOnly := run("cda"), run("fhir")
	seen := map[string]bool{}
	for _, e := range exp {
		if !sent(e.atNov) {
			continue
		}
		hetu := hetuOf(t, fileOf(e.entry), e.entry)
		if seen[hetu] {
			continue
		}
		seen[hetu] = true
		for _, path := range []string{
			"/api/v1/mykanta/" + hetu + "?viewer=self&on=2026-11-22",
			"/api/v1/mykanta/" + hetu + "?viewer=self&on=2027-01-15",
			"/api/v1/mykanta/" + hetu + "?viewer=guardian&on=2026-11-22",
			"/api/v1/professional/" + hetu + "?role=psychologist",
			"/api/v1/professional/" + hetu + "?role=school_welfare_officer",
		} {
			a, b := view(cdaOnly, path), view(fhirOnly, path)
			if a != b {
				t.Errorf("%s (%s): views differ\nCDA:  %s\nFHIR: %s", path[:strings.Index(path, "/"+hetu)], e.entry, a, b)
			}
		}
	}
	if len(seen) < 20 {
		t.Errorf("only %d clients compared", len(seen))
	}
}

func fileOf(entry string) string {
	if strings.HasPrefix(entry, "SCN-PSY") {
		return scenarioFiles[0]
	}
	return scenarioFiles[1]
}

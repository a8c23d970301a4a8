package mockkanta

import (
	"bytes"
	"crypto/x509"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	models "github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/helsinki-student-welfare/kanta-gateway/clock"
	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/documents/fhir"
	"github.com/helsinki-student-welfare/kanta-gateway/signing"
	"github.com/helsinki-student-welfare/kanta-gateway/wire"
)

// bundleSpec describes one FHIR document Bundle to build.
type bundleSpec struct {
	entry    *documents.Entry
	decision documents.Decision
	identity *signing.Identity // default: Helsinki's system certificate
	// edit changes the Bundle before it is signed; editRaw the signed JSON.
	edit     func(*fhir.Bundle)
	editRaw  func([]byte) []byte
	unsigned bool
	signedAt time.Time // default: now
}

// builtBundle is a signed Bundle with what a test needs to know about it.
type builtBundle struct {
	raw        []byte
	id         string // Bundle.id: the store's key
	documentID string // Bundle.identifier: the CDA document id
	setID      string
}

func buildBundle(t testing.TB, s bundleSpec) builtBundle {
	t.Helper()
	b, err := fhir.Build(s.entry, s.decision, organisation, fhir.Options{})
	if err != nil {
		t.Fatalf("fhir.Build: %v", err)
	}
	if s.edit != nil {
		s.edit(b)
	}
	id := s.identity
	if id == nil {
		id = testPKI.helsinki
	}
	if !s.unsigned {
		chain := append([]*x509.Certificate{id.Cert}, id.Chain...)
		at := s.signedAt
		if at.IsZero() {
			at = time.Now()
		}
		if err := fhir.Sign(b, id.Key, chain, at, orgHelsinki); err != nil {
			t.Fatalf("fhir.Sign: %v", err)
		}
	}
	raw, err := fhir.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if s.editRaw != nil {
		raw = s.editRaw(raw)
	}
	return builtBundle{raw: raw, id: strOf(b.Id),
		documentID: documents.DocumentID(documentRoot, s.entry.ID, s.entry.Revision),
		setID:      documents.SetID(documentRoot, s.entry.ID)}
}

// fhirReply is one response of the FHIR route.
type fhirReply struct {
	status  int
	header  http.Header
	body    []byte
	outcome OperationOutcome
}

func postBundle(t testing.TB, url, contentType string, body []byte) fhirReply {
	t.Helper()
	resp, err := http.Post(url+"/fhir/r4/Bundle", contentType, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := fhirReply{status: resp.StatusCode, header: resp.Header, body: b}
	if ct := resp.Header.Get("Content-Type"); ct != "application/fhir+json" {
		t.Fatalf("answer content type %q (status %d)", ct, resp.StatusCode)
	}
	// Every answer is a valid FHIR R4 OperationOutcome.
	if err := fhir.Validate(b); err != nil {
		t.Fatalf("answer is not valid FHIR R4: %v\n%s", err, b)
	}
	if err := json.Unmarshal(b, &r.outcome); err != nil || r.outcome.ResourceType != "OperationOutcome" || len(r.outcome.Issue) == 0 {
		t.Fatalf("answer is not an OperationOutcome with issues: %v\n%s", err, b)
	}
	return r
}

func sendBundle(t testing.TB, url string, b builtBundle) fhirReply {
	t.Helper()
	return postBundle(t, url, "application/fhir+json", b.raw)
}

func expectOutcome(t testing.TB, name string, r fhirReply, status int, detail string) {
	t.Helper()
	if r.status != status || r.outcome.Detail() != detail {
		t.Fatalf("%s: %d %s, want %d %s\n%s", name, r.status, r.outcome.Detail(), status, detail, r.body)
	}
}

func TestFHIRAcceptedAndIdempotent(t *testing.T) {
	s, hs := newTestServer(t, trusted())
	psy := entry("FHIR-PSY", documents.RolePsychologist, "2014-01-01")
	kur := entry("FHIR-KUR", documents.RoleSchoolWelfareOfficer, "2014-01-01")
	for _, tt := range []struct {
		e       *documents.Entry
		archive documents.Archive
	}{{psy, documents.ArchivePatient}, {kur, documents.ArchiveSocial}} {
		b := buildBundle(t, bundleSpec{entry: tt.e, decision: decide(tt.e, true)})
		r := sendBundle(t, hs.URL, b)
		expectOutcome(t, "first", r, http.StatusCreated, wire.DetailAccepted)
		if is := r.outcome.Issue[0]; is.Severity != "information" || is.Code != "informational" {
			t.Errorf("accepted issue %+v", is)
		}
		if loc := r.header.Get("Location"); loc != "/fhir/r4/Bundle/"+b.id {
			t.Errorf("Location %q", loc)
		}
		v, status := getDocument(t, hs.URL, b.id)
		if status != 200 || v.Format != FormatFHIR || v.DocumentID != b.documentID || v.SetID != b.setID ||
			v.Version != 1 || v.Archive != tt.archive || v.SignatureType != signing.TypeSystem ||
			v.AuthorRole != tt.e.Author.Role || v.Submissions != 1 || v.EnteredInError || v.Confidentiality == "" {
			t.Errorf("stored %d %+v", status, v)
		}
		if b.id == b.documentID {
			t.Fatalf("Bundle id %s equals the CDA document id: the two copies would collide", b.id)
		}
		// Read back: the exact bytes, through the FHIR read and the tester API;
		// the CDA download refuses a Bundle.
		for _, path := range []string{"/fhir/r4/Bundle/" + b.id, "/api/v1/documents/" + b.id + "/content"} {
			resp, err := http.Get(hs.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !bytes.Equal(got, b.raw) || resp.Header.Get("Content-Type") != "application/fhir+json" {
				t.Errorf("GET %s: %d %q, bytes equal %v", path, resp.StatusCode, resp.Header.Get("Content-Type"), bytes.Equal(got, b.raw))
			}
		}
		if resp, err := http.Get(hs.URL + "/api/v1/documents/" + b.id + "/cda"); err != nil || resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET cda of a Bundle: %v %v, want 404", resp.StatusCode, err)
		}

		// The same bytes again: 200, stored once.
		r = sendBundle(t, hs.URL, b)
		expectOutcome(t, "resend", r, http.StatusOK, wire.DetailDuplicate)
		if v, _ := getDocument(t, hs.URL, b.id); v.Submissions != 2 {
			t.Errorf("submissions after resend = %d, want 2", v.Submissions)
		}
	}

	// Different content under the same Bundle id: 409.
	changed := *psy
	changed.Text.Narrative = "Toinen teksti."
	r := sendBundle(t, hs.URL, buildBundle(t, bundleSpec{entry: &changed, decision: decide(&changed, true)}))
	expectOutcome(t, "changed content", r, http.StatusConflict, wire.DetailVersionConflict)
	if r.outcome.Issue[0].Code != "conflict" || r.outcome.Issue[0].Severity != "error" {
		t.Errorf("conflict issue %+v", r.outcome.Issue[0])
	}

	var list []DocumentView
	getJSON(t, hs.URL+"/api/v1/documents?hetu="+psy.Client.Hetu, &list)
	if len(list) != 2 || list[0].Format != FormatFHIR || list[1].Format != FormatFHIR {
		t.Errorf("documents of the client: %+v", list)
	}
	st := s.Stats()
	fs := st.Formats[FormatFHIR]
	if fs.Accepted != 2 || fs.Duplicates != 2 || fs.Rejected[wire.DetailVersionConflict] != 1 ||
		st.Accepted != 2 || st.Formats[FormatCDA].Accepted != 0 {
		t.Errorf("stats %+v", st)
	}
}

// Each check of the FHIR route with a Bundle that fails it.
func TestFHIRChecks(t *testing.T) {
	_, hs := newTestServer(t, trusted())
	psy := func(id string) *documents.Entry { return entry(id, documents.RolePsychologist, "2014-01-01") }
	ok := func(id string, mod func(*bundleSpec)) func() []byte {
		return func() []byte {
			e := psy(id)
			s := bundleSpec{entry: e, decision: decide(e, true)}
			if mod != nil {
				mod(&s)
			}
			return buildBundle(t, s).raw
		}
	}
	patient := func(b *fhir.Bundle) *fhir.Patient {
		for _, e := range b.Entry {
			if p, ok := e.Resource.(*fhir.Patient); ok {
				return p
			}
		}
		t.Fatal("bundle has no Patient")
		return nil
	}
	realCode := psy("FCHK-REAL")
	realCode.Client.Hetu = hetuFor("2014-01-01", 123)
	second := revise(psy("FCHK-V2"))

	tests := []struct {
		name        string
		contentType string
		body        func() []byte
		status      int
		detail      string
		issue       string
		diagnostic  string // a diagnostics must contain this
	}{
		{"not JSON", "", func() []byte { return []byte("not json") }, 400, wire.DetailMalformedFrame, "structure", ""},
		{"not a Bundle", "", func() []byte { return []byte(`{"resourceType":"Basic","id":"x","code":{"text":"x"}}`) },
			400, wire.DetailMalformedFrame, "structure", "/resourceType"},
		{"schema: bad birth date", "", ok("FCHK-SCHEMA", func(s *bundleSpec) {
			s.editRaw = func(b []byte) []byte { return replaceOnce(b, `"birthDate":"2014-01-01"`, `"birthDate":"2014-13-01"`) }
		}), 400, wire.DetailProfileViolation, "structure", "/entry/1/resource/birthDate"},
		{"wrong content type", "text/xml", ok("FCHK-CT", nil), 415, wire.DetailMalformedFrame, "not-supported", "Content-Type"},
		{"collection, not document", "", ok("FCHK-TYPE", func(s *bundleSpec) {
			s.edit = func(b *fhir.Bundle) { b.Type = models.BundleTypeCollection }
		}), 422, wire.DetailProfileViolation, "invalid", "/type"},
		{"identifier not an OID", "", ok("FCHK-ID", func(s *bundleSpec) {
			s.edit = func(b *fhir.Bundle) { b.Identifier.Value = ptr("urn:uuid:3b4c1f5e-0000-4000-8000-000000000001") }
		}), 422, wire.DetailProfileViolation, "invalid", "/identifier"},
		{"Composition not first", "", ok("FCHK-ORDER", func(s *bundleSpec) {
			s.edit = func(b *fhir.Bundle) { b.Entry[0], b.Entry[1] = b.Entry[1], b.Entry[0] }
		}), 422, wire.DetailProfileViolation, "invalid", "Composition"},
		{"version 2 replacing nothing", "", func() []byte {
			return buildBundle(t, bundleSpec{entry: second, decision: decide(second, true),
				edit: func(b *fhir.Bundle) { b.Entry[0].Resource.(*fhir.Composition).RelatesTo = nil }}).raw
		}, 422, wire.DetailProfileViolation, "invalid", "replace"},
		{"author without registration number", "", ok("FCHK-PRAC", func(s *bundleSpec) {
			s.edit = func(b *fhir.Bundle) {
				for _, e := range b.Entry {
					if p, ok := e.Resource.(*fhir.Practitioner); ok {
						p.Identifier = nil
					}
				}
			}
		}), 422, wire.DetailProfileViolation, "invalid", "1.2.246.537.26"},
		{"client under another identifier system", "", ok("FCHK-SYS", func(s *bundleSpec) {
			s.edit = func(b *fhir.Bundle) { patient(b).Identifier[0].System = ptr("urn:oid:1.2.246.10.2012566.99") }
		}), 422, wire.DetailInvalidIdentity, "value", "1.2.246.21"},
		{"invalid identity code", "", ok("FCHK-HETU", func(s *bundleSpec) {
			s.edit = func(b *fhir.Bundle) {
				p := patient(b)
				v := strOf(p.Identifier[0].Value)
				bad := byte('X')
				if v[10] == 'X' {
					bad = 'Y'
				}
				p.Identifier[0].Value = ptr(v[:10] + string(bad))
			}
		}), 422, wire.DetailInvalidIdentity, "value", ""},
		{"unsigned", "", ok("FCHK-UNSIGNED", func(s *bundleSpec) { s.unsigned = true }),
			422, wire.DetailSignatureMissing, "security", "/signature"},
		{"changed after signing", "", ok("FCHK-TAMPER", func(s *bundleSpec) {
			s.editRaw = func(b []byte) []byte { return replaceOnce(b, `"title":"Käynti"`, `"title":"Käynti!"`) }
		}), 422, wire.DetailSignatureInvalid, "security", "/signature"},
		{"signer from an untrusted CA", "", ok("FCHK-UNTRUSTED", func(s *bundleSpec) { s.identity = testPKI.untrusted }),
			422, wire.DetailSignerNotTrusted, "security", "/signature"},
		{"signed by another organisation", "", ok("FCHK-OTHER", func(s *bundleSpec) { s.identity = testPKI.other }),
			422, wire.DetailSignatureTypeMismatch, "security", "serialNumber"},
		{"real identity code in the test environment", "", func() []byte {
			return buildBundle(t, bundleSpec{entry: realCode, decision: decide(realCode, true)}).raw
		}, 422, wire.DetailNotTestIdentity, "business-rule", ""},
	}
	for _, tt := range tests {
		ct := tt.contentType
		if ct == "" {
			ct = "application/fhir+json"
		}
		body := tt.body()
		r := postBundle(t, hs.URL, ct, body)
		if r.status != tt.status || r.outcome.Detail() != tt.detail {
			t.Errorf("%s: %d %s, want %d %s\n%s", tt.name, r.status, r.outcome.Detail(), tt.status, tt.detail, r.body)
			continue
		}
		is := r.outcome.Issue[0]
		if is.Severity != "error" || is.Code != tt.issue {
			t.Errorf("%s: issue %s/%s, want error/%s", tt.name, is.Severity, is.Code, tt.issue)
		}
		var diag []string
		for _, is := range r.outcome.Issue {
			diag = append(diag, is.Diagnostics)
		}
		if !strings.Contains(strings.Join(diag, "\n"), tt.diagnostic) {
			t.Errorf("%s: diagnostics %q do not mention %q", tt.name, diag, tt.diagnostic)
		}
		// Never personal data in the answer.
		for _, secret := range []string{psy("x").Client.Hetu, realCode.Client.Hetu, "Oppilas", "2014-13-01"} {
			if bytes.Contains(r.body, []byte(secret)) {
				t.Errorf("%s: answer carries a value from the document", tt.name)
			}
		}
	}
	var list []DocumentView
	getJSON(t, hs.URL+"/api/v1/documents", &list)
	if len(list) != 0 {
		t.Errorf("refused Bundles were stored: %+v", list)
	}
}

func TestFHIRProductionRefusesTestIdentity(t *testing.T) {
	cfg := trusted()
	cfg.Environment = EnvironmentProduction
	_, hs := newTestServer(t, cfg)
	e := entry("FHIR-PROD", documents.RolePsychologist, "2014-01-01")
	r := sendBundle(t, hs.URL, buildBundle(t, bundleSpec{entry: e, decision: decide(e, true)}))
	expectOutcome(t, "test code in production", r, 422, wire.DetailTestIdentity)
	real := entry("FHIR-PROD-REAL", documents.RolePsychologist, "2014-01-01")
	real.Client.Hetu = hetuFor("2014-01-01", 123)
	r = sendBundle(t, hs.URL, buildBundle(t, bundleSpec{entry: real, decision: decide(real, true)}))
	expectOutcome(t, "real code in production", r, 201, wire.DetailAccepted)
}

func TestFHIRVersionOrder(t *testing.T) {
	_, hs := newTestServer(t, trusted())
	v1 := entry("FVER-1", documents.RolePsychologist, "2014-01-01")
	v2 := revise(v1)
	v3 := revise(v2)
	m := map[int]builtBundle{}
	for _, e := range []*documents.Entry{v1, v2, v3} {
		m[e.Revision] = buildBundle(t, bundleSpec{entry: e, decision: decide(e, true)})
	}
	r := sendBundle(t, hs.URL, m[2])
	expectOutcome(t, "v2 first", r, http.StatusServiceUnavailable, wire.DetailVersionOutOfOrder)
	if r.header.Get("Retry-After") == "" || r.outcome.Issue[0].Code != "transient" {
		t.Errorf("out of order: Retry-After %q, issue %+v", r.header.Get("Retry-After"), r.outcome.Issue[0])
	}
	expectOutcome(t, "v1", sendBundle(t, hs.URL, m[1]), 201, wire.DetailAccepted)
	expectOutcome(t, "v2 after v1", sendBundle(t, hs.URL, m[2]), 201, wire.DetailAccepted)
	expectOutcome(t, "v3", sendBundle(t, hs.URL, m[3]), 201, wire.DetailAccepted)
	if v, _ := getDocument(t, hs.URL, m[3].id); v.Version != 3 || v.Replaces != m[2].documentID {
		t.Errorf("v3 stored as %+v", v)
	}

	// A fourth version naming version 2 (not the current 3) as replaced.
	v4 := revise(v3)
	v4.Amends.Revision = 2
	expectOutcome(t, "v4 replacing v2", sendBundle(t, hs.URL, buildBundle(t, bundleSpec{entry: v4, decision: decide(v4, true)})),
		http.StatusConflict, wire.DetailVersionConflict)

	// Entered in error: accepted, then the set takes no more versions.
	bad := revise(v3)
	bad.Status = documents.StatusEnteredInError
	bb := buildBundle(t, bundleSpec{entry: bad, decision: decide(bad, true)})
	expectOutcome(t, "invalidation", sendBundle(t, hs.URL, bb), 201, wire.DetailAccepted)
	if v, _ := getDocument(t, hs.URL, bb.id); !v.EnteredInError || v.Version != 4 {
		t.Errorf("invalidating version stored as %+v", v)
	}
	v5 := revise(bad)
	v5.Status = documents.StatusAmended
	expectOutcome(t, "after invalidation", sendBundle(t, hs.URL, buildBundle(t, bundleSpec{entry: v5, decision: decide(v5, true)})),
		http.StatusConflict, wire.DetailSetInvalidated)
	var seen []DocumentView
	getJSON(t, hs.URL+"/api/v1/mykanta/"+v1.Client.Hetu+"?viewer=self&on=2026-12-01", &seen)
	if len(seen) != 0 {
		t.Errorf("invalidated set shown in MyKanta: %+v", seen)
	}
}

// The gateway's route "both" sends each entry revision as CDA and as FHIR:
// both copies are stored, versioned independently, and shown once.
func TestCDAAndFHIRCopiesBothStored(t *testing.T) {
	clk := clock.NewManual(time.Now().UTC().Truncate(time.Second)) // the CDA signatures' time
	cfg := trusted()
	cfg.Clock = clk
	_, hs := newTestServer(t, cfg)
	tick := func() { clk.Set(clk.Now().Add(time.Second)) } // received in this order
	v1 := entry("BOTH-1", documents.RolePsychologist, "2014-01-01")
	v2 := revise(v1)
	c1 := build(t, spec{entry: v1, decision: decide(v1, true)})
	f1 := buildBundle(t, bundleSpec{entry: v1, decision: decide(v1, true)})
	c2 := build(t, spec{entry: v2, decision: decide(v2, true)})
	f2 := buildBundle(t, bundleSpec{entry: v2, decision: decide(v2, true)})
	if f1.documentID != c1.id {
		t.Fatalf("Bundle identifier %s, CDA id %s: the copies should share the document id", f1.documentID, c1.id)
	}

	expectAck(t, submit(t, hs.URL, c1.message), wire.AckAccepted, wire.DetailAccepted)
	tick()
	expectOutcome(t, "FHIR copy of v1", sendBundle(t, hs.URL, f1), 201, wire.DetailAccepted)
	tick()
	expectAck(t, submit(t, hs.URL, c2.message), wire.AckAccepted, wire.DetailAccepted)
	tick()

	view := func() []DocumentView {
		var seen []DocumentView
		getJSON(t, hs.URL+"/api/v1/mykanta/"+v1.Client.Hetu+"?viewer=self&on=2026-12-01", &seen)
		return seen
	}
	// The FHIR copy lags behind: the entry is shown once, from the CDA v2.
	if seen := view(); len(seen) != 1 || seen[0].Version != 2 || seen[0].Format != FormatCDA {
		t.Errorf("MyKanta with CDA v2 and FHIR v1: %+v", seen)
	}
	expectOutcome(t, "FHIR copy of v2", sendBundle(t, hs.URL, f2), 201, wire.DetailAccepted)
	tick()
	// Both at v2: still once, the CDA copy.
	if seen := view(); len(seen) != 1 || seen[0].Version != 2 || seen[0].SetID != c1.setID || seen[0].Format != FormatCDA {
		t.Errorf("MyKanta with both copies at v2: %+v", seen)
	}
	// The FHIR copy first this time: the CDA copy is still the one shown.
	other := entry("BOTH-2", documents.RolePsychologist, "2014-01-01")
	expectOutcome(t, "FHIR copy first", sendBundle(t, hs.URL, buildBundle(t, bundleSpec{entry: other, decision: decide(other, true)})),
		201, wire.DetailAccepted)
	tick()
	oc := build(t, spec{entry: other, decision: decide(other, true)})
	expectAck(t, submit(t, hs.URL, oc.message), wire.AckAccepted, wire.DetailAccepted)
	shown := map[string]Format{}
	for _, v := range view() {
		shown[v.SetID] = v.Format
	}
	if len(shown) != 2 || shown[oc.setID] != FormatCDA || shown[c1.setID] != FormatCDA {
		t.Errorf("MyKanta shows %v, want both entries once, from their CDA copies", shown)
	}
	var prof []DocumentView
	getJSON(t, hs.URL+"/api/v1/professional/"+v1.Client.Hetu+"?role=psychologist", &prof)
	if len(prof) != 2 {
		t.Errorf("professional view shows %d documents, want each of the 2 entries once", len(prof))
	}

	var list []DocumentView
	getJSON(t, hs.URL+"/api/v1/documents?hetu="+v1.Client.Hetu, &list)
	var got []string
	for _, d := range list {
		got = append(got, string(d.Format)+":"+d.DocumentID)
	}
	want := sorted("cda:"+c1.id, "fhir:"+c1.id, "cda:"+c2.id, "fhir:"+c2.id, "cda:"+oc.id, "fhir:"+oc.id)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("stored %v, want %v", got, want)
	}
	// Resending either copy is a duplicate of that copy only.
	expectOutcome(t, "FHIR resend", sendBundle(t, hs.URL, f2), 200, wire.DetailDuplicate)
	expectAck(t, submit(t, hs.URL, c2.message), wire.AckAccepted, wire.DetailDuplicate)
}

// The views of a CDA-only and a FHIR-only run of the same entries agree:
// the flags travel differently in the two formats but mean the same.
func TestFHIRVisibilityAgreesWithCDA(t *testing.T) {
	_, cdaHS := newTestServer(t, trusted())
	_, fhirHS := newTestServer(t, trusted())
	type sent struct {
		e               *documents.Entry
		guardianVisible bool
	}
	young := func(id string) *documents.Entry { return entry(id, documents.RolePsychologist, "2016-03-01") }
	teen := func(id string) *documents.Entry { return entry(id, documents.RolePsychologist, "2012-01-10") }
	delayed := teen("AGREE-T3")
	delayed.MyKanta = documents.MyKanta{Display: documents.DisplayDelayed, ReleaseDate: documents.MustDate("2026-12-15"),
		ReasonCode: "1", ReasonText: "Harkinta"}
	concealed := teen("AGREE-T4")
	concealed.MyKanta = documents.MyKanta{Display: documents.DisplayHidden, ReasonCode: "2", ReasonText: "Peruste"}
	prohibited := teen("AGREE-T6")
	prohibited.Guardian.ProhibitedByProfessional = true
	all := []sent{
		{young("AGREE-Y1"), true}, {young("AGREE-Y2"), false},
		{teen("AGREE-T1"), true}, {teen("AGREE-T2"), false}, {delayed, true}, {concealed, true},
		{entry("AGREE-T5", documents.RoleSchoolWelfareOfficer, "2012-01-10"), true},
		{entry("AGREE-T7", documents.RoleSchoolWelfareOfficer, "2012-01-10"), false},
		{prohibited, false},
	}
	for _, s := range all {
		d := decide(s.e, s.guardianVisible)
		if s.e.ClientRelationship != nil {
			archiveRelationship(t, cdaHS.URL, s.e)
		}
		expectAck(t, submit(t, cdaHS.URL, build(t, spec{entry: s.e, decision: d}).message), wire.AckAccepted, wire.DetailAccepted)
		expectOutcome(t, s.e.ID, sendBundle(t, fhirHS.URL, buildBundle(t, bundleSpec{entry: s.e, decision: d})), 201, wire.DetailAccepted)
	}
	set := func(id string) string { return documents.SetID(documentRoot, id) }
	// What matters of a visible document, format aside.
	key := func(vs []DocumentView) []string {
		var out []string
		for _, v := range vs {
			rd := ""
			if v.ReleaseDate != nil {
				rd = v.ReleaseDate.String()
			}
			out = append(out, strings.Join([]string{v.SetID, string(v.Archive), string(v.AuthorRole), rd,
				boolString(v.Concealed), boolString(v.GuardianDisclosure), v.Confidentiality}, "|"))
		}
		slices.Sort(out)
		return out
	}
	youngHetu, teenHetu := young("x").Client.Hetu, teen("x").Client.Hetu
	tests := []struct {
		path string
		want []string // set ids visible
	}{
		{"/api/v1/mykanta/" + youngHetu + "?viewer=self&on=2026-12-01", sorted(set("AGREE-Y1"), set("AGREE-Y2"))},
		{"/api/v1/mykanta/" + youngHetu + "?viewer=guardian&on=2026-12-01", sorted(set("AGREE-Y1"))},
		{"/api/v1/mykanta/" + teenHetu + "?viewer=self&on=2026-12-14",
			sorted(set("AGREE-T1"), set("AGREE-T2"), set("AGREE-T5"), set("AGREE-T7"), set("AGREE-T6"))},
		{"/api/v1/mykanta/" + teenHetu + "?viewer=self&on=2026-12-15",
			sorted(set("AGREE-T1"), set("AGREE-T2"), set("AGREE-T3"), set("AGREE-T5"), set("AGREE-T7"), set("AGREE-T6"))},
		{"/api/v1/mykanta/" + teenHetu + "?viewer=guardian&on=2026-12-01", sorted(set("AGREE-T1"), set("AGREE-T5"))},
		{"/api/v1/mykanta/" + teenHetu + "?viewer=guardian&on=2026-12-15", sorted(set("AGREE-T1"), set("AGREE-T3"), set("AGREE-T5"))},
		{"/api/v1/mykanta/" + teenHetu + "?viewer=guardian&on=2030-01-10", nil},
		{"/api/v1/professional/" + teenHetu + "?role=psychologist",
			sorted(set("AGREE-T1"), set("AGREE-T2"), set("AGREE-T3"), set("AGREE-T4"), set("AGREE-T6"))},
		{"/api/v1/professional/" + teenHetu + "?role=school_welfare_officer", sorted(set("AGREE-T5"), set("AGREE-T7"))},
	}
	for _, tt := range tests {
		var fromCDA, fromFHIR []DocumentView
		if getJSON(t, cdaHS.URL+tt.path, &fromCDA) != 200 || getJSON(t, fhirHS.URL+tt.path, &fromFHIR) != 200 {
			t.Fatalf("%s: not 200", tt.path)
		}
		var sets []string
		for _, v := range fromFHIR {
			sets = append(sets, v.SetID)
			if v.Format != FormatFHIR {
				t.Errorf("%s: FHIR run shows a %s document", tt.path, v.Format)
			}
		}
		slices.Sort(sets)
		if !slices.Equal(sets, tt.want) {
			t.Errorf("%s: FHIR run shows sets %v, want %v", tt.path, sets, tt.want)
		}
		if a, b := key(fromCDA), key(fromFHIR); !slices.Equal(a, b) {
			t.Errorf("%s: views differ\n CDA  %v\n FHIR %v", tt.path, a, b)
		}
	}
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// Every fault kind answers the FHIR route with the archive route's status,
// as an OperationOutcome.
func TestFHIRFaults(t *testing.T) {
	for _, status := range []int{500, 502, 503} {
		s, hs := newTestServer(t, Config{Faults: Faults{ErrorRate: 1, ErrorStatus: status}})
		r := postBundle(t, hs.URL, "application/fhir+json", []byte("{}"))
		want := wire.DetailInternalError
		if status == 503 {
			want = wire.DetailServiceUnavailable
		}
		expectOutcome(t, "error fault", r, status, want)
		if st := s.Stats(); st.Faults[faultError] != 1 || st.Formats[FormatFHIR].Errors[want] != 1 {
			t.Errorf("stats after error fault: %+v", st)
		}
	}

	_, hs := newTestServer(t, Config{Faults: Faults{RateLimitRate: 1, RetryAfterSeconds: 7}})
	r := postBundle(t, hs.URL, "application/fhir+json", []byte("{}"))
	expectOutcome(t, "rate limit", r, http.StatusTooManyRequests, wire.DetailRateLimited)
	if r.header.Get("Retry-After") != "7" || r.outcome.Issue[0].Code != "throttled" {
		t.Errorf("rate limit: Retry-After %q issue %+v", r.header.Get("Retry-After"), r.outcome.Issue[0])
	}

	clk := clock.NewManual(time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC))
	until := clk.Now().Add(90 * time.Second)
	_, hs = newTestServer(t, Config{Clock: clk, Faults: Faults{OutageUntil: &until}})
	r = postBundle(t, hs.URL, "application/fhir+json", []byte("{}"))
	expectOutcome(t, "outage", r, http.StatusServiceUnavailable, wire.DetailServiceUnavailable)
	if r.header.Get("Retry-After") != "91" {
		t.Errorf("outage Retry-After %q, want 91", r.header.Get("Retry-After"))
	}
	clk.Set(until)
	expectOutcome(t, "after outage", postBundle(t, hs.URL, "application/fhir+json", []byte("{}")), 400, wire.DetailMalformedFrame)

	_, hs = newTestServer(t, Config{Faults: Faults{Latency: Duration(150 * time.Millisecond)}})
	start := time.Now()
	r = postBundle(t, hs.URL, "application/fhir+json", []byte("{}"))
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("answered after %v, want at least the 150ms latency", d)
	}
	expectOutcome(t, "latency only delays", r, 400, wire.DetailMalformedFrame)

	s, hs := newTestServer(t, Config{Faults: Faults{TimeoutRate: 1}})
	c := &http.Client{Timeout: 200 * time.Millisecond}
	_, err := c.Post(hs.URL+"/fhir/r4/Bundle", "application/fhir+json", strings.NewReader("{}"))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("timeout fault: err = %v, want a client timeout", err)
	}
	if st := s.Stats(); st.Faults[faultTimeout] != 1 {
		t.Errorf("faults = %v, want timeout 1", st.Faults)
	}

	// Lost answer: stored, the connection dropped; the resend is a duplicate.
	s, hs = newTestServer(t, trusted())
	s.SetFaults(Faults{AckLostRate: 1})
	e := entry("FLOST-1", documents.RolePsychologist, "2014-01-01")
	b := buildBundle(t, bundleSpec{entry: e, decision: decide(e, true)})
	if resp, err := http.Post(hs.URL+"/fhir/r4/Bundle", "application/fhir+json", bytes.NewReader(b.raw)); err == nil {
		resp.Body.Close()
		t.Fatalf("client got status %d, want the connection dropped", resp.StatusCode)
	}
	if v, status := getDocument(t, hs.URL, b.id); status != 200 || v.Submissions != 1 {
		t.Fatalf("after lost answer: %d %+v, want stored once", status, v)
	}
	s.SetFaults(Faults{})
	expectOutcome(t, "resend after lost answer", sendBundle(t, hs.URL, b), 200, wire.DetailDuplicate)
	if st := s.Stats(); st.Faults[faultAckLost] != 1 || st.Formats[FormatFHIR].Accepted != 1 || st.Formats[FormatFHIR].Duplicates != 1 {
		t.Errorf("stats %+v", st)
	}
}

// An archive written before the FHIR route (no document_id, versions unique
// per set) is migrated on open: its documents keep their ids, and a FHIR
// copy of a stored set can be added.
func TestMigratesArchiveWithoutFormatVersioning(t *testing.T) {
	dir := t.TempDir()
	e := entry("MIG-1", documents.RolePsychologist, "2014-01-01")
	setID := documents.SetID(documentRoot, e.ID)
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "mock-kanta.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`CREATE TABLE documents (
	id TEXT PRIMARY KEY, set_id TEXT NOT NULL, version INTEGER NOT NULL, archive TEXT NOT NULL,
	interaction TEXT NOT NULL, hetu TEXT NOT NULL, author_role TEXT NOT NULL, release_date TEXT NOT NULL,
	concealed INTEGER NOT NULL, guardian_disclosure INTEGER NOT NULL, confidentiality TEXT NOT NULL,
	signature_type TEXT NOT NULL, entered_in_error INTEGER NOT NULL, format TEXT NOT NULL,
	replaces_id TEXT NOT NULL, received_at TEXT NOT NULL, submissions INTEGER NOT NULL,
	content_sha256 BLOB NOT NULL, content BLOB NOT NULL, UNIQUE (set_id, version))`,
		`CREATE INDEX documents_hetu ON documents (hetu)`,
		`INSERT INTO documents VALUES ('` + setID + `', '` + setID + `', 1, 'patient', 'RCMR_IN100002FI01', '` + e.Client.Hetu + `',
		'psychologist', '', 0, 1, '5', '3', 0, 'cda', '', '2026-11-22T12:00:00.000000000Z', 1, x'00', x'3c612f3e')`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	cfg := trusted()
	cfg.DataDir = dir
	_, hs := newTestServer(t, cfg)
	if v, status := getDocument(t, hs.URL, setID); status != 200 || v.DocumentID != setID || v.Format != FormatCDA {
		t.Fatalf("migrated document: %d %+v", status, v)
	}
	b := buildBundle(t, bundleSpec{entry: e, decision: decide(e, true)})
	expectOutcome(t, "FHIR copy of a migrated set", sendBundle(t, hs.URL, b), 201, wire.DetailAccepted)
}

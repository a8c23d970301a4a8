package fhir

import (
	"bytes"
	"sync"
	"testing"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
)

type bundleKind struct {
	b   *Bundle
	raw []byte // signed, as Marshal writes it
}

// bundleKinds builds and signs one Bundle of every kind the route makes:
// a new document of each profession, an amendment, an invalidation, every
// MyKanta restriction, every guardian basis of a minor (with and without
// consent), an adult's, and an outsourced service's.
// Built once per test binary: three tests read them.
func bundleKinds(t testing.TB) map[string]bundleKind {
	t.Helper()
	kindsOnce.Do(func() { kindsBuilt = buildBundleKinds(t) })
	if kindsBuilt == nil {
		t.Fatal("building the Bundle kinds failed in an earlier test")
	}
	return kindsBuilt
}

var (
	kindsOnce  sync.Once
	kindsBuilt map[string]bundleKind
)

func buildBundleKinds(t testing.TB) map[string]bundleKind {
	t.Helper()
	type kind struct {
		role    documents.Role
		birth   string
		edit    func(*documents.Entry)
		history history
	}
	kinds := map[string]kind{
		"new psychologist":    {documents.RolePsychologist, "2016-05-05", nil, nil},
		"new welfare officer": {documents.RoleSchoolWelfareOfficer, "2016-05-05", nil, nil},
		"adult":               {documents.RolePsychologist, "2000-01-01", nil, nil},
		"outsourced":          {documents.RolePsychologist, "2016-05-05", func(e *documents.Entry) { e.Service.ProviderOID = "1.2.246.10.1234567.19.1" }, nil},
		"amendment": {documents.RolePsychologist, "2016-05-05", func(e *documents.Entry) {
			e.Revision, e.Status, e.Amends = 2, documents.StatusAmended, &documents.Amends{Revision: 1, Reason: "korjaus"}
		}, history{"APT-PSY-000001": 1}},
		"invalidation":         {documents.RolePsychologist, "2016-05-05", func(e *documents.Entry) { e.Revision, e.Status = 3, documents.StatusEnteredInError }, history{"APT-PSY-000001": 2}},
		"welfare invalidation": {documents.RoleSchoolWelfareOfficer, "2016-05-05", func(e *documents.Entry) { e.Revision, e.Status = 2, documents.StatusEnteredInError }, history{"APT-SOS-000001": 1}},
		"mykanta delayed": {documents.RolePsychologist, "2000-01-01", func(e *documents.Entry) {
			e.MyKanta = documents.MyKanta{Display: documents.DisplayDelayed, ReleaseDate: documents.MustDate("2027-01-15"), ReasonCode: "2", ReasonText: "Lain mukainen peruste"}
		}, nil},
		"mykanta concealed": {documents.RoleSchoolWelfareOfficer, "2000-01-01", func(e *documents.Entry) {
			e.MyKanta = documents.MyKanta{Display: documents.DisplayHidden, ReasonCode: "1", ReasonText: "Vaara terveydelle"}
		}, nil},
		"minor not capable": {documents.RolePsychologist, "2016-05-05", func(e *documents.Entry) { e.Guardian = documents.Guardian{} }, nil},
		"minor consent granted": {documents.RolePsychologist, "2012-03-01", func(e *documents.Entry) {
			e.Guardian = documents.Guardian{MinorConsent: documents.ConsentGranted, MaturityAssessed: true}
		}, nil},
		"minor consent refused": {documents.RolePsychologist, "2012-03-01", func(e *documents.Entry) {
			e.Guardian = documents.Guardian{MinorConsent: documents.ConsentRefused, MaturityAssessed: true}
		}, nil},
		"minor not assessed": {documents.RoleSchoolWelfareOfficer, "2012-03-01", func(e *documents.Entry) { e.Guardian = documents.Guardian{MinorConsent: documents.ConsentNotAssessed} }, nil},
		"minor prohibited": {documents.RolePsychologist, "2012-03-01", func(e *documents.Entry) {
			e.Guardian = documents.Guardian{MinorConsent: documents.ConsentGranted, ProhibitedByProfessional: true}
		}, nil},
		"delayed and prohibited minor": {documents.RoleSchoolWelfareOfficer, "2012-03-01", func(e *documents.Entry) {
			e.MyKanta = documents.MyKanta{Display: documents.DisplayDelayed, ReleaseDate: documents.MustDate("2027-01-15"), ReasonCode: "1"}
			e.Guardian = documents.Guardian{ProhibitedByProfessional: true}
		}, nil},
	}
	out := make(map[string]bundleKind, len(kinds))
	for name, k := range kinds {
		e := entry(k.role, k.birth)
		if k.edit != nil {
			k.edit(e)
		}
		var h documents.History
		if k.history != nil {
			h = k.history
		}
		b, _ := build(t, e, decide(t, e, h))
		sign(t, b)
		out[name] = bundleKind{b: b, raw: mustMarshal(t, b)}
	}
	return out
}

// Every Bundle kind validates against the R4 schema, decodes into the
// types and re-encodes to the same canonical (JCS) form, and its signature
// verifies on what was received and after a decode and re-encode.
func TestEveryBundleKindRoundTripsAndVerifies(t *testing.T) {
	p := getPKI(t)
	kinds := bundleKinds(t)
	codesSeen := map[string]bool{}
	for name, k := range kinds {
		t.Run(name, func(t *testing.T) {
			if err := Validate(k.raw); err != nil {
				t.Fatalf("schema: %v", err)
			}
			back, err := Unmarshal(k.raw)
			if err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			again := mustMarshal(t, back)
			c1, err := canonicalJSON(k.raw) // the signature included
			if err != nil {
				t.Fatal(err)
			}
			c2, err := canonicalJSON(again)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(c1, c2) {
				t.Fatalf("canonical form changed in a round trip:\n%s\n%s", c1, c2)
			}
			if _, _, err := VerifyJSON(k.raw, p.roots); err != nil {
				t.Errorf("as received: %v", err)
			}
			if _, _, err := VerifyJSON(again, p.roots); err != nil {
				t.Errorf("after decode and re-encode: %v", err)
			}
			if _, err := Verify(back, p.roots); err != nil {
				t.Errorf("decoded Bundle: %v", err)
			}
			s := mustInspect(t, back)
			codesSeen[s.GuardianDisclosure] = true
		})
	}
	for _, code := range []string{"", "1", "2", "3", "4"} {
		if !codesSeen[code] {
			t.Errorf("no Bundle kind carries guardian code %q", code)
		}
	}
}

package fhir

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/config"
	"github.com/helsinki-student-welfare/kanta-gateway/documents"
)

var (
	helsinki = mustLocation("Europe/Helsinki")
	// now is after the welfare officers' go-live, so both roles are due.
	now     = time.Date(2026, 11, 21, 12, 0, 0, 0, helsinki)
	testOrg = documents.Organisation{OID: "1.2.246.10.2012566.19.1", Name: "Helsingin kaupunki", DocumentRoot: "1.2.246.10.2012566"}
)

func mustLocation(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// testHetu makes a valid test identity code (individual number 900-999).
func testHetu(birth string, individual int) string {
	d := documents.MustDate(birth)
	first10 := fmt.Sprintf("%02d%02d%02d%c%03d", d.Day, d.Month, d.Year%100, documents.HetuCenturySign(d.Year), individual)
	return first10 + string(documents.HetuCheckChar(first10))
}

// entry returns a valid first revision by the given profession about a
// client born on birth (finalized 2026-11-20).
func entry(role documents.Role, birth string) *documents.Entry {
	e := &documents.Entry{
		ID:          "APT-PSY-000001",
		Revision:    1,
		Status:      documents.StatusFinal,
		FinalizedAt: time.Date(2026, 11, 20, 10, 15, 0, 0, helsinki),
		Author:      documents.Author{Role: role, RegistrationNumber: "100000001", Given: "Pirjo", Family: "Psykologi"},
		Client:      documents.Client{Hetu: testHetu(birth, 921), Given: "Testi Tapani", Family: "Oppilas", BirthDate: documents.MustDate(birth), HomeMunicipality: "091"},
		Service: documents.Service{
			Kind: documents.ServiceSchoolPsychology, UnitOID: "1.2.246.10.2012566.10.1001",
			UnitName: "Kallion koulun oppilashuolto", OrganiserOID: testOrg.OID,
		},
		Encounter: documents.Encounter{
			ID: "ENC-1", Type: documents.EncounterVisit,
			Start: time.Date(2026, 11, 20, 9, 0, 0, 0, helsinki), End: time.Date(2026, 11, 20, 9, 45, 0, 0, helsinki),
		},
		Text:     documents.Text{Title: "Psykologin käynti", Narrative: "Tapaaminen oppilaan kanssa.", Language: "fi"},
		MyKanta:  documents.MyKanta{Display: documents.DisplayVisible},
		Guardian: documents.Guardian{MinorConsent: documents.ConsentNotAssessed},
	}
	if role == documents.RoleSchoolWelfareOfficer {
		e.ID = "APT-SOS-000001"
		e.Author.Family = "Kuraattori"
		e.Service.Kind = documents.ServiceSchoolSocialWork
		e.Encounter.Type = documents.EncounterPhone
		e.ClientRelationship = &documents.ClientRelationship{ID: "CR-1", Opened: documents.MustDate("2026-08-15")}
		e.Text.Title = "Kuraattorin puhelu"
	}
	return e
}

type history map[string]int

func (h history) LatestAccepted(id string) (int, bool) { r, ok := h[id]; return r, ok }

// decide runs the default policy; the outcome must make a document.
func decide(t testing.TB, e *documents.Entry, h documents.History) documents.Decision {
	t.Helper()
	cfg := config.Default()
	d := cfg.PolicyEngine().Decide(e, now, h)
	if d.Outcome != documents.OutcomeSubmit && d.Outcome != documents.OutcomeInvalidate {
		t.Fatalf("policy outcome %s (%s): %s", d.Outcome, d.ReasonClass, d.Reason)
	}
	return d
}

// build builds, and checks what every Bundle must satisfy: valid against
// the FHIR R4 schema, deterministic, and round-tripping through the structs.
func build(t testing.TB, e *documents.Entry, d documents.Decision) (*Bundle, []byte) {
	t.Helper()
	b, err := Build(e, d, testOrg, Options{})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	raw := mustMarshal(t, b)
	checkBundleJSON(t, raw)
	b2, err := Build(e, d, testOrg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if again := mustMarshal(t, b2); !bytes.Equal(raw, again) {
		t.Fatal("Build is not deterministic: two builds differ")
	}
	return b, raw
}

// checkBundleJSON validates against the schema and checks the round trip.
func checkBundleJSON(t testing.TB, raw []byte) {
	t.Helper()
	if err := Validate(raw); err != nil {
		t.Fatalf("schema: %v", err)
	}
	back, err := Unmarshal(raw)
	if err != nil {
		t.Fatalf("Unmarshal: %v", err)
	}
	if again := mustMarshal(t, back); !bytes.Equal(raw, again) {
		t.Fatalf("round trip changed the JSON:\n%s\n%s", raw, again)
	}
}

func mustMarshal(t testing.TB, v any) []byte {
	t.Helper()
	raw, err := Marshal(v)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	return raw
}

func mustInspect(t testing.TB, b *Bundle) Summary {
	t.Helper()
	s, err := Inspect(b)
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	return s
}

func composition(t testing.TB, b *Bundle) *Composition {
	t.Helper()
	c, ok := b.Entry[0].Resource.(*Composition)
	if !ok {
		t.Fatalf("first entry is %T", b.Entry[0].Resource)
	}
	return c
}

// resources returns the entries' resources of type T.
func resources[T Resource](b *Bundle) []T {
	var out []T
	for _, e := range b.Entry {
		if r, ok := e.Resource.(T); ok {
			out = append(out, r)
		}
	}
	return out
}

func only[T Resource](t testing.TB, b *Bundle) T {
	t.Helper()
	rs := resources[T](b)
	if len(rs) != 1 {
		var zero T
		t.Fatalf("want one %T, got %d", zero, len(rs))
	}
	return rs[0]
}

// resolve finds the resource a reference points at.
func resolve(t testing.TB, b *Bundle, r *Reference) Resource {
	t.Helper()
	if r == nil {
		t.Fatal("nil reference")
	}
	for _, e := range b.Entry {
		if val(e.FullUrl) == val(r.Reference) {
			return e.Resource
		}
	}
	t.Fatalf("reference %q resolves to no entry", val(r.Reference))
	return nil
}

// Test PKI: a CA and a leaf (2048-bit RSA), generated once per test binary.
type testPKI struct {
	caKey, leafKey *rsa.PrivateKey
	ca, leaf       *x509.Certificate
	otherRoot      *x509.Certificate // an unrelated self-signed CA
	roots, others  *x509.CertPool
}

var (
	pkiOnce sync.Once
	pki     testPKI
)

func getPKI(t testing.TB) *testPKI {
	t.Helper()
	pkiOnce.Do(func() {
		var err error
		must := func(e error) {
			if e != nil {
				panic(e)
			}
		}
		pki.caKey, err = rsa.GenerateKey(rand.Reader, 2048)
		must(err)
		pki.leafKey, err = rsa.GenerateKey(rand.Reader, 2048)
		must(err)
		start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		caTmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test CA"},
			NotBefore: start, NotAfter: start.AddDate(10, 0, 0),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
		}
		der, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &pki.caKey.PublicKey, pki.caKey)
		must(err)
		pki.ca, err = x509.ParseCertificate(der)
		must(err)
		leafTmpl := &x509.Certificate{
			SerialNumber: big.NewInt(2),
			Subject:      pkix.Name{CommonName: "Helsinki system signature", SerialNumber: testOrg.OID},
			NotBefore:    start, NotAfter: start.AddDate(2, 0, 0), KeyUsage: x509.KeyUsageDigitalSignature,
		}
		der, err = x509.CreateCertificate(rand.Reader, leafTmpl, pki.ca, &pki.leafKey.PublicKey, pki.caKey)
		must(err)
		pki.leaf, err = x509.ParseCertificate(der)
		must(err)
		otherTmpl := &x509.Certificate{
			SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "Other CA"},
			NotBefore: start, NotAfter: start.AddDate(10, 0, 0),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
		}
		der, err = x509.CreateCertificate(rand.Reader, otherTmpl, otherTmpl, &pki.leafKey.PublicKey, pki.leafKey)
		must(err)
		pki.otherRoot, err = x509.ParseCertificate(der)
		must(err)
		pki.roots = x509.NewCertPool()
		pki.roots.AddCert(pki.ca)
		pki.others = x509.NewCertPool()
		pki.others.AddCert(pki.otherRoot)
	})
	return &pki
}

var signedAt = time.Date(2026, 11, 21, 12, 0, 5, 0, helsinki)

func sign(t testing.TB, b *Bundle) {
	t.Helper()
	p := getPKI(t)
	if err := Sign(b, p.leafKey, []*x509.Certificate{p.leaf, p.ca}, signedAt, testOrg.OID); err != nil {
		t.Fatalf("Sign: %v", err)
	}
}

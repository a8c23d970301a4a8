package mockkanta

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/helsinki-student-welfare/kanta-gateway/clock"
	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/hl7"
	"github.com/helsinki-student-welfare/kanta-gateway/internal/kantasample"
	"github.com/helsinki-student-welfare/kanta-gateway/signing"
	"github.com/helsinki-student-welfare/kanta-gateway/wire"
)

func trusted() Config { return Config{TrustRoots: testPKI.roots} }

func getDocument(t testing.TB, url, id string) (DocumentView, int) {
	t.Helper()
	var v DocumentView
	status := getJSON(t, url+"/api/v1/documents/"+id, &v)
	return v, status
}

func getCDA(t testing.TB, url, id string) []byte {
	t.Helper()
	resp, err := http.Get(url + "/api/v1/documents/" + id + "/cda")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET cda: %d", resp.StatusCode)
	}
	return b
}

func TestAcceptsSignedDocuments(t *testing.T) {
	_, hs := newTestServer(t, trusted())
	psy := entry("ACC-PSY", documents.RolePsychologist, "2014-01-01")
	kur := entry("ACC-KUR", documents.RoleSchoolWelfareOfficer, "2014-01-01")
	card := entry("ACC-CARD", documents.RolePsychologist, "2014-01-01")
	archiveRelationship(t, hs.URL, kur)
	for _, tt := range []struct {
		name        string
		s           spec
		archive     documents.Archive
		interaction string
		sigType     string
	}{
		{"health care, system signature", spec{entry: psy, decision: decide(psy, true)},
			documents.ArchivePatient, hl7.InteractionNewHealth, "3"},
		{"social welfare, system signature", spec{entry: kur, decision: decide(kur, true)},
			documents.ArchiveSocial, hl7.InteractionSocial, "3"},
		{"health care, professional's card", spec{entry: card, decision: decide(card, true),
			identity: testPKI.card, sigType: signing.TypeProfessional},
			documents.ArchivePatient, hl7.InteractionNewHealth, "1"},
	} {
		b := build(t, tt.s)
		ack := submit(t, hs.URL, b.message)
		expectAck(t, ack, wire.AckAccepted, wire.DetailAccepted)
		if want := documents.MessageID(documentRoot, tt.s.entry.ID, 1); ack.TargetMessageID != want {
			t.Errorf("%s: ack targets %q, want %q", tt.name, ack.TargetMessageID, want)
		}
		v, status := getDocument(t, hs.URL, b.id)
		if status != 200 {
			t.Fatalf("%s: GET document: %d", tt.name, status)
		}
		if v.SetID != b.setID || v.Version != 1 || v.Archive != tt.archive || v.Interaction != tt.interaction ||
			v.SignatureType != tt.sigType || v.Submissions != 1 || v.Format != FormatCDA || v.EnteredInError ||
			v.AuthorRole != tt.s.entry.Author.Role {
			t.Errorf("%s: stored %+v", tt.name, v)
		}
		if got := getCDA(t, hs.URL, b.id); !bytes.Equal(got, b.cda) {
			t.Errorf("%s: stored CDA differs from the signed document sent", tt.name)
		}
	}
	var list []DocumentView
	getJSON(t, hs.URL+"/api/v1/documents?hetu="+psy.Client.Hetu+"&archive=social", &list)
	// The entry, and its client relationship document archived before it.
	if len(list) != 2 || list[0].Archive != documents.ArchiveSocial || list[1].Archive != documents.ArchiveSocial ||
		list[0].ServiceRequest+list[1].ServiceRequest != "SP17SP1" && list[0].ServiceRequest+list[1].ServiceRequest != "SP1SP17" {
		t.Errorf("social documents of the client: %+v", list)
	}
}

// Each check, with a message that fails it and the acknowledgement it gets.
func TestChecks(t *testing.T) {
	_, hs := newTestServer(t, trusted())
	psy := func(id string) *documents.Entry { return entry(id, documents.RolePsychologist, "2014-01-01") }
	withSpec := func(e *documents.Entry, mod func(*spec)) spec {
		s := spec{entry: e, decision: decide(e, true)}
		if mod != nil {
			mod(&s)
		}
		return s
	}
	otherAuthor := psy("CHK-CARD")
	otherAuthor.Author.RegistrationNumber = "100000002"
	realCode := psy("CHK-REAL")
	realCode.Client.Hetu = hetuFor("2014-01-01", 123)
	badCheck := psy("CHK-BADHETU")
	badCheck.Client.Hetu = badCheck.Client.Hetu[:10] + "X"
	if badCheck.Client.Hetu == psy("x").Client.Hetu {
		badCheck.Client.Hetu = badCheck.Client.Hetu[:10] + "Y"
	}

	tests := []struct {
		name   string
		msg    func() []byte
		code   wire.AckCode
		detail string
	}{
		{"not XML", func() []byte { return []byte("not a message") }, wire.AckRejected, wire.DetailMalformedFrame},
		{"frame without document", func() []byte {
			return []byte(`<RCMR_IN100002FI01 xmlns="urn:hl7-org:v3"><id root="1.2.3"/><interactionId extension="RCMR_IN100002FI01"/></RCMR_IN100002FI01>`)
		}, wire.AckRejected, wire.DetailMalformedFrame},
		{"unknown interaction", func() []byte {
			b := build(t, withSpec(psy("CHK-INT"), nil)).message
			return bytes.ReplaceAll(b, []byte(hl7.InteractionNewHealth), []byte("RCMR_IN999999FI01"))
		}, wire.AckRejected, wire.DetailUnknownInteraction},
		{"production processing code in test", func() []byte {
			return build(t, withSpec(psy("CHK-PC"), func(s *spec) { s.processingCode = "P" })).message
		}, wire.AckRejected, wire.DetailProcessingCode},
		{"frame version differs from document", func() []byte {
			return build(t, withSpec(psy("CHK-META"), func(s *spec) {
				s.editFrame = func(b []byte) []byte {
					return replaceOnce(b, `<versionNumber value="1"/>`, `<versionNumber value="2"/>`)
				}
			})).message
		}, wire.AckRejected, wire.DetailMetadataMismatch},
		{"local header lacks recordStatus", func() []byte {
			return build(t, withSpec(psy("CHK-PROF"), func(s *spec) {
				s.editCDA = func(d *etree.Document) {
					h := d.Root().SelectElement("localHeader")
					h.RemoveChild(h.SelectElement("recordStatus"))
				}
			})).message
		}, wire.AckRejected, wire.DetailProfileViolation},
		{"empty signatureCollection", func() []byte {
			return build(t, withSpec(psy("CHK-NOSIG"), func(s *spec) { s.unsigned = true })).message
		}, wire.AckRejected, wire.DetailSignatureMissing},
		{"body changed after signing", func() []byte {
			return build(t, withSpec(psy("CHK-SIG"), func(s *spec) {
				s.editSigned = func(b []byte) []byte { return replaceOnce(b, "Tapaaminen koululla", "Tapaaminen kotona") }
			})).message
		}, wire.AckRejected, wire.DetailSignatureInvalid},
		{"signer from an untrusted CA", func() []byte {
			return build(t, withSpec(psy("CHK-TRUST"), func(s *spec) { s.identity = testPKI.untrusted })).message
		}, wire.AckRejected, wire.DetailSignerNotTrusted},
		{"system signature of another organisation", func() []byte {
			return build(t, withSpec(psy("CHK-ORG"), func(s *spec) { s.identity = testPKI.other })).message
		}, wire.AckRejected, wire.DetailSignatureTypeMismatch},
		{"professional signature by someone else's card", func() []byte {
			return build(t, withSpec(otherAuthor, func(s *spec) {
				s.identity, s.sigType = testPKI.card, signing.TypeProfessional
			})).message
		}, wire.AckRejected, wire.DetailSignatureTypeMismatch},
		{"health document in the social welfare interaction", func() []byte {
			b := build(t, withSpec(psy("CHK-ARCH"), nil)).message
			return bytes.ReplaceAll(b, []byte(hl7.InteractionNewHealth), []byte(hl7.InteractionSocial))
		}, wire.AckRejected, wire.DetailInteractionMismatch},
		{"new health document as a replacement", func() []byte {
			b := build(t, withSpec(psy("CHK-RPLC"), nil)).message
			b = bytes.ReplaceAll(b, []byte(hl7.InteractionNewHealth), []byte(hl7.InteractionReplaceHealth))
			// A replacing frame carries its correction reason (else it is malformed).
			return bytes.Replace(b, []byte("<languageCode"), []byte(`<reasonCode code="1" codeSystem="1.2.246.537.5.40178.2008"/><languageCode`), 1)
		}, wire.AckRejected, wire.DetailInteractionMismatch},
		{"real identity code in the test environment", func() []byte {
			return build(t, withSpec(realCode, nil)).message
		}, wire.AckRejected, wire.DetailNotTestIdentity},
		{"identity code with a wrong check character", func() []byte {
			return build(t, withSpec(badCheck, nil)).message
		}, wire.AckRejected, wire.DetailInvalidIdentity},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expectAck(t, submit(t, hs.URL, tt.msg()), tt.code, tt.detail)
		})
	}
	st := getStats(t, hs.URL)
	if st.Accepted != 0 || st.Rejected[wire.DetailSignatureTypeMismatch] != 2 || st.Rejected[wire.DetailMalformedFrame] != 2 {
		t.Errorf("stats = %+v", st)
	}
	var all []DocumentView
	getJSON(t, hs.URL+"/api/v1/documents", &all)
	if len(all) != 0 {
		t.Errorf("%d refused documents stored", len(all))
	}
}

func TestProductionRefusesTestIdentity(t *testing.T) {
	cfg := trusted()
	cfg.Environment = EnvironmentProduction
	_, hs := newTestServer(t, cfg)
	e := entry("PROD-1", documents.RolePsychologist, "2014-01-01")
	b := build(t, spec{entry: e, decision: decide(e, true), processingCode: "P"})
	expectAck(t, submit(t, hs.URL, b.message), wire.AckRejected, wire.DetailTestIdentity)

	real := entry("PROD-2", documents.RolePsychologist, "2014-01-01")
	real.Client.Hetu = hetuFor("2014-01-01", 123)
	b = build(t, spec{entry: real, decision: decide(real, true), processingCode: "P"})
	expectAck(t, submit(t, hs.URL, b.message), wire.AckAccepted, wire.DetailAccepted)

	resp, err := http.Post(hs.URL+"/api/v1/reset", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("reset in production: %d, want 403", resp.StatusCode)
	}
}

func TestIdempotency(t *testing.T) {
	_, hs := newTestServer(t, trusted())
	e := entry("IDEM-1", documents.RolePsychologist, "2014-01-01")
	b := build(t, spec{entry: e, decision: decide(e, true)})
	expectAck(t, submit(t, hs.URL, b.message), wire.AckAccepted, wire.DetailAccepted)
	ack := submit(t, hs.URL, b.message)
	expectAck(t, ack, wire.AckAccepted, wire.DetailDuplicate)
	if !ack.Duplicate {
		t.Error("duplicate ack not marked Duplicate")
	}
	if v, _ := getDocument(t, hs.URL, b.id); v.Submissions != 2 {
		t.Errorf("submissions = %d, want 2", v.Submissions)
	}
	// Same entry revision with other content (an edit without a new
	// revision): same id, other bytes.
	changed := *e
	changed.Text.Narrative += " Lisäys."
	again := build(t, spec{entry: &changed, decision: decide(&changed, true)})
	if again.id != b.id || bytes.Equal(again.cda, b.cda) {
		t.Fatal("fixture: rebuild should keep the id and change the bytes")
	}
	expectAck(t, submit(t, hs.URL, again.message), wire.AckRejected, wire.DetailVersionConflict)
	if got := getCDA(t, hs.URL, b.id); !bytes.Equal(got, b.cda) {
		t.Error("conflicting submission changed the stored document")
	}
	var list []DocumentView
	getJSON(t, hs.URL+"/api/v1/documents?hetu="+e.Client.Hetu, &list)
	if len(list) != 1 {
		t.Errorf("%d documents stored, want 1", len(list))
	}
	if st := getStats(t, hs.URL); st.Accepted != 1 || st.Duplicates != 1 || st.Rejected[wire.DetailVersionConflict] != 1 {
		t.Errorf("stats = %+v", st)
	}
}

func TestVersionOrder(t *testing.T) {
	_, hs := newTestServer(t, trusted())
	v1 := entry("VER-1", documents.RolePsychologist, "2014-01-01")
	v2 := revise(v1)
	v3 := revise(v2)
	m := map[int]built{}
	for _, e := range []*documents.Entry{v1, v2, v3} {
		m[e.Revision] = build(t, spec{entry: e, decision: decide(e, true)})
	}
	expectAck(t, submit(t, hs.URL, m[2].message), wire.AckError, wire.DetailVersionOutOfOrder)
	expectAck(t, submit(t, hs.URL, m[1].message), wire.AckAccepted, wire.DetailAccepted)
	expectAck(t, submit(t, hs.URL, m[3].message), wire.AckError, wire.DetailVersionOutOfOrder)
	expectAck(t, submit(t, hs.URL, m[2].message), wire.AckAccepted, wire.DetailAccepted)
	expectAck(t, submit(t, hs.URL, m[3].message), wire.AckAccepted, wire.DetailAccepted)

	// A fourth version that claims to replace version 2 (not the current 3).
	v4 := revise(v3)
	v4.Amends.Revision = 2
	expectAck(t, submit(t, hs.URL, build(t, spec{entry: v4, decision: decide(v4, true)}).message),
		wire.AckRejected, wire.DetailProfileViolation)

	// Entered in error: accepted, and the set is invalidated.
	bad := revise(v3)
	bad.Status = documents.StatusEnteredInError
	bm := build(t, spec{entry: bad, decision: decide(bad, true)})
	expectAck(t, submit(t, hs.URL, bm.message), wire.AckAccepted, wire.DetailAccepted)
	if v, _ := getDocument(t, hs.URL, bm.id); !v.EnteredInError || v.Version != 4 || v.Replaces != m[3].id {
		t.Errorf("invalidating version stored as %+v", v)
	}
	v5 := revise(bad)
	v5.Status = documents.StatusAmended
	expectAck(t, submit(t, hs.URL, build(t, spec{entry: v5, decision: decide(v5, true)}).message),
		wire.AckRejected, wire.DetailSetInvalidated)
	var seen []DocumentView
	getJSON(t, hs.URL+"/api/v1/mykanta/"+v1.Client.Hetu+"?viewer=self&on=2026-12-01", &seen)
	if len(seen) != 0 {
		t.Errorf("invalidated set shown in MyKanta: %+v", seen)
	}

	// Social welfare replacements travel in the same interaction.
	s1 := entry("VER-S", documents.RoleSchoolWelfareOfficer, "2014-01-01")
	s2 := revise(s1)
	archiveRelationship(t, hs.URL, s1)
	expectAck(t, submit(t, hs.URL, build(t, spec{entry: s1, decision: decide(s1, true)}).message), wire.AckAccepted, wire.DetailAccepted)
	expectAck(t, submit(t, hs.URL, build(t, spec{entry: s2, decision: decide(s2, true)}).message), wire.AckAccepted, wire.DetailAccepted)
	getJSON(t, hs.URL+"/api/v1/mykanta/"+s1.Client.Hetu+"?viewer=self&on=2026-12-01", &seen)
	if len(seen) != 1 || seen[0].Version != 2 || seen[0].Archive != documents.ArchiveSocial {
		t.Errorf("MyKanta after social replacement: %+v", seen)
	}
}

func TestAckLost(t *testing.T) {
	s, hs := newTestServer(t, trusted())
	if err := s.SetFaults(Faults{AckLostRate: 1}); err != nil {
		t.Fatal(err)
	}
	e := entry("LOST-1", documents.RolePsychologist, "2014-01-01")
	b := build(t, spec{entry: e, decision: decide(e, true)})
	if resp, _, err := postRaw(t, http.DefaultClient, hs.URL, b.message); err == nil {
		t.Fatalf("client got status %d, want the connection dropped", resp.StatusCode)
	}
	if v, status := getDocument(t, hs.URL, b.id); status != 200 || v.Submissions != 1 {
		t.Fatalf("document after lost ack: status %d %+v, want stored once", status, v)
	}
	// The gateway's retry of the same bytes is a duplicate.
	s.SetFaults(Faults{})
	expectAck(t, submit(t, hs.URL, b.message), wire.AckAccepted, wire.DetailDuplicate)
	if st := s.Stats(); st.Faults[faultAckLost] != 1 || st.Accepted != 1 || st.Duplicates != 1 {
		t.Errorf("stats = %+v", st)
	}
}

// One mock owns a data directory: a second one refuses to start, naming
// the directory, instead of sharing the archive behind the first's back.
func TestDataDirectoryHasOneOwner(t *testing.T) {
	cfg := trusted()
	cfg.DataDir = t.TempDir()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := entry("OWNER-1", documents.RolePsychologist, "2014-01-01")
	if ack, _ := wire.ParseAck(postHandler(s, build(t, spec{entry: e, decision: decide(e, true)}).message)); ack == nil || ack.Detail != wire.DetailAccepted {
		t.Fatal("first server did not accept")
	}
	if s2, err := New(cfg); err == nil {
		s2.Close()
		t.Fatal("a second mock opened a data directory in use")
	} else if !strings.Contains(err.Error(), "in use by another mock-kanta") || !strings.Contains(err.Error(), cfg.DataDir) {
		t.Fatalf("error %q does not say the directory is in use", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s3, err := New(cfg)
	if err != nil {
		t.Fatalf("after the owner closed: %v", err)
	}
	s3.Close()
}

func TestPersistsAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := trusted()
	cfg.DataDir = dir
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := entry("PERSIST-1", documents.RoleSchoolWelfareOfficer, "2014-01-01")
	if ack, _ := wire.ParseAck(postHandler(s, buildRelationship(t, relationshipSpec{entry: e}).message)); ack == nil || ack.Detail != wire.DetailAccepted {
		t.Fatal("relationship document not accepted")
	}
	b := build(t, spec{entry: e, decision: decide(e, true)})
	rec := postHandler(s, b.message)
	if ack, _ := wire.ParseAck(rec); ack == nil || ack.Detail != wire.DetailAccepted {
		t.Fatalf("first server: %s", rec)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2, hs := newTestServer(t, cfg)
	if v, status := getDocument(t, hs.URL, b.id); status != 200 || v.Archive != documents.ArchiveSocial {
		t.Fatalf("after restart: %d %+v", status, v)
	}
	if got := getCDA(t, hs.URL, b.id); !bytes.Equal(got, b.cda) {
		t.Error("CDA changed across restart")
	}
	expectAck(t, submit(t, hs.URL, b.message), wire.AckAccepted, wire.DetailDuplicate)

	// Reset empties the archive (test environment).
	resp, err := http.Post(hs.URL+"/api/v1/reset", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("reset: %d", resp.StatusCode)
	}
	if _, status := getDocument(t, hs.URL, b.id); status != http.StatusNotFound {
		t.Errorf("after reset: %d, want 404", status)
	}
	_ = s2
}

// postHandler posts through the handler in-process.
func postHandler(s *Server, msg []byte) []byte {
	req, _ := http.NewRequest(http.MethodPost, "/archive/v1/messages", bytes.NewReader(msg))
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	return rec.Body.Bytes()
}

// The real archive request from Kanta's test data is accepted once its
// signer's certificate is trusted. Its client id 010100A998F is not a
// henkilötunnus but a temporary patient identifier under the hospital
// district's own root (its check character would be M), which the test
// environment takes; it was
// made by another system and lacks elements our builders always write
// (tableOfContents, section text), so the mock checks it with the minimal
// profile.
func TestRealSampleAccepted(t *testing.T) {
	raw := kantasample.Message()
	block, _ := pem.Decode(kantasample.SignerPEM())
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)

	// Received when it was sent (its message id carries the sending time
	// in milliseconds, 2017-09-22), while its signer certificate
	// (2016-2021) was valid.
	sentAt := time.UnixMilli(1506082558936).UTC()
	received := clock.NewManual(sentAt.Add(time.Minute))

	// Without trust: refused.
	_, plain := newTestServer(t, Config{Profile: ProfileMinimal, Clock: received})
	expectAck(t, submit(t, plain.URL, raw), wire.AckRejected, wire.DetailSignerNotTrusted)

	// Sent today, it is a new submission signed with a certificate that
	// expired in 2021: refused, though the signature itself still verifies
	// at its own time (kanta-gateway verify accepts it as archived).
	_, today := newTestServer(t, Config{TrustRoots: pool, Profile: ProfileMinimal})
	expectAck(t, submit(t, today.URL, raw), wire.AckRejected, wire.DetailSignerExpiredAtReceipt)

	_, hs := newTestServer(t, Config{TrustRoots: pool, Profile: ProfileMinimal, Clock: received})
	ack := submit(t, hs.URL, raw)
	expectAck(t, ack, wire.AckAccepted, wire.DetailAccepted)
	if ack.TargetMessageID != "1.2.246.537.10.15675350.10.0.13.2.1.1506082558936.1901" {
		t.Errorf("ack targets %q", ack.TargetMessageID)
	}
	const id = "1.2.246.537.10.15675350.10.1.11220.19098"
	v, status := getDocument(t, hs.URL, id)
	if status != 200 || v.Archive != documents.ArchivePatient || v.SignatureType != "3" || v.Version != 1 {
		t.Fatalf("sample stored as %d %+v", status, v)
	}
	// Production takes only henkilötunnus, not temporary identifiers.
	_, prod := newTestServer(t, Config{TrustRoots: pool, Profile: ProfileMinimal, Environment: EnvironmentProduction, Clock: received})
	prodRaw := bytes.Replace(raw, []byte(`<processingCode code="D"/>`), []byte(`<processingCode code="P"/>`), 1)
	expectAck(t, submit(t, prod.URL, prodRaw), wire.AckRejected, wire.DetailInvalidIdentity)

	stored := getCDA(t, hs.URL, id)
	if !strings.HasPrefix(string(stored), `<?xml version="1.0" encoding="UTF-8"?><ClinicalDocument`) {
		t.Errorf("stored sample CDA starts %q", stored[:60])
	}
}

// The archive holds children's records: its directory is tightened to 0700
// (with a warning naming it) and its files are 0600 whatever the umask;
// SQLite makes -wal itself, so it is checked after a write.
func TestArchiveFilesArePrivate(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	cfg := trusted()
	cfg.DataDir = filepath.Join(t.TempDir(), "mock")
	if err := os.Mkdir(cfg.DataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	e := entry("PRIVATE-1", documents.RolePsychologist, "2014-01-01")
	if ack, _ := wire.ParseAck(postHandler(s, build(t, spec{entry: e, decision: decide(e, true)}).message)); ack == nil || ack.Detail != wire.DetailAccepted {
		t.Fatal("not accepted")
	}
	files, err := filepath.Glob(filepath.Join(cfg.DataDir, "*"))
	if err != nil || len(files) < 2 {
		t.Fatalf("archive files %v (%v), want the database and its WAL", files, err)
	}
	for _, p := range append(files, cfg.DataDir) {
		info, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		want := os.FileMode(0o600)
		if info.IsDir() {
			want = 0o700
		}
		if m := info.Mode().Perm(); m != want {
			t.Errorf("%s mode %#o, want %#o", p, m, want)
		}
	}
	if !strings.Contains(logs.String(), "path="+cfg.DataDir) {
		t.Errorf("no warning naming the tightened directory: %q", logs.String())
	}
}

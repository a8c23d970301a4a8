package gateway

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"path/filepath"
	"testing"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/adapter"
	"github.com/helsinki-student-welfare/kanta-gateway/config"
	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/fixtures"
	"github.com/helsinki-student-welfare/kanta-gateway/fixtures/pki"
	"github.com/helsinki-student-welfare/kanta-gateway/hl7"
	"github.com/helsinki-student-welfare/kanta-gateway/wire"
)

// The builder hands wire.BuildMessage the tree the signed bytes were
// serialised from, to spare a parse. The frame must be byte for byte the
// one built from the bytes alone, for every scenario document.
func TestFrameFromTreeEqualsFrameFromBytes(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	cfg := config.Default()
	paths, err := pki.Generate(t.TempDir(), []pki.Organiser{{OID: cfg.Organisations[0].OID, Name: cfg.Organisations[0].Name}}, "pw", now)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Organisations[0].PKCS12 = paths.Signing[cfg.Organisations[0].OID].P12
	cfg.Organisations[0].PKCS12Password = "pw"
	b, err := NewBuilder(&cfg, now)
	if err != nil {
		t.Fatal(err)
	}
	policy := cfg.PolicyEngine()
	files, err := fs.Glob(fixtures.Scenarios, "scenarios/*.ndjson")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenario batches: %v", err)
	}
	frames := 0
	for _, f := range files {
		raw, err := fs.ReadFile(fixtures.Scenarios, f)
		if err != nil {
			t.Fatal(err)
		}
		r := adapter.NewReader(bytes.NewReader(raw), filepath.Base(f), adapter.Options{})
		for {
			it, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if it.Entry == nil {
				continue
			}
			d := policy.Decide(it.Entry, now, nil)
			if d.Outcome == documents.OutcomeReject || d.Outcome == documents.OutcomeSkip {
				continue
			}
			built, err := b.Build(it.Entry, d, now)
			if err != nil {
				t.Fatalf("%s line %d: %v", f, it.Line, err)
			}
			for _, bd := range built {
				if bd.Frame == nil {
					continue
				}
				in := wire.MessageInput{
					Document:       bd.CDA,
					Interaction:    bd.Delivery.Interaction,
					MessageID:      documents.MessageID(cfg.Organisations[0].DocumentRoot, it.Entry.ID, it.Entry.Revision),
					CreationTime:   now,
					ProcessingCode: "D",
					SenderOID:      cfg.Kanta.SenderFor(bd.Delivery.Archive),
					ReceiverOID:    cfg.Kanta.ReceiverOID,
					Author: wire.FrameAuthor{Hetu: it.Entry.Author.Hetu, RegistrationNumber: it.Entry.Author.RegistrationNumber,
						Given: it.Entry.Author.Given, Family: it.Entry.Author.Family},
				}
				if in.Interaction == hl7.InteractionReplaceHealth {
					in.CorrectionReason = b.code("frame.correction_reason", "1")
				}
				fromBytes, err := wire.BuildMessage(in)
				if err != nil {
					t.Fatalf("%s line %d: %v", f, it.Line, err)
				}
				if !bytes.Equal(fromBytes, bd.Frame) {
					t.Errorf("%s line %d: the frame built from the tree differs from the one built from the signed bytes", f, it.Line)
				}
				if _, err := wire.ParseMessage(bd.Frame); err != nil {
					t.Errorf("%s line %d: own frame does not parse: %v", f, it.Line, err)
				}
				frames++
			}
		}
	}
	if frames < 20 {
		t.Fatalf("only %d frames compared", frames)
	}
	t.Logf("%d frames compared", frames)
}

// The custodian is configuration (custodian_oid, custodian_name): the CDA
// and the frame name it, the system certificate must carry it as its
// serialNumber, and a social frame goes out from kanta.social_sender_oid.
// The frame names the author by identity code when the entry has one.
// Helsinki's social welfare values of the real frames (kanta-domain.md 8.1).
func TestBuildNamesTheConfiguredCustodian(t *testing.T) {
	const custodian, custodianName = "1.2.246.10.2012566.10.40", "Helsingin sosiaali- ja terveystoimi"
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	cfg := config.Default()
	org := &cfg.Organisations[0]
	org.CustodianOID, org.CustodianName = custodian, custodianName
	cfg.Kanta.SocialSenderOID = custodian
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	paths, err := pki.Generate(dir, []pki.Organiser{{OID: org.OID, Name: org.Name, CustodianOID: custodian}}, "pw", now)
	if err != nil {
		t.Fatal(err)
	}
	// A certificate of the organisation's own OID does not sign for the custodian.
	own, err := pki.Generate(filepath.Join(dir, "own"), []pki.Organiser{{OID: org.OID, Name: org.Name}}, "pw", now)
	if err != nil {
		t.Fatal(err)
	}
	org.PKCS12, org.PKCS12Password = own.Signing[org.OID].P12, "pw"
	if _, err := NewBuilder(&cfg, now); err == nil {
		t.Fatal("NewBuilder accepts a system certificate of the organisation OID for another custodian")
	}
	org.PKCS12 = paths.Signing[org.OID].P12
	b, err := NewBuilder(&cfg, now)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := fs.ReadFile(fixtures.Scenarios, "scenarios/welfare-officer.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	it, err := adapter.NewReader(bytes.NewReader(raw), "welfare-officer.ndjson", adapter.Options{}).Next()
	if err != nil || it.Entry == nil {
		t.Fatalf("first scenario entry: %v", err)
	}
	e := it.Entry
	e.Author.Hetu = "010181-900C"
	d := cfg.PolicyEngine().Decide(e, now, nil)
	if d.Archive != documents.ArchiveSocial {
		t.Fatalf("scenario entry goes to %s, want the social welfare archive", d.Archive)
	}
	built, err := b.Build(e, d, now)
	if err != nil {
		t.Fatal(err)
	}
	m, err := wire.ParseMessage(built[0].Frame)
	if err != nil {
		t.Fatal(err)
	}
	if m.CustodianOID != custodian || m.SenderOID != custodian {
		t.Errorf("frame custodian %s, sender %s; want %s", m.CustodianOID, m.SenderOID, custodian)
	}
	if !bytes.Contains(built[0].CDA, []byte(`<representedCustodianOrganization><id root="`+custodian+`"/><name>`+custodianName+`</name>`)) {
		t.Error("the CDA does not name the configured custodian")
	}
	if !bytes.Contains(built[0].Frame, []byte(`<id extension="010181-900C" root="1.2.246.21"/>`)) {
		t.Error("the frame does not name the author by identity code")
	}
	if bytes.Contains(built[0].CDA, []byte("010181-900C")) {
		t.Error("the author's identity code is in the CDA; the registration number identifies them there")
	}

	// The client relationship document's frame: the same custodian and
	// social sender, the responsible worker as its author.
	rel, err := b.BuildRelationship(documents.RelationshipDocuments(e)[0], e, d, now)
	if err != nil {
		t.Fatal(err)
	}
	if m, err = wire.ParseMessage(rel.Frame); err != nil {
		t.Fatal(err)
	}
	if m.CustodianOID != custodian || m.SenderOID != custodian || !bytes.Contains(rel.Frame, []byte(`<reasonCode code="SP1"`)) {
		t.Errorf("relationship frame custodian %s, sender %s; want %s and SP1", m.CustodianOID, m.SenderOID, custodian)
	}
	if !bytes.Contains(rel.Frame, []byte(`<id extension="010181-900C" root="1.2.246.21"/>`)) {
		t.Error("the relationship frame does not name the responsible worker by identity code")
	}
}

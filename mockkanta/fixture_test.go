package mockkanta

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/documents/cda"
	"github.com/helsinki-student-welfare/kanta-gateway/signing"
	"github.com/helsinki-student-welfare/kanta-gateway/wire"
)

var helsinki = func() *time.Location {
	l, err := time.LoadLocation("Europe/Helsinki")
	if err != nil {
		panic(err)
	}
	return l
}()

const (
	documentRoot = "1.2.246.10.2012566"
	senderOID    = "1.2.246.10.2012566.10.0.13.2.1"
)

var organisation = documents.Organisation{OID: orgHelsinki, Name: "Helsingin kaupunki", DocumentRoot: documentRoot}

// hetuFor makes a valid identity code for a birth date and individual
// number (900-999: test codes).
func hetuFor(birth string, individual int) string {
	d := documents.MustDate(birth)
	first10 := fmt.Sprintf("%02d%02d%02d%c%03d", d.Day, int(d.Month), d.Year%100, documents.HetuCenturySign(d.Year), individual)
	return first10 + string(documents.HetuCheckChar(first10))
}

// spec describes one archive message to build.
type spec struct {
	entry    *documents.Entry
	decision documents.Decision
	identity *signing.Identity // default: Helsinki's system certificate
	sigType  string            // default system (3)
	// editCDA changes the document before it is signed; editSigned the
	// signed bytes; editFrame the framed message.
	editCDA        func(*etree.Document)
	editSigned     func([]byte) []byte
	editFrame      func([]byte) []byte
	processingCode string
	unsigned       bool // leave the document unsigned
	// envelopedTransform signs with enveloped-signature + exc-c14n, as
	// Apotti does at Vantaa-Kerava.
	envelopedTransform bool
	// signedAt is the signature time (default: now).
	signedAt time.Time
}

// entry returns a finalized entry of the given role about a child born on
// birth, with a test identity code.
func entry(id string, role documents.Role, birth string) *documents.Entry {
	e := &documents.Entry{
		ID: id, Revision: 1, Status: documents.StatusFinal,
		FinalizedAt: time.Date(2026, 11, 20, 10, 15, 0, 0, helsinki),
		Author:      documents.Author{Role: role, RegistrationNumber: registrationPsychologist, Given: "Pirjo", Family: "Psykologi"},
		Client:      documents.Client{Hetu: hetuFor(birth, 921), Given: "Testi", Family: "Oppilas", BirthDate: documents.MustDate(birth)},
		Service: documents.Service{Kind: documents.ServiceSchoolPsychology, UnitOID: "1.2.246.10.2012566.10.1001",
			UnitName: "Kallion koulu", OrganiserOID: orgHelsinki},
		Encounter: documents.Encounter{ID: "ENC-" + id, Type: documents.EncounterVisit, Start: time.Date(2026, 11, 20, 9, 0, 0, 0, helsinki)},
		Text:      documents.Text{Title: "Käynti", Narrative: "Tapaaminen koululla. " + id, Language: "fi"},
		MyKanta:   documents.MyKanta{Display: documents.DisplayVisible},
		Guardian:  documents.Guardian{MinorConsent: documents.ConsentNotAssessed},
	}
	if role == documents.RoleSchoolWelfareOfficer {
		e.Author.Given, e.Author.Family = "Kaisa", "Kuraattori"
		e.Service.Kind = documents.ServiceSchoolSocialWork
		e.ClientRelationship = &documents.ClientRelationship{ID: "ASK-" + id, Opened: documents.MustDate("2026-09-01")}
	}
	return e
}

// revise returns the next revision of an entry.
func revise(e *documents.Entry) *documents.Entry {
	n := *e
	n.Revision = e.Revision + 1
	n.Status = documents.StatusAmended
	n.Amends = &documents.Amends{Revision: e.Revision, Reason: "korjaus"}
	n.Text.Narrative = fmt.Sprintf("%s (rev %d)", e.Text.Narrative, n.Revision)
	return &n
}

// decide is the decision the policy would make, with guardian visibility
// and MyKanta display set explicitly.
func decide(e *documents.Entry, guardianVisible bool) documents.Decision {
	d := documents.Decision{
		Outcome: documents.OutcomeSubmit, Role: e.Author.Role, Display: e.MyKanta.Display,
		GuardianVisible: guardianVisible,
	}
	// The guardian basis the policy would give for that visibility (the
	// builders code the basis).
	switch age := e.Client.BirthDate.AgeOn(documents.DateOf(e.FinalizedAt.In(helsinki))); {
	case age >= 18:
	case age < 12 && guardianVisible:
		d.Guardian = documents.GuardianMinorNotCapable
	case age < 12:
		d.Guardian = documents.GuardianProhibitedByProfessional
	case guardianVisible:
		d.Guardian = documents.GuardianConsentGranted
	default:
		d.Guardian = documents.GuardianConsentRefused
	}
	if e.Author.Role == documents.RolePsychologist {
		d.Archive, d.Register, d.Confidentiality = documents.ArchivePatient, documents.RegisterHealthCarePatient, "5"
	} else {
		d.Archive, d.Register, d.Confidentiality = documents.ArchiveSocial, documents.RegisterSocialWelfareClient, "6"
	}
	switch e.MyKanta.Display {
	case documents.DisplayHidden:
		d.Concealed = true
	case documents.DisplayDelayed:
		d.ReleaseDate = e.MyKanta.ReleaseDate
	}
	if e.Status == documents.StatusEnteredInError {
		d.Outcome = documents.OutcomeInvalidate
	}
	return d
}

// built is a message with what a test needs to know about it.
type built struct {
	message []byte
	cda     []byte
	id      string
	setID   string
}

func build(t testing.TB, s spec) built {
	t.Helper()
	doc, err := cda.Build(s.entry, s.decision, organisation, cda.Options{})
	if err != nil {
		t.Fatalf("cda.Build: %v", err)
	}
	if s.editCDA != nil {
		s.editCDA(doc.Tree)
	}
	id := s.identity
	if id == nil {
		id = testPKI.helsinki
	}
	sigType := s.sigType
	if sigType == "" {
		sigType = signing.TypeSystem
	}
	orgOID := id.Cert.Subject.SerialNumber
	if sigType == signing.TypeProfessional {
		orgOID = orgHelsinki
	}
	at := time.Now()
	if !s.signedAt.IsZero() {
		at = s.signedAt
	}
	signer, err := signing.NewSigner(id, orgOID, sigType, at)
	if err != nil {
		t.Fatalf("NewSigner: %v", err)
	}
	signer.EnvelopedTransform = s.envelopedTransform
	if !s.unsigned {
		if err := signer.Sign(doc.Tree, doc.BodyID, at); err != nil {
			t.Fatalf("Sign: %v", err)
		}
	}
	signed, err := doc.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if s.editSigned != nil {
		signed = s.editSigned(signed)
	}
	pc := s.processingCode
	if pc == "" {
		pc = "D"
	}
	msg, err := wire.BuildMessage(wire.MessageInput{
		Document:       signed,
		Interaction:    doc.Interaction,
		MessageID:      documents.MessageID(documentRoot, s.entry.ID, s.entry.Revision),
		CreationTime:   at,
		ProcessingCode: pc,
		SenderOID:      senderOID,
	})
	if err != nil {
		t.Fatalf("wire.BuildMessage: %v", err)
	}
	if s.editFrame != nil {
		msg = s.editFrame(msg)
	}
	return built{message: msg, cda: signed, id: doc.ID, setID: doc.SetID}
}

// submit posts a message and returns its acknowledgement.
func submit(t testing.TB, url string, msg []byte) *wire.Ack {
	t.Helper()
	resp, body, err := postRaw(t, http.DefaultClient, url, msg)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/xml; charset=utf-8" {
		t.Fatalf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	ack, err := wire.ParseAck(body)
	if err != nil {
		t.Fatalf("ParseAck: %v\n%s", err, body)
	}
	return ack
}

// expectAck checks the outcome and detail of an acknowledgement; code is
// named in the application family, the mock's default answer is the
// accept family's code of the same outcome.
func expectAck(t testing.TB, ack *wire.Ack, code wire.AckCode, detail string) {
	t.Helper()
	if ack.Code != code.In(wire.FamilyAccept) || ack.Detail != detail {
		t.Fatalf("ack %s %s (%s), want %s %s", ack.Code, ack.Detail, ack.Text, code, detail)
	}
}

func replaceOnce(b []byte, old, new string) []byte {
	if !bytes.Contains(b, []byte(old)) {
		panic("fixture edit: " + old + " not found")
	}
	return bytes.Replace(b, []byte(old), []byte(new), 1)
}

// relationshipSpec is a client relationship document version of an entry's
// relationship to build (cda.BuildRelationship, framed with SP1).
type relationshipSpec struct {
	entry   *documents.Entry
	version int
	// editCDA changes the document before it is signed; editFrame the
	// framed message.
	editCDA   func(*etree.Document)
	editFrame func([]byte) []byte
}

func buildRelationship(t testing.TB, s relationshipSpec) built {
	t.Helper()
	if s.version == 0 {
		s.version = documents.RelationshipVersionOpen
	}
	var r *documents.RelationshipDocument
	for _, rd := range documents.RelationshipDocuments(s.entry) {
		if rd.Version == s.version {
			r = &rd
		}
	}
	if r == nil {
		t.Fatalf("entry %s calls for no relationship document version %d", s.entry.ID, s.version)
	}
	doc, err := cda.BuildRelationship(*r, organisation, cda.Options{})
	if err != nil {
		t.Fatalf("cda.BuildRelationship: %v", err)
	}
	if s.editCDA != nil {
		s.editCDA(doc.Tree)
	}
	at := time.Now()
	signer, err := signing.NewSigner(testPKI.helsinki, testPKI.helsinki.Cert.Subject.SerialNumber, signing.TypeSystem, at)
	if err != nil {
		t.Fatalf("NewSigner: %v", err)
	}
	if err := signer.Sign(doc.Tree, doc.BodyID, at); err != nil {
		t.Fatalf("Sign: %v", err)
	}
	signed, err := doc.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	msg, err := wire.BuildMessage(wire.MessageInput{
		Document:             signed,
		Interaction:          doc.Interaction,
		MessageID:            documents.RelationshipMessageID(documentRoot, r.Relationship.ID, s.version),
		CreationTime:         at,
		ProcessingCode:       "D",
		SenderOID:            senderOID,
		SocialServiceRequest: doc.ServiceRequest,
	})
	if err != nil {
		t.Fatalf("wire.BuildMessage: %v", err)
	}
	if s.editFrame != nil {
		msg = s.editFrame(msg)
	}
	return built{message: msg, cda: signed, id: doc.ID, setID: doc.SetID}
}

// archiveRelationship archives version 1 of the entry's client relationship
// document (accepted, or already there), as the gateway does before any
// client document of the relationship.
func archiveRelationship(t testing.TB, url string, e *documents.Entry) built {
	t.Helper()
	b := buildRelationship(t, relationshipSpec{entry: e})
	ack := submit(t, url, b.message)
	if ack.Code != wire.AckAccepted.In(wire.FamilyAccept) {
		t.Fatalf("relationship document of %s: ack %s %s (%s)", e.ID, ack.Code, ack.Detail, ack.Text)
	}
	return b
}

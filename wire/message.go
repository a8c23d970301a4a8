// Package wire owns the wire format between the gateway and Kanta: the HL7
// V3 Medical Records archive request frames that carry a signed CDA document
// in a MIME multipart/related package, and the acknowledgements (ack.go).
// Nothing else in the gateway writes or reads these bytes, so matching them
// to Kela's specification touches this package only.
package wire

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/hl7"
	"github.com/helsinki-student-welfare/kanta-gateway/hl7/hl7xml"
	"github.com/helsinki-student-welfare/kanta-gateway/xmlcheck"
)

// Fixed values of the frame. The frames follow the real public ones
// (kanta-domain.md 8.1; the facts and their sources are in
// conformance_test.go): two health frames of 2017 and Helsinki's social
// welfare frame of 2026. The namespaces, interactions, triggers and code
// systems are package hl7's.
const (
	// Health service request PP1: archive the provider's own documents.
	codeHealthRequest = "PP1"
)

// healthProfileIDs are the frame profiles both real health frames name
// after interactionId; the first is also the clinicalDocument's templateId.
var healthProfileIDs = []string{hl7.ProfileHealthFrame, hl7.ProfileHealthFrame2008}

// Errors of ParseMessage and BuildMessage; the returned errors wrap one of
// them with the detail, so a caller can map them to acknowledgement codes.
var (
	ErrNotXML             = errors.New("wire: archive message is not well-formed XML")
	ErrUnknownInteraction = errors.New("wire: unknown interaction")
	ErrMalformedFrame     = errors.New("wire: malformed archive frame")
	ErrMIMEPart           = errors.New("wire: missing or undecodable MIME document part")
	ErrContentID          = errors.New("wire: MIME Content-ID does not name the document")
	ErrMetadataMismatch   = errors.New("wire: frame metadata does not match the document")
	ErrInvalidInput       = errors.New("wire: invalid message input")
	// ErrFrameStructure: the frame departs from what every real Kanta frame
	// shows (a required header element missing, the correction reason out
	// of its place, the custodian in the document's form). Its errors also
	// wrap ErrMalformedFrame, so a caller that knows only that one still
	// rejects them.
	ErrFrameStructure = errors.New("wire: frame structure differs from Kanta's frames")
)

// MessageInput is what a frame is built from.
type MessageInput struct {
	Document             []byte // the signed CDA bytes, carried as-is
	Interaction          string
	MessageID            string
	CreationTime         time.Time // the signing time, so a resend is byte-identical
	ProcessingCode       string    // "D" test, "P" production
	SenderOID            string
	ReceiverOID          string // Kanta's device when empty
	CorrectionReason     string // RCMR_IN100016FI01 reasonCode; "1" (correction) when empty
	SocialServiceRequest string // "SP17" (client document, default) or "SP1"
	// Author is the professional as the frame names them. Real frames name
	// the author by personal identity code, which the CDA does not carry;
	// fields left empty are read from the CDA's author.
	Author FrameAuthor
	// DocumentTree, when set, is the tree Document was serialised from (or
	// parsed into); the metadata are then read from it instead of parsing
	// Document again. It is not modified.
	DocumentTree *etree.Document
}

// FrameAuthor is the professional of a frame's author and authorOrPerformer.
// Its String and LogValue never show the identity code or the name.
type FrameAuthor struct {
	// Hetu is the professional's personal identity code (optional). Without
	// it the registration number stands in.
	Hetu               string
	RegistrationNumber string // Valvira / JulkiTerhikki registration number
	Given, Family      string // used when the CDA's author has no name
}

// String hides the personal data, so a logged MessageInput cannot leak it.
func (a FrameAuthor) String() string {
	if a.Hetu != "" {
		return "wire.FrameAuthor{identity code: set}"
	}
	return "wire.FrameAuthor{identity code: none}"
}

// GoString is String, for %#v.
func (a FrameAuthor) GoString() string { return a.String() }

// LogValue is String, for log/slog.
func (a FrameAuthor) LogValue() slog.Value { return slog.StringValue(a.String()) }

// Code is a coded value of the frame.
type Code struct{ Code, CodeSystem string }

// Message is a parsed archive request.
type Message struct {
	Interaction, MessageID, ProcessingCode, SenderOID, ReceiverOID string
	ReasonCodes                                                    []Code // controlActProcess/reasonCode
	// From the frame's copy of the document metadata.
	DocumentID, SetID string
	Version           int
	Hetu              string
	// CorrectionReason is clinicalDocument/reasonCode of a replacing health
	// document (RCMR_IN100016FI01); empty otherwise.
	CorrectionReason Code
	// CustodianOID is the frame's custodian/assignedCustodian/representedOrganization/id.
	CustodianOID string
	ContentID    string
	Document     []byte // the CDA bytes decoded from the MIME part, byte-exact
	// DocumentTree is Document parsed once, for checks that need the tree
	// (profile, signatures) so none of them parses it again. Read-only.
	DocumentTree *etree.Document
}

// docMeta is what the frame and the MIME part must agree on.
type docMeta struct {
	doc               *etree.Document
	root              *etree.Element
	id, setID         string
	version           int
	hetu              string
	social            bool
	localHeader       *etree.Element
	localSocialHeader *etree.Element
}

func readDocument(cdaXML []byte) (*docMeta, error) {
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(cdaXML); err != nil {
		return nil, fmt.Errorf("document is not well-formed XML: %v", err)
	}
	if err := xmlcheck.WellFormed(doc); err != nil {
		return nil, fmt.Errorf("document: %w", err)
	}
	return readTree(doc)
}

// readTree reads the metadata of a parsed document.
func readTree(doc *etree.Document) (*docMeta, error) {
	root := doc.Root()
	if !hl7xml.Is(root, hl7.NamespaceV3, "ClinicalDocument") {
		return nil, errors.New("document root is not ClinicalDocument in urn:hl7-org:v3")
	}
	m := &docMeta{doc: doc, root: root}
	m.id = hl7xml.Attr(hl7xml.Child(root, hl7.NamespaceV3, "id"), "root")
	m.setID = hl7xml.Attr(hl7xml.Child(root, hl7.NamespaceV3, "setId"), "root")
	if m.id == "" || m.setID == "" {
		return nil, errors.New("document has no id or setId")
	}
	v, err := strconv.Atoi(hl7xml.Attr(hl7xml.Child(root, hl7.NamespaceV3, "versionNumber"), "value"))
	if err != nil || v < 1 {
		return nil, errors.New("document versionNumber is not a positive integer")
	}
	m.version = v
	m.hetu = patientID(hl7xml.Path(root, hl7.NamespaceV3, "recordTarget", "patientRole"))
	m.localHeader = hl7xml.Child(root, hl7.NamespaceFI, "localHeader")
	m.localSocialHeader = hl7xml.Child(root, hl7.NamespaceFI, "localSocialHeader")
	m.social = m.localSocialHeader != nil
	if m.localHeader == nil && m.localSocialHeader == nil {
		return nil, errors.New("document has no hl7fi:localHeader or hl7fi:localSocialHeader")
	}
	return m, nil
}

// patientID returns the identity code under role: the 1.2.246.21 id, or the
// first id's extension (a temporary id, as in the real sample).
func patientID(role *etree.Element) string {
	if role == nil {
		return ""
	}
	ids := hl7xml.Children(role, hl7.NamespaceV3, "id")
	for _, id := range ids {
		if hl7xml.Attr(id, "root") == hl7.OIDHetu {
			return hl7xml.Attr(id, "extension")
		}
	}
	if len(ids) > 0 {
		return hl7xml.Attr(ids[0], "extension")
	}
	return ""
}

// BuildMessage wraps a signed CDA document in its archive request frame.
// The frame's copy of the metadata is read from the parsed document, so it
// matches by construction; the document bytes are carried unchanged. What
// the frame carries, and in which order, is written out here element by
// element after the real frames, health and social apart: nothing is
// copied wholesale from the document.
func BuildMessage(in MessageInput) ([]byte, error) {
	if err := in.check(); err != nil {
		return nil, err
	}
	var m *docMeta
	var err error
	if in.DocumentTree != nil {
		m, err = readTree(in.DocumentTree)
	} else {
		m, err = readDocument(in.Document)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidInput, err)
	}
	want := hl7.InteractionSocial
	if !m.social {
		want = hl7.InteractionNewHealth
		if m.version > 1 {
			want = hl7.InteractionReplaceHealth
		}
	}
	if in.Interaction != want {
		return nil, fmt.Errorf("%w: interaction %s does not fit a document of version %d (want %s)", ErrInvalidInput, in.Interaction, m.version, want)
	}
	f := &frame{in: in, m: m, social: m.social}
	if f.custodian = hl7xml.Path(m.root, hl7.NamespaceV3, "custodian", "assignedCustodian", "representedCustodianOrganization"); hl7xml.Attr(hl7xml.Child(f.custodian, hl7.NamespaceV3, "id"), "root") == "" {
		return nil, fmt.Errorf("%w: document has no custodian id", ErrInvalidInput)
	}

	root := etree.NewElement(in.Interaction)
	root.CreateAttr("ITSVersion", "XML_1.0")
	root.CreateAttr("xmlns", hl7.NamespaceV3)
	f.header(root)
	act := root.CreateElement("controlActProcess")
	f.controlAct(act)
	subject := act.CreateElement("subject")
	if !f.social {
		subject.CreateAttr("typeCode", "SUBJ")
	}
	f.clinicalDocument(subject.CreateElement("clinicalDocument"))

	doc := etree.NewDocument()
	doc.SetRoot(root)
	var out bytes.Buffer
	out.Grow(4096)
	out.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	if _, err := doc.WriteTo(&out); err != nil {
		return nil, err
	}
	return spliceBody(out.Bytes(), in.Document)
}

// frame is one frame being built.
type frame struct {
	in        MessageInput
	m         *docMeta
	social    bool
	custodian *etree.Element // the document's representedCustodianOrganization
}

func (f *frame) replacesHealth() bool { return f.in.Interaction == hl7.InteractionReplaceHealth }

// header: the transmission wrapper, in the order of every real frame.
// Health frames name their profiles after interactionId; social frames have
// none and write their devices with classCode and determinerCode.
func (f *frame) header(root *etree.Element) {
	root.CreateElement("id").CreateAttr("root", f.in.MessageID)
	root.CreateElement("creationTime").CreateAttr("value", f.in.CreationTime.UTC().Format("20060102150405")+"+0000")
	root.CreateElement("versionCode").CreateAttr("code", "V3-2006")
	iid := root.CreateElement("interactionId")
	iid.CreateAttr("extension", f.in.Interaction)
	iid.CreateAttr("root", hl7.OIDInteractionID)
	if !f.social {
		for _, p := range healthProfileIDs {
			root.CreateElement("profileId").CreateAttr("root", p)
		}
	}
	root.CreateElement("processingCode").CreateAttr("code", f.in.ProcessingCode)
	root.CreateElement("processingModeCode").CreateAttr("code", "T")
	root.CreateElement("acceptAckCode").CreateAttr("code", "ER")
	receiver := f.in.ReceiverOID
	if receiver == "" {
		receiver = hl7.OIDKantaDevice
	}
	f.device(root, "receiver", "RCV", receiver)
	f.device(root, "sender", "SND", f.in.SenderOID)
}

func (f *frame) device(root *etree.Element, tag, typeCode, oid string) {
	el := root.CreateElement(tag)
	el.CreateAttr("typeCode", typeCode)
	d := el.CreateElement("device")
	if f.social {
		d.CreateAttr("classCode", "DEV")
		d.CreateAttr("determinerCode", "INSTANCE")
	}
	d.CreateElement("id").CreateAttr("root", oid)
}

// controlAct: health frames are requests (RQO) naming the trigger event and
// the service request PP1, and nothing else (the correction reason belongs
// to the clinicalDocument); social frames are events (CACT EVN) with a
// priority and two reasons, the service request and the register.
func (f *frame) controlAct(act *etree.Element) {
	if f.social {
		act.CreateAttr("classCode", "CACT")
		act.CreateAttr("moodCode", "EVN")
		hl7xml.CD(act, "code", hl7.TriggerSocial, hl7.OIDTriggerEvent, "", "")
		act.CreateElement("priorityCode").CreateAttr("code", "R")
		request, display := f.in.SocialServiceRequest, "Asiakasasiakirjan arkistointi"
		if request == "" {
			request = "SP17"
		}
		if request == "SP1" {
			display = "Asiakkuusasiakirjan arkistointi"
		}
		hl7xml.CD(act, "reasonCode", request, hl7.SystemSocialRequest, "Sosiaalihuolto - Arkistosanomien palvelupyynnöt", display)
		hl7xml.CD(act, "reasonCode", "1", hl7.SystemSocialArchiveUse, "Sosiaalihuolto - Asiakastiedon arkiston käyttötilanne", "Palvelunjärjestäjän rekisterin oma käyttö")
	} else {
		act.CreateAttr("moodCode", "RQO")
		trigger := hl7.TriggerNewHealth
		if f.replacesHealth() {
			trigger = hl7.TriggerReplaceHealth
		}
		hl7xml.CD(act, "code", trigger, hl7.OIDTriggerEvent, "", "")
		hl7xml.CD(act, "reasonCode", codeHealthRequest, hl7.SystemHealthRequest, "eArkisto - Arkistosanomien palvelupyynnöt 2008", "Arkistoi palvelujen antajan omia asiakirjoja")
	}
	f.authorOrPerformer(act)
}

// authorOrPerformer: health frames name only the organisation that asks
// (the organiser); social frames name the professional by identity code
// with their name and the organisation they act for, which in Helsinki's
// frame is the register keeper.
func (f *frame) authorOrPerformer(act *etree.Element) {
	ap := act.CreateElement("authorOrPerformer")
	if !f.social {
		ap.CreateAttr("typeCode", "PRF")
		org := ap.CreateElement("assignedPerson").CreateElement("representedOrganization")
		org.CreateElement("id").CreateAttr("root", f.organiserOID())
		return
	}
	ap.CreateAttr("typeCode", "AUT")
	person := ap.CreateElement("assignedPerson")
	f.authorID(person)
	f.authorName(person.CreateElement("assignedPerson"))
	f.custodianOrganisation(person.CreateElement("representedOrganization"))
}

// organiserOID is the organisation a health frame's request comes from: the
// document's responsible party (the organiser), else its custodian.
func (f *frame) organiserOID() string {
	if id := hl7xml.Attr(hl7xml.Path(f.m.root, hl7.NamespaceV3, "componentOf", "encompassingEncounter", "responsibleParty", "assignedEntity", "representedOrganization", "id"), "root"); id != "" {
		return id
	}
	return hl7xml.Attr(hl7xml.Child(f.custodian, hl7.NamespaceV3, "id"), "root")
}

// authorID writes the professional's id: the personal identity code when
// known, else the registration number (from the input or the document),
// else the document author's own ids.
func (f *frame) authorID(parent *etree.Element) {
	switch {
	case f.in.Author.Hetu != "":
		hl7xml.II(parent, "id", hl7.OIDHetu, f.in.Author.Hetu)
		return
	case f.in.Author.RegistrationNumber != "":
		hl7xml.II(parent, "id", hl7.OIDRegistration, f.in.Author.RegistrationNumber)
		return
	}
	aa := hl7xml.Path(f.m.root, hl7.NamespaceV3, "author", "assignedAuthor")
	ids := hl7xml.Children(aa, hl7.NamespaceV3, "id")
	for _, id := range ids {
		if hl7xml.Attr(id, "root") == hl7.OIDRegistration {
			parent.AddChild(hl7xml.Rehome(id, ""))
			return
		}
	}
	for _, id := range ids {
		parent.AddChild(hl7xml.Rehome(id, ""))
	}
	if len(ids) == 0 {
		parent.CreateElement("id").CreateAttr("nullFlavor", "NA")
	}
}

// authorName writes the professional's name: the document author's, else
// the input's.
func (f *frame) authorName(person *etree.Element) {
	if n := hl7xml.Path(f.m.root, hl7.NamespaceV3, "author", "assignedAuthor", "assignedPerson", "name"); n != nil {
		person.AddChild(hl7xml.Rehome(n, ""))
		return
	}
	n := person.CreateElement("name")
	if f.in.Author.Family != "" {
		n.CreateElement("family").SetText(f.in.Author.Family)
	}
	for _, g := range strings.Fields(f.in.Author.Given) {
		n.CreateElement("given").SetText(g)
	}
}

// custodianOrganisation writes the register keeper's id and name into org.
func (f *frame) custodianOrganisation(org *etree.Element) {
	org.AddChild(hl7xml.Rehome(hl7xml.Child(f.custodian, hl7.NamespaceV3, "id"), ""))
	if n := hl7xml.Child(f.custodian, hl7.NamespaceV3, "name"); n != nil {
		org.AddChild(hl7xml.Rehome(n, ""))
	}
}

// clinicalDocument: the frame's copy of the document metadata, in the
// order of the real frames of the archive.
func (f *frame) clinicalDocument(cd *etree.Element) {
	root := f.m.root
	if f.social {
		cd.CreateAttr("classCode", "DOCCLIN")
		cd.CreateAttr("moodCode", "EVN")
		hl7xml.CopyChild(cd, root, hl7.NamespaceV3, "realmCode")
		hl7xml.CopyChild(cd, root, hl7.NamespaceV3, "typeId")
	} else {
		cd.CreateElement("templateId").CreateAttr("root", healthProfileIDs[0])
	}
	hl7xml.CopyChild(cd, root, hl7.NamespaceV3, "id")
	if f.social {
		hl7xml.CD(cd, "code", "1", hl7.SystemSocialRegister, "Sosiaalihuolto - Asiakirjan rekisteritunnus", "Sosiaalihuollon asiakasrekisteri")
	} else {
		hl7xml.CopyChild(cd, root, hl7.NamespaceV3, "code")
	}
	text := cd.CreateElement("text")
	text.CreateAttr("mediaType", "multipart/related")
	head, tail := mimeEnvelope(f.in.MessageID, f.m.id)
	text.CreateText(head)
	text.CreateProcInst(bodyMark, "")
	text.CreateText(tail)
	if f.social {
		cd.CreateElement("statusCode").CreateAttr("code", "COMPLETED")
	} else {
		cd.CreateElement("statusCode").CreateAttr("code", "completed")
	}
	hl7xml.CopyChild(cd, root, hl7.NamespaceV3, "effectiveTime")
	hl7xml.CopyChild(cd, root, hl7.NamespaceV3, "confidentialityCode")
	if f.replacesHealth() {
		reason, display := f.in.CorrectionReason, ""
		if reason == "" {
			reason = "1"
		}
		if reason == "1" {
			display = "Korjaus"
		}
		hl7xml.CD(cd, "reasonCode", reason, hl7.SystemCorrectionReason, "eArkisto - Asiakirjan korvauksen syy 2008", display)
	}
	hl7xml.CopyChild(cd, root, hl7.NamespaceV3, "languageCode")
	hl7xml.CopyChild(cd, root, hl7.NamespaceV3, "setId")
	hl7xml.CopyChild(cd, root, hl7.NamespaceV3, "versionNumber")
	if f.social {
		hl7xml.CD(cd, "completionCode", "LA", hl7.SystemCompletion, "KanTa-palvelut - Dokumentin valmiusaste", "Legally authenticated")
		hl7xml.CD(cd, "storageCode", "AC", hl7.SystemStorage, "KanTa-palvelut - Dokumentin arkistointikoodi (DocumentStorage)", "Active")
	} else {
		hl7xml.CD(cd, "completionCode", "LA", hl7.SystemCompletion, "KanTa-palvelut - Dokumentin valmiusaste 2006", "Legally authenticated")
		hl7xml.CD(cd, "storageCode", "AC", hl7.SystemStorage, "KanTa-palvelut - Dokumentin arkistointikoodi (DocumentStorage) 2006", "Active")
	}
	f.recordTarget(cd)
	f.author(cd)
	f.frameCustodian(cd)
	for _, rel := range hl7xml.Children(root, hl7.NamespaceV3, "relatedDocument") {
		cd.AddChild(f.relatedDocument(rel))
	}
	f.componentOf(cd)
	if !f.social {
		f.localHeader(cd)
	}
}

// recordTarget: the frame's model names the patient directly (patient/id,
// statusCode, patientPerson). Health frames say the patient is "active",
// social frames "normal" and give the structural codes.
func (f *frame) recordTarget(cd *etree.Element) {
	role := hl7xml.Path(f.m.root, hl7.NamespaceV3, "recordTarget", "patientRole")
	if role == nil {
		return
	}
	rt := cd.CreateElement("recordTarget")
	patient := rt.CreateElement("patient")
	status := "active"
	if f.social {
		rt.CreateAttr("typeCode", "RCT")
		patient.CreateAttr("classCode", "PAT")
		status = "normal"
	}
	for _, id := range hl7xml.Children(role, hl7.NamespaceV3, "id") {
		patient.AddChild(hl7xml.Rehome(id, ""))
	}
	patient.CreateElement("statusCode").CreateAttr("code", status)
	person := patient.CreateElement("patientPerson")
	if f.social {
		person.CreateAttr("classCode", "PSN")
		person.CreateAttr("determinerCode", "INSTANCE")
	}
	p := hl7xml.Child(role, hl7.NamespaceV3, "patient")
	for _, name := range []string{"name", "administrativeGenderCode", "birthTime"} {
		for _, c := range hl7xml.Children(p, hl7.NamespaceV3, name) {
			person.AddChild(hl7xml.Rehome(c, ""))
		}
	}
}

// author: time NA (the real frames carry no authoring time), the
// professional's id and name; no organisation, no profession code.
func (f *frame) author(cd *etree.Element) {
	a := cd.CreateElement("author")
	if f.social {
		a.CreateAttr("typeCode", "AUT")
	}
	a.CreateElement("time").CreateAttr("nullFlavor", "NA")
	aa := a.CreateElement("assignedAuthor")
	if f.social {
		aa.CreateAttr("classCode", "ASSIGNED")
	}
	f.authorID(aa)
	person := aa.CreateElement("assignedPerson")
	if f.social {
		person.CreateAttr("classCode", "PSN")
		person.CreateAttr("determinerCode", "INSTANCE")
	}
	f.authorName(person)
}

// frameCustodian: custodian/assignedCustodian/representedOrganization in
// every real frame (the document says representedCustodianOrganization).
func (f *frame) frameCustodian(cd *etree.Element) {
	c := cd.CreateElement("custodian")
	ac := c.CreateElement("assignedCustodian")
	org := ac.CreateElement("representedOrganization")
	if f.social {
		c.CreateAttr("typeCode", "CST")
		ac.CreateAttr("classCode", "ASSIGNED")
		org.CreateAttr("classCode", "ORG")
		org.CreateAttr("determinerCode", "INSTANCE")
	}
	f.custodianOrganisation(org)
}

// relatedDocument: the replaced version, its parentDocument with the
// structural codes as in the real correction frame.
func (f *frame) relatedDocument(rel *etree.Element) *etree.Element {
	out := etree.NewElement("relatedDocument")
	out.CreateAttr("typeCode", hl7xml.Attr(rel, "typeCode"))
	parent := out.CreateElement("parentDocument")
	parent.CreateAttr("classCode", "DOCCLIN")
	parent.CreateAttr("moodCode", "EVN")
	src := hl7xml.Child(rel, hl7.NamespaceV3, "parentDocument")
	for _, name := range []string{"id", "setId", "versionNumber"} {
		hl7xml.CopyChild(parent, src, hl7.NamespaceV3, name)
	}
	return out
}

// componentOf: health frames name the encounter (id, time, place) as
// encounterEvent; Helsinki's social frame writes an encounterEvent of
// null values with an empty location, whatever the document says.
func (f *frame) componentOf(cd *etree.Element) {
	enc := hl7xml.Path(f.m.root, hl7.NamespaceV3, "componentOf", "encompassingEncounter")
	if enc == nil {
		return
	}
	ev := cd.CreateElement("componentOf").CreateElement("encounterEvent")
	if f.social {
		ev.CreateAttr("classCode", "ENC")
		ev.CreateAttr("moodCode", "EVN")
		ev.CreateElement("id").CreateAttr("nullFlavor", "NA")
		ev.CreateElement("effectiveTime").CreateAttr("nullFlavor", "NA")
		hf := ev.CreateElement("location").CreateElement("healthCareFacility")
		hf.CreateAttr("classCode", "SDLOC")
		loc := hf.CreateElement("location")
		loc.CreateAttr("classCode", "PLC")
		loc.CreateAttr("determinerCode", "INSTANCE")
		return
	}
	for _, name := range []string{"id", "effectiveTime", "location"} {
		for _, c := range hl7xml.Children(enc, hl7.NamespaceV3, name) {
			ev.AddChild(hl7xml.Rehome(c, ""))
		}
	}
}

// frameLocalHeader is what a health frame's hl7fi:localHeader carries, in
// order: the document's element of the first name, written under the
// second. Both real health frames (two vendors) leave out the signatures
// and spell custodianTypecode with a lower-case c where the document says
// custodianTypeCode; one leaves out patientHomeMunicipality, so it is not
// carried. description and sensitiveDocument were in neither real
// document: they are carried at their schema places, since a frame without
// them would index an invalidated or restricted document as an ordinary one.
var frameLocalHeader = [][2]string{
	{"description", "description"},
	{"tableOfContents", "tableOfContents"},
	{"fileFormat", "fileFormat"},
	{"softwareSupport", "softwareSupport"},
	{"documentType", "documentType"},
	{"functionCode", "functionCode"},
	{"recordStatus", "recordStatus"},
	{"custodianTypeCode", "custodianTypecode"},
	{"encompassingEncounterCode", "encompassingEncounterCode"},
	{"encompassingEncounterMasterCode", "encompassingEncounterMasterCode"},
	{"outsourcingServiceCustomer", "outsourcingServiceCustomer"},
	{"outsourcingServiceCustomerName", "outsourcingServiceCustomerName"},
	{"retentionPeriodClass", "retentionPeriodClass"},
	{"sensitiveDocument", "sensitiveDocument"},
	{"releaseDateForPatientViewing", "releaseDateForPatientViewing"},
}

func (f *frame) localHeader(cd *etree.Element) {
	if f.m.localHeader == nil {
		return
	}
	h := cd.CreateElement("localHeader")
	h.CreateAttr("xmlns", hl7.NamespaceFI)
	for _, names := range frameLocalHeader {
		for _, c := range hl7xml.Children(f.m.localHeader, hl7.NamespaceFI, names[0]) {
			el := hl7xml.Rehome(c, "")
			el.Tag = names[1]
			h.AddChild(el)
		}
	}
}

// bodyMark is a processing instruction standing in the frame for the
// document's base64 lines while etree writes the frame. Base64 needs no
// escaping, and etree's escaping of ~17 KB of it was a tenth of the
// gateway's CPU besides signing; so the lines are written in afterwards.
// Text from a document cannot forge the mark: etree escapes every '<' in
// text and attributes.
const bodyMark = "kanta-mime-body"

// spliceBody replaces the one body mark in frame with the document's base64
// lines (76 characters each, as MIME requires).
func spliceBody(frame, document []byte) ([]byte, error) {
	mark := []byte("<?" + bodyMark + "?>")
	i := bytes.Index(frame, mark)
	if i < 0 || bytes.Contains(frame[i+len(mark):], mark) {
		return nil, fmt.Errorf("wire: frame holds %d body marks, want 1", bytes.Count(frame, mark))
	}
	const lineChars, lineBytes = 76, 57 // 57 bytes are 76 base64 characters
	n := base64.StdEncoding.EncodedLen(len(document))
	n += (n + lineChars - 1) / lineChars // one newline per line
	out := make([]byte, 0, len(frame)-len(mark)+n)
	out = append(out, frame[:i]...)
	for len(document) > 0 {
		k := min(lineBytes, len(document))
		out = base64.StdEncoding.AppendEncode(out, document[:k])
		out = append(out, '\n')
		document = document[k:]
	}
	return append(out, frame[i+len(mark):]...), nil
}

func (in MessageInput) check() error {
	switch in.Interaction {
	case hl7.InteractionNewHealth, hl7.InteractionReplaceHealth, hl7.InteractionSocial:
	default:
		return fmt.Errorf("%w %q", ErrUnknownInteraction, in.Interaction)
	}
	if len(in.Document) == 0 {
		return fmt.Errorf("%w: no document", ErrInvalidInput)
	}
	if !documents.ValidOID(in.MessageID) {
		return fmt.Errorf("%w: message id is not an OID", ErrInvalidInput)
	}
	if !documents.ValidOID(in.SenderOID) || (in.ReceiverOID != "" && !documents.ValidOID(in.ReceiverOID)) {
		return fmt.Errorf("%w: sender and receiver must be OIDs", ErrInvalidInput)
	}
	if in.CreationTime.IsZero() {
		return fmt.Errorf("%w: creation time is required (the signing time)", ErrInvalidInput)
	}
	if in.ProcessingCode != "D" && in.ProcessingCode != "P" {
		return fmt.Errorf("%w: processing code %q is not D or P", ErrInvalidInput, in.ProcessingCode)
	}
	switch in.SocialServiceRequest {
	case "", "SP17", "SP1":
	default:
		return fmt.Errorf("%w: social service request %q is not SP17 or SP1", ErrInvalidInput, in.SocialServiceRequest)
	}
	if in.CorrectionReason != "" && strings.TrimSpace(in.CorrectionReason) != in.CorrectionReason {
		return fmt.Errorf("%w: correction reason has surrounding space", ErrInvalidInput)
	}
	return nil
}

// mimeBoundary is derived from the document id, so the same document always
// gets the same package.
func mimeBoundary(documentID string) string {
	sum := sha256.Sum256([]byte(documentID))
	return "----=_Part_" + hex.EncodeToString(sum[:12])
}

// mimeEnvelope is the multipart/related package around the document's one
// base64 part, split where the part's lines go (see spliceBody).
func mimeEnvelope(messageID, documentID string) (head, tail string) {
	boundary := mimeBoundary(documentID)
	head = "Message-ID: <" + messageID + ">\n" +
		"MIME-Version: 1.0\n" +
		"Content-Type: multipart/related;\n boundary=\"" + boundary + "\"\n\n" +
		"--" + boundary + "\n" +
		"Content-Type: text/xml; charset=UTF-8\n" +
		"Content-Transfer-Encoding: BASE64\n" +
		"Content-ID: <" + documentID + ">\n\n"
	tail = "\n--" + boundary + "--\n"
	return head, tail
}

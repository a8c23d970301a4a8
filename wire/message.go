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
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
)

// Interactions of the archive requests.
const (
	InteractionNewHealth     = "RCMR_IN100002FI01" // new health care document
	InteractionReplaceHealth = "RCMR_IN100016FI01" // replacing (corrected) health care document
	InteractionSocial        = "RCMR_IN200002FI01" // social welfare document (new or replacing)
)

// Fixed values of the frame (kanta-domain.md section 3, the real sample).
const (
	nsHL7   = "urn:hl7-org:v3"
	nsHL7FI = "urn:hl7finland"

	kantaReceiverOID = "1.2.246.556.18007.2"

	oidInteractionID = "2.16.840.1.113883.1.6"
	oidTriggerEvent  = "2.16.840.1.113883.1.18"
	oidHetu          = "1.2.246.21"
	oidRegistration  = "1.2.246.537.26"

	triggerNewHealth     = "RCMR_TE000102UV01"
	triggerReplaceHealth = "RCMR_TE000910UV01"

	// Health service request PP1: archive the provider's own documents.
	systemHealthRequest = "1.2.246.537.5.40157.2008"
	codeHealthRequest   = "PP1"
	// Social welfare service request (SP17 client document, SP1 client
	// relationship document) and the register it goes to (1 = organiser's own).
	systemSocialRequest  = "1.2.246.537.6.1503.201601"
	systemSocialRegister = "1.2.246.537.6.1289.201901"
	// Correction reason of a replacing health care document.
	systemCorrectionReason = "1.2.246.537.5.40178.2008"
	// The frame's clinicalDocument/code of a social welfare document: the
	// social welfare client register.
	systemSocialRegisterType = "1.2.246.537.6.1264.201701"

	systemCompletion = "1.2.246.537.5.40115.2006"
	systemStorage    = "1.2.246.537.5.40116.2006"
)

// healthProfileIDs are the frame profiles the real 2017 health message names.
var healthProfileIDs = []string{"1.2.246.777.11.2015.5", "1.2.246.777.11.2008.10"}

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
	// DocumentTree, when set, is the tree Document was serialised from (or
	// parsed into); the metadata are then read from it instead of parsing
	// Document again. It is not modified.
	DocumentTree *etree.Document
}

// Code is a coded value of the frame.
type Code struct{ Code, CodeSystem string }

// Message is a parsed archive request.
type Message struct {
	Interaction, MessageID, ProcessingCode, SenderOID, ReceiverOID string
	ReasonCodes                                                    []Code
	// From the frame's copy of the document metadata.
	DocumentID, SetID string
	Version           int
	Hetu              string
	ContentID         string
	Document          []byte // the CDA bytes decoded from the MIME part, byte-exact
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
	return readTree(doc)
}

// readTree reads the metadata of a parsed document.
func readTree(doc *etree.Document) (*docMeta, error) {
	root := doc.Root()
	if !is(root, nsHL7, "ClinicalDocument") {
		return nil, errors.New("document root is not ClinicalDocument in urn:hl7-org:v3")
	}
	m := &docMeta{doc: doc, root: root}
	m.id = attr(child(root, nsHL7, "id"), "root")
	m.setID = attr(child(root, nsHL7, "setId"), "root")
	if m.id == "" || m.setID == "" {
		return nil, errors.New("document has no id or setId")
	}
	v, err := strconv.Atoi(attr(child(root, nsHL7, "versionNumber"), "value"))
	if err != nil || v < 1 {
		return nil, errors.New("document versionNumber is not a positive integer")
	}
	m.version = v
	m.hetu = patientID(path(root, "recordTarget", "patientRole"))
	m.localHeader = child(root, nsHL7FI, "localHeader")
	m.localSocialHeader = child(root, nsHL7FI, "localSocialHeader")
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
	ids := children(role, nsHL7, "id")
	for _, id := range ids {
		if attr(id, "root") == oidHetu {
			return attr(id, "extension")
		}
	}
	if len(ids) > 0 {
		return attr(ids[0], "extension")
	}
	return ""
}

// BuildMessage wraps a signed CDA document in its archive request frame.
// The frame's metadata is copied from the parsed document, so it matches by
// construction; the document bytes are carried unchanged.
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
	want := InteractionSocial
	if !m.social {
		want = InteractionNewHealth
		if m.version > 1 {
			want = InteractionReplaceHealth
		}
	}
	if in.Interaction != want {
		return nil, fmt.Errorf("%w: interaction %s does not fit a document of version %d (want %s)", ErrInvalidInput, in.Interaction, m.version, want)
	}

	root := etree.NewElement(in.Interaction)
	root.CreateAttr("ITSVersion", "XML_1.0")
	root.CreateAttr("xmlns", nsHL7)
	root.CreateElement("id").CreateAttr("root", in.MessageID)
	root.CreateElement("creationTime").CreateAttr("value", in.CreationTime.UTC().Format("20060102150405")+"+0000")
	root.CreateElement("versionCode").CreateAttr("code", "V3-2006")
	iid := root.CreateElement("interactionId")
	iid.CreateAttr("extension", in.Interaction)
	iid.CreateAttr("root", oidInteractionID)
	if !m.social {
		for _, p := range healthProfileIDs {
			root.CreateElement("profileId").CreateAttr("root", p)
		}
	}
	root.CreateElement("processingCode").CreateAttr("code", in.ProcessingCode)
	root.CreateElement("processingModeCode").CreateAttr("code", "T")
	root.CreateElement("acceptAckCode").CreateAttr("code", "ER")
	receiver := in.ReceiverOID
	if receiver == "" {
		receiver = kantaReceiverOID
	}
	device(root, "receiver", "RCV", receiver)
	device(root, "sender", "SND", in.SenderOID)

	act := root.CreateElement("controlActProcess")
	if m.social {
		act.CreateAttr("classCode", "CACT")
		act.CreateAttr("moodCode", "EVN")
		act.CreateElement("priorityCode").CreateAttr("code", "R")
		request := in.SocialServiceRequest
		if request == "" {
			request = "SP17"
		}
		code(act, "reasonCode", request, systemSocialRequest)
		code(act, "reasonCode", "1", systemSocialRegister)
	} else {
		act.CreateAttr("moodCode", "RQO")
		trigger := triggerNewHealth
		if in.Interaction == InteractionReplaceHealth {
			trigger = triggerReplaceHealth
		}
		code(act, "code", trigger, oidTriggerEvent)
		code(act, "reasonCode", codeHealthRequest, systemHealthRequest)
		if in.Interaction == InteractionReplaceHealth {
			reason := in.CorrectionReason
			if reason == "" {
				reason = "1"
			}
			code(act, "reasonCode", reason, systemCorrectionReason)
		}
	}
	authorOrPerformer(act, m)

	subject := act.CreateElement("subject")
	subject.CreateAttr("typeCode", "SUBJ")
	cd := subject.CreateElement("clinicalDocument")
	if m.social {
		copyChild(cd, m.root, "realmCode")
		copyChild(cd, m.root, "typeId")
	} else {
		for _, p := range healthProfileIDs[:1] {
			cd.CreateElement("templateId").CreateAttr("root", p)
		}
	}
	copyChild(cd, m.root, "id")
	if m.social {
		code(cd, "code", "1", systemSocialRegisterType)
	} else {
		copyChild(cd, m.root, "code")
	}
	text := cd.CreateElement("text")
	text.CreateAttr("mediaType", "multipart/related")
	head, tail := mimeEnvelope(in.MessageID, m.id)
	text.CreateText(head)
	text.CreateProcInst(bodyMark, "")
	text.CreateText(tail)
	cd.CreateElement("statusCode").CreateAttr("code", "completed")
	copyChild(cd, m.root, "effectiveTime")
	copyChild(cd, m.root, "confidentialityCode")
	copyChild(cd, m.root, "languageCode")
	copyChild(cd, m.root, "setId")
	copyChild(cd, m.root, "versionNumber")
	code(cd, "completionCode", "LA", systemCompletion)
	code(cd, "storageCode", "AC", systemStorage)
	recordTarget(cd, m.root)
	copyChild(cd, m.root, "author")
	copyChild(cd, m.root, "custodian")
	for _, rel := range children(m.root, nsHL7, "relatedDocument") {
		cd.AddChild(rehome(rel, ""))
	}
	componentOf(cd, m.root)
	if m.localHeader != nil {
		// The frame repeats the local header without its signatures.
		h := rehome(m.localHeader, "signatureCollection")
		h.CreateAttr("xmlns", nsHL7FI)
		cd.AddChild(h)
	}

	doc := etree.NewDocument()
	doc.SetRoot(root)
	var frame bytes.Buffer
	frame.Grow(4096)
	frame.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	if _, err := doc.WriteTo(&frame); err != nil {
		return nil, err
	}
	return spliceBody(frame.Bytes(), in.Document)
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
	if i < 0 || bytes.Index(frame[i+len(mark):], mark) >= 0 {
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
	case InteractionNewHealth, InteractionReplaceHealth, InteractionSocial:
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

func device(root *etree.Element, tag, typeCode, oid string) {
	el := root.CreateElement(tag)
	el.CreateAttr("typeCode", typeCode)
	el.CreateElement("device").CreateElement("id").CreateAttr("root", oid)
}

func code(parent *etree.Element, tag, c, system string) {
	el := parent.CreateElement(tag)
	el.CreateAttr("code", c)
	el.CreateAttr("codeSystem", system)
}

// authorOrPerformer: health frames name the organiser (as the real message
// does); social frames name the professional. Apotti's social frame carries
// the professional's identity code, which the export does not give; the
// registration number identifies them instead.
func authorOrPerformer(act *etree.Element, m *docMeta) {
	ap := act.CreateElement("authorOrPerformer")
	ap.CreateAttr("typeCode", "PRF")
	person := ap.CreateElement("assignedPerson")
	aa := path(m.root, "author", "assignedAuthor")
	if m.social && aa != nil {
		for _, id := range children(aa, nsHL7, "id") {
			person.AddChild(rehome(id, ""))
		}
		if n := path(aa, "assignedPerson", "name"); n != nil {
			person.AddChild(rehome(n, ""))
		}
	}
	org := person.CreateElement("representedOrganization")
	if id := path(m.root, "custodian", "assignedCustodian", "representedCustodianOrganization", "id"); id != nil {
		org.AddChild(rehome(id, ""))
	}
}

// recordTarget: the frame's model names the patient directly (patient/id,
// patientPerson), as the real message shows.
func recordTarget(cd, root *etree.Element) {
	role := path(root, "recordTarget", "patientRole")
	if role == nil {
		return
	}
	patient := cd.CreateElement("recordTarget").CreateElement("patient")
	for _, id := range children(role, nsHL7, "id") {
		patient.AddChild(rehome(id, ""))
	}
	patient.CreateElement("statusCode").CreateAttr("code", "active")
	person := patient.CreateElement("patientPerson")
	if p := child(role, nsHL7, "patient"); p != nil {
		for c := range p.ChildElementsSeq() {
			person.AddChild(rehome(c, ""))
		}
	}
}

// componentOf: encompassingEncounter becomes the frame's encounterEvent with
// the encounter's id, time and location.
func componentOf(cd, root *etree.Element) {
	enc := path(root, "componentOf", "encompassingEncounter")
	if enc == nil {
		return
	}
	ev := cd.CreateElement("componentOf").CreateElement("encounterEvent")
	for _, name := range []string{"id", "effectiveTime", "location"} {
		for _, c := range children(enc, nsHL7, name) {
			ev.AddChild(rehome(c, ""))
		}
	}
}

func copyChild(dst, src *etree.Element, name string) {
	if c := child(src, nsHL7, name); c != nil {
		dst.AddChild(rehome(c, ""))
	}
}

// rehome copies an element tree without namespace prefixes and declarations,
// for placing under a parent whose default namespace is the element's own.
// Children named skip are left out.
func rehome(src *etree.Element, skip string) *etree.Element {
	dst := etree.NewElement(src.Tag)
	for _, a := range src.Attr {
		if a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns") {
			continue
		}
		dst.CreateAttr(a.FullKey(), a.Value)
	}
	for _, t := range src.Child {
		switch c := t.(type) {
		case *etree.Element:
			if skip != "" && c.Tag == skip {
				continue
			}
			dst.AddChild(rehome(c, skip))
		case *etree.CharData:
			dst.AddChild(etree.NewText(c.Data))
		}
	}
	return dst
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

// --- element helpers --------------------------------------------------------

func is(el *etree.Element, ns, local string) bool {
	return el != nil && el.Tag == local && el.NamespaceURI() == ns
}

func child(el *etree.Element, ns, local string) *etree.Element {
	if el == nil {
		return nil
	}
	for c := range el.ChildElementsSeq() {
		if is(c, ns, local) {
			return c
		}
	}
	return nil
}

func children(el *etree.Element, ns, local string) []*etree.Element {
	var out []*etree.Element
	if el == nil {
		return nil
	}
	for c := range el.ChildElementsSeq() {
		if is(c, ns, local) {
			out = append(out, c)
		}
	}
	return out
}

// path follows HL7-namespace children.
func path(el *etree.Element, names ...string) *etree.Element {
	for _, n := range names {
		if el = child(el, nsHL7, n); el == nil {
			return nil
		}
	}
	return el
}

func attr(el *etree.Element, key string) string {
	if el == nil {
		return ""
	}
	return el.SelectAttrValue(key, "")
}

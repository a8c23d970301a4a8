package wire

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/hl7"
)

// The acknowledgements Kanta may answer an archive request with. Section
// 8.1 of kanta-domain.md (the HL7 Finland V3 messaging guide on kanta.fi):
// MCCI_IN000002UV01 is HL7's *accept* acknowledgement, acknowledgement
// typeCode CA (accepted), CE (error, may succeed later) or CR (rejected),
// with sender and receiver (the request's, swapped) both required and no
// controlActProcess. AA/AE/AR are the *application* acknowledgement codes,
// carried in a domain interaction. Which one Kanta answers, and its
// error-code table, are not public, so both families are read, and every
// detail of the wire form stays in this one file.

// AckCode is the HL7 acknowledgement type code of either family.
type AckCode string

const (
	// Application acknowledgement (a domain interaction's answer).
	AckAccepted AckCode = "AA" // archived (or already was)
	AckError    AckCode = "AE" // not archived now; the same message may succeed later
	AckRejected AckCode = "AR" // not archived and never will be as sent

	// Accept acknowledgement (MCCI_IN000002UV01).
	AckCommitAccept AckCode = "CA" // accepted
	AckCommitError  AckCode = "CE" // error; the same message may succeed later
	AckCommitReject AckCode = "CR" // rejected
)

// AckOutcome is what an acknowledgement code means for a delivery, the
// same in both families.
type AckOutcome int

const (
	OutcomeUnknown   AckOutcome = iota
	OutcomeDone                 // CA, AA
	OutcomeRetry                // CE, AE
	OutcomePermanent            // CR, AR
)

// Outcome classifies a code of either family.
func (c AckCode) Outcome() AckOutcome {
	switch c {
	case AckAccepted, AckCommitAccept:
		return OutcomeDone
	case AckError, AckCommitError:
		return OutcomeRetry
	case AckRejected, AckCommitReject:
		return OutcomePermanent
	}
	return OutcomeUnknown
}

// AckFamily is which acknowledgement family an answer uses.
type AckFamily string

const (
	// FamilyAccept: MCCI_IN000002UV01 with CA/CE/CR (what section 8.1
	// names; the mock's default).
	FamilyAccept AckFamily = "accept"
	// FamilyApplication: AA/AE/AR.
	FamilyApplication AckFamily = "application"
)

// ParseAckFamily reads a configured family name.
func ParseAckFamily(s string) (AckFamily, error) {
	switch f := AckFamily(s); f {
	case FamilyAccept, FamilyApplication:
		return f, nil
	}
	return "", fmt.Errorf("acknowledgement family %q: want accept (CA/CE/CR) or application (AA/AE/AR)", s)
}

// In gives the code of the same outcome in family f.
func (c AckCode) In(f AckFamily) AckCode {
	o := c.Outcome()
	if f == FamilyAccept {
		return map[AckOutcome]AckCode{OutcomeDone: AckCommitAccept, OutcomeRetry: AckCommitError, OutcomePermanent: AckCommitReject}[o]
	}
	return map[AckOutcome]AckCode{OutcomeDone: AckAccepted, OutcomeRetry: AckError, OutcomePermanent: AckRejected}[o]
}

// AckDetailCodeSystemName names the detail code table below. It is ours, not
// Kanta's (whose table is not public), hence a name and no OID.
const AckDetailCodeSystemName = "kanta-gateway ack detail codes"

// Ack is an acknowledgement of one archive request.
type Ack struct {
	Code            AckCode
	Detail          string // one of DetailCodes' Code
	Text            string // human-readable; never holds identity codes or names
	MessageID       string // id of the acknowledgement itself
	TargetMessageID string // id of the archive request acknowledged
	Duplicate       bool   // the document was already archived with identical content
	// ProcessingCode mirrors the environment: "D" test, "P" production
	// (the default when empty).
	ProcessingCode string
	// SenderOID and ReceiverOID are the acknowledgement's devices: the
	// request's receiver and sender, swapped. BuildAck writes Kanta's
	// device when SenderOID is empty, and a receiver id with nullFlavor
	// UNK when ReceiverOID is empty (a request too broken to name its
	// sender).
	SenderOID, ReceiverOID string
	// Interaction is the answer's root element as read (MCCI_IN000002UV01
	// for an accept acknowledgement).
	Interaction string
}

// DetailCode is one row of the acknowledgement detail table.
type DetailCode struct {
	Code string
	Ack  AckCode
	Text string
}

// Detail codes. AA: archived. AE: may succeed later (retry the same bytes).
// AR: will never succeed as sent (fix the document or the configuration).
const (
	DetailAccepted              = "ACCEPTED"
	DetailDuplicate             = "DUPLICATE"
	DetailServiceUnavailable    = "SERVICE_UNAVAILABLE"
	DetailRateLimited           = "RATE_LIMITED"
	DetailInternalError         = "INTERNAL_ERROR"
	DetailMalformedFrame        = "MALFORMED_FRAME"
	DetailUnknownInteraction    = "UNKNOWN_INTERACTION"
	DetailInteractionMismatch   = "INTERACTION_MISMATCH"
	DetailMetadataMismatch      = "METADATA_MISMATCH"
	DetailProfileViolation      = "PROFILE_VIOLATION"
	DetailSignatureMissing      = "SIGNATURE_MISSING"
	DetailSignatureInvalid      = "SIGNATURE_INVALID"
	DetailSignerNotTrusted      = "SIGNER_NOT_TRUSTED"
	DetailSignatureTypeMismatch = "SIGNATURE_TYPE_MISMATCH"
	DetailVersionOutOfOrder     = "VERSION_OUT_OF_ORDER"
	DetailVersionConflict       = "VERSION_CONFLICT"
	DetailSetInvalidated        = "SET_INVALIDATED"
	DetailInvalidIdentity       = "INVALID_IDENTITY"
	DetailNotTestIdentity       = "NOT_TEST_IDENTITY"
	DetailTestIdentity          = "TEST_IDENTITY_IN_PRODUCTION"
	DetailProcessingCode        = "PROCESSING_CODE_MISMATCH"
	// Social welfare archive (SHARK).
	DetailServiceRequestGroup          = "SERVICE_REQUEST_GROUP_MISMATCH"
	DetailClientRelationshipMissing    = "CLIENT_RELATIONSHIP_MISSING"
	DetailContentSpecificationMismatch = "CONTENT_SPECIFICATION_MISMATCH"
	DetailStructuredContentMissing     = "STRUCTURED_CONTENT_MISSING"
	DetailStructuredContentInvalid     = "STRUCTURED_CONTENT_INVALID"
	DetailStructuredClientMismatch     = "STRUCTURED_CLIENT_MISMATCH"
	DetailStructuredServiceTask        = "STRUCTURED_SERVICE_TASK_MISMATCH"
	DetailSchemaViolation              = "SCHEMA_VIOLATION"
	DetailIdentityInContent            = "NOT_TEST_IDENTITY_IN_CONTENT"
	DetailSignedInFuture               = "SIGNATURE_TIME_IN_FUTURE"
	DetailSignerExpiredAtReceipt       = "SIGNER_NOT_VALID_AT_RECEIPT"
	DetailSignerNotSigningCertificate  = "SIGNER_NOT_SIGNING_CERTIFICATE"
)

// DetailCodes is the whole table, in the order a reader wants it.
var DetailCodes = []DetailCode{
	{DetailAccepted, AckAccepted, "document archived"},
	{DetailDuplicate, AckAccepted, "document already archived with identical content; not stored again"},
	{DetailServiceUnavailable, AckError, "archive temporarily unavailable; resend the same message later"},
	{DetailRateLimited, AckError, "too many requests; resend the same message later"},
	{DetailInternalError, AckError, "archive internal error; resend the same message later"},
	{DetailVersionOutOfOrder, AckError, "version does not follow the current version of its set (an earlier version may still be on its way); resend after it"},
	{DetailMalformedFrame, AckRejected, "archive message is not a well-formed request frame with one CDA document"},
	{DetailUnknownInteraction, AckRejected, "interaction is not an archive request this service accepts"},
	{DetailInteractionMismatch, AckRejected, "interaction does not fit the document's archive or version"},
	{DetailMetadataMismatch, AckRejected, "frame metadata (id, setId, version or client) does not match the document"},
	{DetailProfileViolation, AckRejected, "document does not conform to the Finnish CDA profile"},
	{DetailSignatureMissing, AckRejected, "document carries no signature"},
	{DetailSignatureInvalid, AckRejected, "document signature does not verify"},
	{DetailSignerNotTrusted, AckRejected, "signer certificate does not chain to a trusted root"},
	{DetailSignatureTypeMismatch, AckRejected, "signer certificate does not fit the signature type (system: organisation OID; personal: author's registration number)"},
	{DetailVersionConflict, AckRejected, "document id already archived with different content, or version already taken"},
	{DetailSetInvalidated, AckRejected, "document set was invalidated (entered in error); no further versions accepted"},
	{DetailInvalidIdentity, AckRejected, "client identity code is missing or invalid"},
	{DetailNotTestIdentity, AckRejected, "test environment accepts only test identity codes (individual number 900-999)"},
	{DetailTestIdentity, AckRejected, "production environment refuses test identity codes"},
	{DetailProcessingCode, AckRejected, "processingCode does not match the environment (D test, P production)"},
	{DetailServiceRequestGroup, AckRejected, "document group does not fit the service request (SP1: group 1, SP17: group 5)"},
	{DetailClientRelationshipMissing, AckError, "the client's client relationship document is not archived yet; resend after it"},
	{DetailContentSpecificationMismatch, AckRejected, "contentSpecificationId does not fit the document type"},
	{DetailStructuredContentMissing, AckRejected, "document type has a Sosmeta structure but the document carries no structured content (hl7fi:json)"},
	{DetailStructuredContentInvalid, AckRejected, "structured content does not decode or does not follow its Sosmeta structure"},
	{DetailStructuredClientMismatch, AckRejected, "structured content names another client than the document header"},
	{DetailStructuredServiceTask, AckRejected, "structured content names another service task than the document header"},
	{DetailSchemaViolation, AckRejected, "health care document is not valid against the Finnish CDA schema (CDA_Fi.xsd)"},
	{DetailSignedInFuture, AckRejected, "signature timestamp lies after the receipt time by more than the allowed clock skew"},
	{DetailSignerExpiredAtReceipt, AckRejected, "signer certificate is not valid at the receipt time of a new submission"},
	{DetailSignerNotSigningCertificate, AckRejected, "signer certificate is a TLS certificate (extended key usage clientAuth or serverAuth), not a signing certificate"},
	{DetailIdentityInContent, AckRejected, "test environment accepts only test identity codes (individual number 900-999) anywhere in a message: a non-test code appears in the frame, an author, a guardian, the display text or the structured content"},
}

// LookupDetail returns the table row for a detail code.
func LookupDetail(code string) (DetailCode, bool) {
	for _, d := range DetailCodes {
		if d.Code == code {
			return d, true
		}
	}
	return DetailCode{}, false
}

// NewAck fills Code and Text from the table for a detail code; an unknown
// code is an internal error (AE). The code is of the application family;
// Ack.Code.In(FamilyAccept) gives the accept family's.
func NewAck(detail, messageID, targetMessageID string) Ack {
	d, ok := LookupDetail(detail)
	if !ok {
		d, _ = LookupDetail(DetailInternalError)
	}
	return Ack{
		Code:            d.Ack,
		Detail:          d.Code,
		Text:            d.Text,
		MessageID:       messageID,
		TargetMessageID: targetMessageID,
		Duplicate:       d.Code == DetailDuplicate,
	}
}

type xmlII struct {
	Root       string `xml:"root,attr,omitempty"`
	Extension  string `xml:"extension,attr,omitempty"`
	NullFlavor string `xml:"nullFlavor,attr,omitempty"`
}

type xmlCode struct {
	Code           string `xml:"code,attr"`
	CodeSystem     string `xml:"codeSystem,attr,omitempty"`
	CodeSystemName string `xml:"codeSystemName,attr,omitempty"`
}

type xmlValue struct {
	Value string `xml:"value,attr"`
}

// xmlDevice is written as the real social welfare frames write it
// (Warc0ck/SH-Kanta-validator, "asia ja rajoitukset testi K.xml":
// device classCode="DEV" determinerCode="INSTANCE").
type xmlDevice struct {
	TypeCode string           `xml:"typeCode,attr"`
	Device   *xmlDeviceEntity `xml:"device"`
}

type xmlDeviceEntity struct {
	ClassCode      string `xml:"classCode,attr,omitempty"`
	DeterminerCode string `xml:"determinerCode,attr,omitempty"`
	ID             *xmlII `xml:"id"`
}

func newDevice(typeCode, oid string) *xmlDevice {
	d := &xmlDevice{TypeCode: typeCode}
	d.Device = &xmlDeviceEntity{ClassCode: "DEV", DeterminerCode: "INSTANCE", ID: &xmlII{Root: oid}}
	if oid == "" {
		d.Device.ID = &xmlII{NullFlavor: "UNK"}
	}
	return d
}

// oid is the device id read, and whether the device (with an id) is there.
func (d *xmlDevice) oid() (string, bool) {
	if d == nil || d.Device == nil || d.Device.ID == nil {
		return "", false
	}
	return d.Device.ID.Root, d.Device.ID.Root != "" || d.Device.ID.NullFlavor != ""
}

type xmlAckDetail struct {
	TypeCode string  `xml:"typeCode,attr"`
	Code     xmlCode `xml:"code"`
	Text     string  `xml:"text"`
}

type xmlAcknowledgement struct {
	TypeCode string        `xml:"typeCode,attr"`
	Target   xmlII         `xml:"targetMessage>id"`
	Detail   *xmlAckDetail `xml:"acknowledgementDetail"`
}

// xmlHeader is the transmission wrapper every HL7 V3 message starts with.
type xmlHeader struct {
	ITSVersion         string     `xml:"ITSVersion,attr"`
	ID                 xmlII      `xml:"id"`
	CreationTime       xmlValue   `xml:"creationTime"`
	VersionCode        xmlCode    `xml:"versionCode"`
	InteractionID      xmlII      `xml:"interactionId"`
	ProcessingCode     xmlCode    `xml:"processingCode"`
	ProcessingModeCode xmlCode    `xml:"processingModeCode"`
	AcceptAckCode      xmlCode    `xml:"acceptAckCode"`
	Receiver           *xmlDevice `xml:"receiver"`
	Sender             *xmlDevice `xml:"sender"`
}

type xmlAckMessage struct {
	XMLName xml.Name
	xmlHeader
	Acknowledgement *xmlAcknowledgement `xml:"acknowledgement"`
}

// ackTime is the creation time; a variable so tests can pin it.
var ackTime = time.Now

func header(interaction, messageID, extension, processing, acceptAck, receiver, sender string) xmlHeader {
	if processing == "" {
		processing = "P"
	}
	return xmlHeader{
		ITSVersion:         "XML_1.0",
		ID:                 xmlII{Root: messageID, Extension: extension},
		CreationTime:       xmlValue{ackTime().UTC().Format("20060102150405")},
		VersionCode:        xmlCode{Code: "V3-2006"},
		InteractionID:      xmlII{Root: hl7.OIDInteractionID, Extension: interaction},
		ProcessingCode:     xmlCode{Code: processing},
		ProcessingModeCode: xmlCode{Code: "T"},
		AcceptAckCode:      xmlCode{Code: acceptAck},
		Receiver:           newDevice("RCV", receiver),
		Sender:             newDevice("SND", sender),
	}
}

// BuildAck serialises an acknowledgement message: MCCI_IN000002UV01 in
// either family (the domain interaction that would carry an application
// acknowledgement is not public).
func BuildAck(a Ack) []byte {
	detailType := "I"
	switch a.Code.Outcome() {
	case OutcomeRetry, OutcomePermanent:
		detailType = "E"
	}
	sender := a.SenderOID
	if sender == "" {
		sender = hl7.OIDKantaDevice
	}
	m := xmlAckMessage{
		XMLName:   xml.Name{Space: hl7.NamespaceV3, Local: hl7.InteractionAck},
		xmlHeader: header(hl7.InteractionAck, a.MessageID, "", a.ProcessingCode, "NE", a.ReceiverOID, sender),
		Acknowledgement: &xmlAcknowledgement{
			TypeCode: string(a.Code),
			Target:   xmlII{Root: a.TargetMessageID},
		},
	}
	if a.Detail != "" || a.Text != "" {
		m.Acknowledgement.Detail = &xmlAckDetail{
			TypeCode: detailType,
			Code:     xmlCode{Code: a.Detail, CodeSystemName: AckDetailCodeSystemName},
			Text:     a.Text,
		}
	}
	return encode(m)
}

func encode(v any) []byte {
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	if err := xml.NewEncoder(&buf).Encode(v); err != nil {
		// Only strings and fixed structure: encoding cannot fail.
		panic(fmt.Sprintf("wire: encode: %v", err))
	}
	return buf.Bytes()
}

// ErrNotAck is returned by ParseAck for a body that is not an acknowledgement.
var ErrNotAck = errors.New("wire: not an HL7 V3 acknowledgement")

// ParseAck reads an acknowledgement of either family, bare or inside a
// SOAP 1.1 or 1.2 envelope. A SOAP Fault is returned as an error that
// errors.As finds as *Fault (and wraps ErrNotAck). An MCCI_IN000002UV01
// must name both its sender and its receiver; another HL7 V3 root element
// with an acknowledgement (an application acknowledgement in a domain
// interaction) is read too.
func ParseAck(raw []byte) (*Ack, error) {
	var m xmlAckMessage
	if err := decodeBody(raw, &m); err != nil {
		return nil, err
	}
	if m.XMLName.Space != hl7.NamespaceV3 {
		return nil, fmt.Errorf("%w: root element %s is not in urn:hl7-org:v3", ErrNotAck, m.XMLName.Local)
	}
	if m.Acknowledgement == nil {
		return nil, fmt.Errorf("%w: %s has no acknowledgement", ErrNotAck, m.XMLName.Local)
	}
	c := AckCode(m.Acknowledgement.TypeCode)
	if c.Outcome() == OutcomeUnknown {
		return nil, fmt.Errorf("%w: unknown acknowledgement typeCode %q", ErrNotAck, c)
	}
	sender, hasSender := m.Sender.oid()
	receiver, hasReceiver := m.Receiver.oid()
	if m.XMLName.Local == hl7.InteractionAck && (!hasSender || !hasReceiver) {
		return nil, fmt.Errorf("%w: %s without sender and receiver devices", ErrNotAck, hl7.InteractionAck)
	}
	a := &Ack{
		Code:            c,
		ProcessingCode:  m.ProcessingCode.Code,
		MessageID:       m.ID.Root,
		TargetMessageID: m.Acknowledgement.Target.Root,
		SenderOID:       sender,
		ReceiverOID:     receiver,
		Interaction:     m.XMLName.Local,
	}
	if d := m.Acknowledgement.Detail; d != nil {
		a.Detail = d.Code.Code
		a.Text = d.Text
	}
	a.Duplicate = c.Outcome() == OutcomeDone && a.Detail == DetailDuplicate
	return a, nil
}

package wire

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"time"
)

// The acknowledgement Kanta answers an archive request with. Its exact form
// and error-code table are not public; this follows HL7 V3's
// MCCI_IN000002UV01 application acknowledgement (acknowledgement typeCode
// AA/AE/AR, targetMessage id, acknowledgementDetail code and text) and keeps
// every detail of the wire form in this one file so it can be matched to
// Kela's specification once that is available.

// AckCode is the HL7 acknowledgement class.
type AckCode string

const (
	// AckAccepted: the document is archived (or was already).
	AckAccepted AckCode = "AA"
	// AckError: not archived now; the same message may succeed later.
	AckError AckCode = "AE"
	// AckRejected: not archived and never will be; resending is pointless.
	AckRejected AckCode = "AR"
)

// InteractionAck is the interaction id of the acknowledgement message.
const InteractionAck = "MCCI_IN000002UV01"

// KantaDeviceOID is the receiver device of archive requests and so the
// sender of acknowledgements.
const KantaDeviceOID = "1.2.246.556.18007.2"

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
// code is an internal error (AE).
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
	Root      string `xml:"root,attr"`
	Extension string `xml:"extension,attr,omitempty"`
}

type xmlCode struct {
	Code           string `xml:"code,attr"`
	CodeSystemName string `xml:"codeSystemName,attr,omitempty"`
}

type xmlValue struct {
	Value string `xml:"value,attr"`
}

type xmlDevice struct {
	TypeCode string `xml:"typeCode,attr"`
	ID       xmlII  `xml:"device>id"`
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

type xmlAckMessage struct {
	XMLName            xml.Name           `xml:"urn:hl7-org:v3 MCCI_IN000002UV01"`
	ITSVersion         string             `xml:"ITSVersion,attr"`
	ID                 xmlII              `xml:"id"`
	CreationTime       xmlValue           `xml:"creationTime"`
	VersionCode        xmlCode            `xml:"versionCode"`
	InteractionID      xmlII              `xml:"interactionId"`
	ProcessingCode     xmlCode            `xml:"processingCode"`
	ProcessingModeCode xmlCode            `xml:"processingModeCode"`
	AcceptAckCode      xmlCode            `xml:"acceptAckCode"`
	Sender             xmlDevice          `xml:"sender"`
	Acknowledgement    xmlAcknowledgement `xml:"acknowledgement"`
}

// ackTime is the creation time; a variable so tests can pin it.
var ackTime = time.Now

// BuildAck serialises an acknowledgement message.
func BuildAck(a Ack) []byte {
	processing := a.ProcessingCode
	if processing == "" {
		processing = "P"
	}
	detailType := "I"
	switch a.Code {
	case AckError, AckRejected:
		detailType = "E"
	}
	m := xmlAckMessage{
		ITSVersion:         "XML_1.0",
		ID:                 xmlII{Root: a.MessageID},
		CreationTime:       xmlValue{ackTime().UTC().Format("20060102150405")},
		VersionCode:        xmlCode{Code: "V3-2006"},
		InteractionID:      xmlII{Root: "2.16.840.1.113883.1.6", Extension: InteractionAck},
		ProcessingCode:     xmlCode{Code: processing},
		ProcessingModeCode: xmlCode{Code: "T"},
		AcceptAckCode:      xmlCode{Code: "NE"},
		Sender:             xmlDevice{TypeCode: "SND", ID: xmlII{Root: KantaDeviceOID}},
		Acknowledgement: xmlAcknowledgement{
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
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	if err := xml.NewEncoder(&buf).Encode(m); err != nil {
		// Only strings and fixed structure: encoding cannot fail.
		panic(fmt.Sprintf("wire: encode ack: %v", err))
	}
	return buf.Bytes()
}

// ErrNotAck is returned by ParseAck for a body that is not an acknowledgement.
var ErrNotAck = errors.New("wire: not an MCCI_IN000002UV01 acknowledgement")

// ParseAck reads an acknowledgement message.
func ParseAck(raw []byte) (*Ack, error) {
	var m xmlAckMessage
	if err := xml.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotAck, err)
	}
	switch c := AckCode(m.Acknowledgement.TypeCode); c {
	case AckAccepted, AckError, AckRejected:
	default:
		return nil, fmt.Errorf("%w: unknown acknowledgement typeCode %q", ErrNotAck, c)
	}
	a := &Ack{
		Code:            AckCode(m.Acknowledgement.TypeCode),
		ProcessingCode:  m.ProcessingCode.Code,
		MessageID:       m.ID.Root,
		TargetMessageID: m.Acknowledgement.Target.Root,
	}
	if d := m.Acknowledgement.Detail; d != nil {
		a.Detail = d.Code.Code
		a.Text = d.Text
	}
	a.Duplicate = a.Code == AckAccepted && a.Detail == DetailDuplicate
	return a, nil
}

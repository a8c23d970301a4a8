package wire

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"strconv"

	"github.com/helsinki-student-welfare/kanta-gateway/hl7"
)

// The "is this document stored?" query. Both archives offer queries
// (kanta-domain.md 8.1, "Queries exist"), but their interaction ids and
// message shapes are not public. This one is shaped as an HL7 V3 query
// (the QUQI control act: queryByParameter with queryId, statusCode,
// responseModalityCode, responsePriorityCode and one parameter, answered
// with a queryAck whose queryResponseCode is OK / NF / AE / QE), asks by the
// document id, and takes its interaction ids from configuration.
//
// UNCONFIRMED: the defaults below are placeholders of this gateway, not
// Kanta's ids.
const (
	DefaultQueryInteraction       = "RCMR_IN000029UV01"
	DefaultQueryAnswerInteraction = "RCMR_IN000030UV01"
)

// Query response codes (HL7 V3 QueryResponse).
const (
	QueryFound       = "OK" // data found: the document is stored
	QueryNotFound    = "NF" // no data found: not stored
	QueryAppError    = "AE" // application error: try again later
	QueryParamsError = "QE" // the query itself is wrong
)

// Header is the transmission wrapper of an HL7 V3 message as far as the
// submitter needs it.
type Header struct {
	Interaction, MessageID, ProcessingCode, SenderOID, ReceiverOID string
}

// ReadHeader reads the transmission wrapper of an archive request (or any
// HL7 V3 message), bare or enveloped. It stops at controlActProcess, so
// the payload (megabytes of base64) is not read.
func ReadHeader(raw []byte) (Header, error) {
	o, err := Open(raw)
	if err != nil {
		return Header{}, err
	}
	if o.Fault != nil {
		return Header{}, o.Fault
	}
	d := xml.NewDecoder(bytes.NewReader(o.Body))
	root, err := firstElement(d)
	if err != nil {
		return Header{}, err
	}
	h := Header{Interaction: root.Name.Local}
	for {
		tok, err := d.Token()
		if err != nil {
			return Header{}, fmt.Errorf("%w: %v", ErrNoMessage, err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			if _, end := tok.(xml.EndElement); end {
				return h, nil
			}
			continue
		}
		var into any
		var id xmlII
		var code xmlCode
		var dev xmlDevice
		switch se.Name.Local {
		case "controlActProcess":
			return h, nil
		case "id":
			into = &id
		case "processingCode":
			into = &code
		case "sender", "receiver":
			into = &dev
		default:
			if err := d.Skip(); err != nil {
				return Header{}, fmt.Errorf("%w: %v", ErrNoMessage, err)
			}
			continue
		}
		if err := d.DecodeElement(into, &se); err != nil {
			return Header{}, fmt.Errorf("%w: %v", ErrNoMessage, err)
		}
		switch se.Name.Local {
		case "id":
			h.MessageID = id.Root
		case "processingCode":
			h.ProcessingCode = code.Code
		case "sender":
			h.SenderOID, _ = dev.oid()
		case "receiver":
			h.ReceiverOID, _ = dev.oid()
		}
	}
}

// StoredQuery asks whether one document is stored.
type StoredQuery struct {
	Interaction string // DefaultQueryInteraction when empty
	// MessageID and Extension are the query's own id: the archive
	// request's id with an extension per attempt, so queries are told apart
	// and a rebuilt query is the same bytes.
	MessageID, Extension   string
	ProcessingCode         string
	SenderOID, ReceiverOID string // ReceiverOID: Kanta's device when empty
	DocumentID             string
}

type xmlQueryParameter struct {
	Value        xmlII  `xml:"value"`
	SemanticText string `xml:"semanticsText"`
}

type xmlQueryByParameter struct {
	QueryID              xmlII             `xml:"queryId"`
	StatusCode           xmlCode           `xml:"statusCode"`
	ResponseModalityCode xmlCode           `xml:"responseModalityCode"`
	ResponsePriorityCode xmlCode           `xml:"responsePriorityCode"`
	DocumentID           xmlQueryParameter `xml:"parameterList>clinicalDocument.id"`
}

type xmlControlAct struct {
	ClassCode        string               `xml:"classCode,attr"`
	MoodCode         string               `xml:"moodCode,attr"`
	Subject          *xmlQuerySubject     `xml:"subject"`
	QueryAck         *xmlQueryAck         `xml:"queryAck"`
	QueryByParameter *xmlQueryByParameter `xml:"queryByParameter"`
}

type xmlQueryMessage struct {
	XMLName xml.Name
	xmlHeader
	Acknowledgement *xmlAcknowledgement `xml:"acknowledgement"`
	ControlAct      *xmlControlAct      `xml:"controlActProcess"`
}

type xmlQuerySubject struct {
	TypeCode string `xml:"typeCode,attr"`
	Document struct {
		ClassCode string `xml:"classCode,attr"`
		MoodCode  string `xml:"moodCode,attr"`
		ID        xmlII  `xml:"id"`
	} `xml:"clinicalDocument"`
}

type xmlQueryAck struct {
	QueryID         xmlII    `xml:"queryId"`
	ResponseCode    xmlCode  `xml:"queryResponseCode"`
	ResultTotal     xmlValue `xml:"resultTotalQuantity"`
	ResultCurrent   xmlValue `xml:"resultCurrentQuantity"`
	ResultRemaining xmlValue `xml:"resultRemainingQuantity"`
}

const semanticsDocumentID = "ClinicalDocument.id"

// BuildStoredQuery writes the query (bare; the envelope is the caller's).
func BuildStoredQuery(q StoredQuery) []byte {
	interaction := q.Interaction
	if interaction == "" {
		interaction = DefaultQueryInteraction
	}
	receiver := q.ReceiverOID
	if receiver == "" {
		receiver = hl7.OIDKantaDevice
	}
	m := xmlQueryMessage{
		XMLName:   xml.Name{Space: hl7.NamespaceV3, Local: interaction},
		xmlHeader: header(interaction, q.MessageID, q.Extension, q.ProcessingCode, "AL", receiver, q.SenderOID),
		ControlAct: &xmlControlAct{ClassCode: "CACT", MoodCode: "EVN", QueryByParameter: &xmlQueryByParameter{
			QueryID:              xmlII{Root: q.MessageID, Extension: q.Extension},
			StatusCode:           xmlCode{Code: "new"},
			ResponseModalityCode: xmlCode{Code: "R"},
			ResponsePriorityCode: xmlCode{Code: "I"},
			DocumentID:           xmlQueryParameter{Value: xmlII{Root: q.DocumentID}, SemanticText: semanticsDocumentID},
		}},
	}
	return encode(m)
}

// ErrNotQuery is returned by ParseStoredQuery for a message that is not
// the configured query.
var ErrNotQuery = errors.New("wire: not a stored-document query")

// ParseStoredQuery reads a query (bare or enveloped) whose root element is
// the given interaction (DefaultQueryInteraction when empty).
func ParseStoredQuery(raw []byte, interaction string) (*StoredQuery, error) {
	if interaction == "" {
		interaction = DefaultQueryInteraction
	}
	var m xmlQueryMessage
	o, err := Open(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotQuery, err)
	}
	if o.Fault != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotQuery, o.Fault)
	}
	if err := xml.Unmarshal(o.Body, &m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotQuery, err)
	}
	if m.XMLName.Space != hl7.NamespaceV3 || m.XMLName.Local != interaction || m.InteractionID.Extension != interaction {
		return nil, fmt.Errorf("%w: root %s, interactionId %q", ErrNotQuery, m.XMLName.Local, m.InteractionID.Extension)
	}
	if m.ControlAct == nil || m.ControlAct.QueryByParameter == nil {
		return nil, fmt.Errorf("%w: no controlActProcess/queryByParameter", ErrNotQuery)
	}
	p := m.ControlAct.QueryByParameter
	sender, hasSender := m.Sender.oid()
	receiver, hasReceiver := m.Receiver.oid()
	if !hasSender || !hasReceiver || m.ID.Root == "" || p.DocumentID.Value.Root == "" {
		return nil, fmt.Errorf("%w: id, sender, receiver and clinicalDocument.id are required", ErrNotQuery)
	}
	return &StoredQuery{Interaction: interaction, MessageID: m.ID.Root, Extension: m.ID.Extension,
		ProcessingCode: m.ProcessingCode.Code, SenderOID: sender, ReceiverOID: receiver,
		DocumentID: p.DocumentID.Value.Root}, nil
}

// StoredAnswer is the answer to a StoredQuery.
type StoredAnswer struct {
	Interaction string // DefaultQueryAnswerInteraction when empty
	MessageID   string
	// Target is the query's id (root and extension).
	TargetMessageID, TargetExtension string
	ProcessingCode                   string
	SenderOID, ReceiverOID           string // SenderOID: Kanta's device when empty
	DocumentID                       string
	// ResponseCode is OK (stored), NF (not stored), AE or QE.
	ResponseCode string
}

// Stored reports whether the answer says the document is stored.
func (a *StoredAnswer) Stored() bool { return a.ResponseCode == QueryFound }

// BuildStoredAnswer writes the answer (bare).
func BuildStoredAnswer(a StoredAnswer) []byte {
	interaction := a.Interaction
	if interaction == "" {
		interaction = DefaultQueryAnswerInteraction
	}
	sender := a.SenderOID
	if sender == "" {
		sender = hl7.OIDKantaDevice
	}
	ackCode := AckAccepted
	switch a.ResponseCode {
	case QueryAppError:
		ackCode = AckError
	case QueryParamsError:
		ackCode = AckRejected
	}
	ca := &xmlControlAct{ClassCode: "CACT", MoodCode: "EVN", QueryAck: &xmlQueryAck{
		QueryID:      xmlII{Root: a.TargetMessageID, Extension: a.TargetExtension},
		ResponseCode: xmlCode{Code: a.ResponseCode},
	}}
	n := "0"
	if a.Stored() {
		n = "1"
		ca.Subject = &xmlQuerySubject{TypeCode: "SUBJ"}
		ca.Subject.Document.ClassCode, ca.Subject.Document.MoodCode = "DOCCLIN", "EVN"
		ca.Subject.Document.ID = xmlII{Root: a.DocumentID}
	}
	ca.QueryAck.ResultTotal, ca.QueryAck.ResultCurrent, ca.QueryAck.ResultRemaining = xmlValue{n}, xmlValue{n}, xmlValue{"0"}
	m := xmlQueryMessage{
		XMLName:         xml.Name{Space: hl7.NamespaceV3, Local: interaction},
		xmlHeader:       header(interaction, a.MessageID, "", a.ProcessingCode, "NE", a.ReceiverOID, sender),
		Acknowledgement: &xmlAcknowledgement{TypeCode: string(ackCode), Target: xmlII{Root: a.TargetMessageID, Extension: a.TargetExtension}},
		ControlAct:      ca,
	}
	return encode(m)
}

// ErrNotQueryAnswer is returned by ParseStoredAnswer for a body that is not
// an answer to the query.
var ErrNotQueryAnswer = errors.New("wire: not an answer to the stored-document query")

// ParseStoredAnswer reads an answer (bare or enveloped). It does not
// decide whether the answer fits the query; the caller compares the ids.
// The answer's own root element is not checked against a configured id:
// what identifies it is the queryAck.
func ParseStoredAnswer(raw []byte) (*StoredAnswer, error) {
	var m xmlQueryMessage
	o, err := Open(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotQueryAnswer, err)
	}
	if o.Fault != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotQueryAnswer, o.Fault)
	}
	if err := xml.Unmarshal(o.Body, &m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotQueryAnswer, err)
	}
	if m.XMLName.Space != hl7.NamespaceV3 || m.ControlAct == nil || m.ControlAct.QueryAck == nil {
		return nil, fmt.Errorf("%w: %s has no controlActProcess/queryAck", ErrNotQueryAnswer, m.XMLName.Local)
	}
	qa := m.ControlAct.QueryAck
	a := &StoredAnswer{Interaction: m.XMLName.Local, MessageID: m.ID.Root,
		TargetMessageID: qa.QueryID.Root, TargetExtension: qa.QueryID.Extension,
		ProcessingCode: m.ProcessingCode.Code, ResponseCode: qa.ResponseCode.Code}
	a.SenderOID, _ = m.Sender.oid()
	a.ReceiverOID, _ = m.Receiver.oid()
	switch a.ResponseCode {
	case QueryFound:
		if m.ControlAct.Subject == nil || m.ControlAct.Subject.Document.ID.Root == "" {
			return nil, fmt.Errorf("%w: queryResponseCode OK without the document", ErrNotQueryAnswer)
		}
		a.DocumentID = m.ControlAct.Subject.Document.ID.Root
	case QueryNotFound, QueryAppError, QueryParamsError:
	default:
		return nil, fmt.Errorf("%w: queryResponseCode %s", ErrNotQueryAnswer, strconv.Quote(a.ResponseCode))
	}
	return a, nil
}

package wire

import (
	"errors"
	"strings"
	"testing"

	"github.com/helsinki-student-welfare/kanta-gateway/hl7"
)

func TestStoredQueryRoundTrip(t *testing.T) {
	q := StoredQuery{MessageID: testRequestID, Extension: "query-2", ProcessingCode: "D",
		SenderOID: testSender, ReceiverOID: hl7.OIDKantaDevice, DocumentID: "1.2.246.10.2012566.10.1.5.1"}
	raw := BuildStoredQuery(q)
	for _, env := range []Envelope{EnvelopeNone, EnvelopeSOAP11, EnvelopeSOAP12} {
		got, err := ParseStoredQuery(env.Wrap(raw), "")
		if err != nil {
			t.Fatalf("%s: %v\n%s", env, err, raw)
		}
		want := q
		want.Interaction = DefaultQueryInteraction
		if *got != want {
			t.Errorf("%s: got %+v\nwant %+v", env, *got, want)
		}
	}
	if _, err := ParseStoredQuery(raw, "OTHER_IN000001UV01"); !errors.Is(err, ErrNotQuery) {
		t.Errorf("query parsed as another interaction: %v", err)
	}
	custom := q
	custom.Interaction = "XX_IN1"
	if got, err := ParseStoredQuery(BuildStoredQuery(custom), "XX_IN1"); err != nil || got.Interaction != "XX_IN1" {
		t.Errorf("configured interaction: %+v, %v", got, err)
	}
}

// The query follows HL7 V3's query pattern: the transmission wrapper as in
// the real request frame (tietolaurip/HUS-tietoallas-integration,
// Healthweb/src/test/resources/RCMR_IN100002FI01.xml: receiver before
// sender), then controlActProcess/queryByParameter with queryId,
// statusCode, responseModalityCode, responsePriorityCode and the parameter.
func TestStoredQueryWireForm(t *testing.T) {
	raw := string(BuildStoredQuery(StoredQuery{MessageID: "m", Extension: "query-2", ProcessingCode: "D", SenderOID: testSender, DocumentID: "doc"}))
	at := 0
	for _, want := range []string{
		`<` + DefaultQueryInteraction + ` xmlns="urn:hl7-org:v3" ITSVersion="XML_1.0">`,
		`<id root="m" extension="query-2">`,
		`<interactionId root="2.16.840.1.113883.1.6" extension="` + DefaultQueryInteraction + `">`,
		`<processingCode code="D">`,
		`<acceptAckCode code="AL">`,
		`<receiver typeCode="RCV"><device classCode="DEV" determinerCode="INSTANCE"><id root="1.2.246.556.18007.2">`,
		`<sender typeCode="SND"><device classCode="DEV" determinerCode="INSTANCE"><id root="` + testSender + `">`,
		`<controlActProcess classCode="CACT" moodCode="EVN"><queryByParameter><queryId root="m" extension="query-2">`,
		`<statusCode code="new">`, `<responseModalityCode code="R">`, `<responsePriorityCode code="I">`,
		`<parameterList><clinicalDocument.id><value root="doc"></value><semanticsText>ClinicalDocument.id</semanticsText>`,
	} {
		i := strings.Index(raw[at:], want)
		if i < 0 {
			t.Fatalf("query lacks %s after byte %d\n%s", want, at, raw)
		}
		at += i + len(want)
	}
}

func TestStoredAnswerRoundTrip(t *testing.T) {
	for _, code := range []string{QueryFound, QueryNotFound, QueryAppError, QueryParamsError} {
		a := StoredAnswer{MessageID: "ans", TargetMessageID: "m", TargetExtension: "query-2", ProcessingCode: "D",
			ReceiverOID: testSender, ResponseCode: code}
		if code == QueryFound {
			a.DocumentID = "doc"
		}
		for _, env := range []Envelope{EnvelopeNone, EnvelopeSOAP12} {
			got, err := ParseStoredAnswer(env.Wrap(BuildStoredAnswer(a)))
			if err != nil {
				t.Fatalf("%s %s: %v", code, env, err)
			}
			want := a
			want.Interaction, want.SenderOID = DefaultQueryAnswerInteraction, hl7.OIDKantaDevice
			if *got != want || got.Stored() != (code == QueryFound) {
				t.Errorf("%s %s: got %+v\nwant %+v", code, env, *got, want)
			}
		}
	}
	okWithout := strings.Replace(string(BuildStoredAnswer(StoredAnswer{MessageID: "a", ResponseCode: QueryFound, DocumentID: "doc"})),
		`<id root="doc"></id>`, "", 1)
	if _, err := ParseStoredAnswer([]byte(okWithout)); !errors.Is(err, ErrNotQueryAnswer) {
		t.Errorf("OK without the document: %v", err)
	}
	ack := BuildAck(Ack{Code: AckCommitError, ReceiverOID: testSender})
	if _, err := ParseStoredAnswer(ack); !errors.Is(err, ErrNotQueryAnswer) {
		t.Errorf("an acknowledgement parsed as a query answer: %v", err)
	}
}

func TestReadHeader(t *testing.T) {
	frame := `<?xml version="1.0" encoding="UTF-8"?><RCMR_IN200002FI01 xmlns="urn:hl7-org:v3" ITSVersion="XML_1.0"><id root="` + testRequestID + `"/>` +
		`<creationTime value="20260901120000"/><versionCode code="V3-2006"/><interactionId root="2.16.840.1.113883.1.6" extension="RCMR_IN200002FI01"/>` +
		`<processingCode code="D"/><processingModeCode code="T"/><acceptAckCode code="ER"/>` +
		`<receiver typeCode="RCV"><device classCode="DEV" determinerCode="INSTANCE"><id root="1.2.246.556.18007.2"/></device></receiver>` +
		`<sender typeCode="SND"><device classCode="DEV" determinerCode="INSTANCE"><id root="` + testSender + `"/></device></sender>` +
		`<controlActProcess classCode="CACT" moodCode="EVN"><subject/></controlActProcess></RCMR_IN200002FI01>`
	want := Header{Interaction: hl7.InteractionSocial, MessageID: testRequestID, ProcessingCode: "D", SenderOID: testSender, ReceiverOID: hl7.OIDKantaDevice}
	for _, env := range []Envelope{EnvelopeNone, EnvelopeSOAP11} {
		h, err := ReadHeader(env.Wrap([]byte(frame)))
		if err != nil || h != want {
			t.Errorf("%s: ReadHeader = %+v, %v", env, h, err)
		}
	}
	if _, err := ReadHeader([]byte("<html>")); err == nil {
		t.Error("ReadHeader of broken XML succeeded")
	}
}

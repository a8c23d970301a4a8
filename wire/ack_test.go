package wire

import (
	"errors"
	"strings"
	"testing"

	"github.com/helsinki-student-welfare/kanta-gateway/hl7"
)

const (
	testRequestID = "1.2.246.10.2012566.10.2.77.1"
	testSender    = "1.2.246.10.2012566.10.0.13.2.1"
)

func TestAckRoundTripBothFamilies(t *testing.T) {
	for _, family := range []AckFamily{FamilyAccept, FamilyApplication} {
		for _, d := range DetailCodes {
			a := NewAck(d.Code, "1.2.246.556.18007.2.9.1", testRequestID)
			a.Code = a.Code.In(family)
			a.ProcessingCode = "D"
			a.SenderOID, a.ReceiverOID = hl7.OIDKantaDevice, testSender
			a.Interaction = hl7.InteractionAck
			raw := BuildAck(a)
			got, err := ParseAck(raw)
			if err != nil {
				t.Fatalf("%s %s: ParseAck: %v\n%s", family, d.Code, err, raw)
			}
			if *got != a {
				t.Errorf("%s %s: round trip\n got %+v\nwant %+v", family, d.Code, *got, a)
			}
			if got.Code.Outcome() != d.Ack.Outcome() {
				t.Errorf("%s %s: outcome %v, table says %s", family, d.Code, got.Code.Outcome(), d.Ack)
			}
		}
	}
}

// The accept acknowledgement's codes and the application codes carry the
// same three outcomes (kanta-domain.md 8.1, HL7 Finland V3 messaging guide:
// CA accepted, CE error that may pass later, CR rejected).
func TestAckCodeOutcomes(t *testing.T) {
	for code, want := range map[AckCode]AckOutcome{
		"CA": OutcomeDone, "CE": OutcomeRetry, "CR": OutcomePermanent,
		"AA": OutcomeDone, "AE": OutcomeRetry, "AR": OutcomePermanent,
		"XX": OutcomeUnknown, "": OutcomeUnknown,
	} {
		if got := code.Outcome(); got != want {
			t.Errorf("%q.Outcome() = %v, want %v", code, got, want)
		}
	}
	if AckAccepted.In(FamilyAccept) != "CA" || AckCommitReject.In(FamilyApplication) != "AR" || AckError.In(FamilyAccept) != "CE" {
		t.Error("In does not map across families")
	}
}

// The header order follows the real request frame (tietolaurip/
// HUS-tietoallas-integration, Healthweb/src/test/resources/
// RCMR_IN100002FI01.xml): id, creationTime, versionCode, interactionId,
// processingCode, processingModeCode, acceptAckCode, receiver (RCV), sender
// (SND); the acknowledgement follows the wrapper.
func TestAckWireForm(t *testing.T) {
	a := NewAck(DetailSignatureInvalid, "ack-1", "msg-1")
	a.Code = a.Code.In(FamilyAccept)
	a.ReceiverOID = testSender
	raw := string(BuildAck(a))
	order := []string{
		`<MCCI_IN000002UV01 xmlns="urn:hl7-org:v3" ITSVersion="XML_1.0">`,
		`<id root="ack-1">`,
		`<creationTime value="`,
		`<versionCode code="V3-2006">`,
		`<interactionId root="2.16.840.1.113883.1.6" extension="MCCI_IN000002UV01">`,
		`<processingCode code="P">`,
		`<processingModeCode code="T">`,
		`<acceptAckCode code="NE">`,
		`<receiver typeCode="RCV"><device classCode="DEV" determinerCode="INSTANCE"><id root="` + testSender + `">`,
		`<sender typeCode="SND"><device classCode="DEV" determinerCode="INSTANCE"><id root="1.2.246.556.18007.2">`,
		`<acknowledgement typeCode="CR">`,
		`<targetMessage><id root="msg-1"></id></targetMessage>`,
		`<acknowledgementDetail typeCode="E"><code code="SIGNATURE_INVALID"`,
	}
	at := 0
	for _, want := range order {
		i := strings.Index(raw[at:], want)
		if i < 0 {
			t.Fatalf("ack lacks %s after byte %d\n%s", want, at, raw)
		}
		at += i + len(want)
	}
	if strings.Contains(raw, "controlActProcess") {
		t.Error("an accept acknowledgement has no controlActProcess")
	}
}

func TestDuplicateIsAcceptedWithDetail(t *testing.T) {
	a := NewAck(DetailDuplicate, "a", "m")
	if a.Code != AckAccepted || !a.Duplicate {
		t.Fatalf("duplicate ack = %+v, want AA with Duplicate", a)
	}
	a.Code = AckCommitAccept
	got, err := ParseAck(BuildAck(a))
	if err != nil || !got.Duplicate || got.Code != AckCommitAccept {
		t.Fatalf("parsed duplicate = %+v, %v", got, err)
	}
	acc, _ := ParseAck(BuildAck(NewAck(DetailAccepted, "a", "m")))
	if acc.Duplicate {
		t.Fatal("plain acceptance parsed as duplicate")
	}
}

func TestDetailTableConsistent(t *testing.T) {
	seen := map[string]bool{}
	for _, d := range DetailCodes {
		if seen[d.Code] {
			t.Errorf("detail %s listed twice", d.Code)
		}
		seen[d.Code] = true
		switch d.Ack {
		case AckAccepted, AckError, AckRejected:
		default:
			t.Errorf("detail %s has class %q", d.Code, d.Ack)
		}
		if d.Text == "" {
			t.Errorf("detail %s has no text", d.Code)
		}
	}
	if a := NewAck("NO_SUCH_CODE", "a", "m"); a.Detail != DetailInternalError || a.Code != AckError {
		t.Errorf("unknown detail gave %+v, want AE INTERNAL_ERROR", a)
	}
}

func TestParseAckRejectsOtherMessages(t *testing.T) {
	const dev = `<receiver typeCode="RCV"><device><id root="1"/></device></receiver><sender typeCode="SND"><device><id root="2"/></device></sender>`
	for name, raw := range map[string]string{
		"not xml":          "hello",
		"empty":            "",
		"html page":        "<html><head><title>Access denied</title></head><body>blocked</body></html>",
		"archive request":  `<RCMR_IN100002FI01 xmlns="urn:hl7-org:v3"><id root="1"/></RCMR_IN100002FI01>`,
		"unknown typeCode": `<MCCI_IN000002UV01 xmlns="urn:hl7-org:v3">` + dev + `<acknowledgement typeCode="XX"/></MCCI_IN000002UV01>`,
		"no receiver":      `<MCCI_IN000002UV01 xmlns="urn:hl7-org:v3"><sender typeCode="SND"><device><id root="2"/></device></sender><acknowledgement typeCode="CA"/></MCCI_IN000002UV01>`,
		"no sender":        `<MCCI_IN000002UV01 xmlns="urn:hl7-org:v3"><receiver typeCode="RCV"><device><id root="1"/></device></receiver><acknowledgement typeCode="CA"/></MCCI_IN000002UV01>`,
		"other namespace":  `<MCCI_IN000002UV01 xmlns="urn:other">` + dev + `<acknowledgement typeCode="CA"/></MCCI_IN000002UV01>`,
	} {
		if _, err := ParseAck([]byte(raw)); !errors.Is(err, ErrNotAck) {
			t.Errorf("%s: err = %v, want ErrNotAck", name, err)
		}
	}
}

// An application acknowledgement may come in a domain interaction rather
// than MCCI (kanta-domain.md 8.1); it is read by its acknowledgement.
func TestParseAckApplicationAckInDomainInteraction(t *testing.T) {
	raw := `<RCMR_IN100003FI01 xmlns="urn:hl7-org:v3"><id root="9"/><acknowledgement typeCode="AE"><targetMessage><id root="m"/></targetMessage></acknowledgement></RCMR_IN100003FI01>`
	a, err := ParseAck([]byte(raw))
	if err != nil || a.Code != AckError || a.TargetMessageID != "m" || a.Interaction != "RCMR_IN100003FI01" {
		t.Fatalf("ParseAck = %+v, %v", a, err)
	}
}

func TestParseAckInsideSOAP(t *testing.T) {
	a := NewAck(DetailAccepted, "ack", testRequestID)
	a.Code = AckCommitAccept
	a.ReceiverOID = testSender
	for _, env := range []Envelope{EnvelopeSOAP11, EnvelopeSOAP12} {
		got, err := ParseAck(env.Wrap(BuildAck(a)))
		if err != nil || got.Code != AckCommitAccept || got.TargetMessageID != testRequestID || got.ReceiverOID != testSender {
			t.Errorf("%s: ParseAck = %+v, %v", env, got, err)
		}
		fault, _ := BuildFault(env, true, "cannot read")
		_, err = ParseAck(fault)
		var f *Fault
		if !errors.Is(err, ErrNotAck) || !errors.As(err, &f) || !f.BlamesSender() || f.Reason != "cannot read" {
			t.Errorf("%s fault: err = %v (fault %+v)", env, err, f)
		}
	}
}

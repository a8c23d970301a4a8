package wire

import (
	"errors"
	"strings"
	"testing"
)

func TestAckRoundTrip(t *testing.T) {
	for _, d := range DetailCodes {
		a := NewAck(d.Code, "1.2.246.556.18007.2.9.1", "1.2.246.10.2012566.10.2.77.1")
		a.ProcessingCode = "D"
		raw := BuildAck(a)
		got, err := ParseAck(raw)
		if err != nil {
			t.Fatalf("%s: ParseAck: %v\n%s", d.Code, err, raw)
		}
		if *got != a {
			t.Errorf("%s: round trip\n got %+v\nwant %+v", d.Code, *got, a)
		}
		if got.Code != d.Ack {
			t.Errorf("%s: class %s, table says %s", d.Code, got.Code, d.Ack)
		}
	}
}

func TestAckWireForm(t *testing.T) {
	raw := string(BuildAck(NewAck(DetailSignatureInvalid, "ack-1", "msg-1")))
	for _, want := range []string{
		`<MCCI_IN000002UV01 xmlns="urn:hl7-org:v3" ITSVersion="XML_1.0">`,
		`<interactionId root="2.16.840.1.113883.1.6" extension="MCCI_IN000002UV01">`,
		`<acknowledgement typeCode="AR">`,
		`<processingCode code="P">`,
		`<targetMessage><id root="msg-1"></id></targetMessage>`,
		`<acknowledgementDetail typeCode="E"><code code="SIGNATURE_INVALID"`,
		`<sender typeCode="SND"><device><id root="1.2.246.556.18007.2">`,
	} {
		if !strings.Contains(raw, want) {
			t.Errorf("ack lacks %s\n%s", want, raw)
		}
	}
}

func TestDuplicateIsAcceptedWithDetail(t *testing.T) {
	a := NewAck(DetailDuplicate, "a", "m")
	if a.Code != AckAccepted || !a.Duplicate {
		t.Fatalf("duplicate ack = %+v, want AA with Duplicate", a)
	}
	got, err := ParseAck(BuildAck(a))
	if err != nil || !got.Duplicate || got.Code != AckAccepted {
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
	for name, raw := range map[string]string{
		"not xml":          "hello",
		"archive request":  `<RCMR_IN100002FI01 xmlns="urn:hl7-org:v3"><id root="1"/></RCMR_IN100002FI01>`,
		"unknown typeCode": `<MCCI_IN000002UV01 xmlns="urn:hl7-org:v3"><acknowledgement typeCode="XX"/></MCCI_IN000002UV01>`,
	} {
		if _, err := ParseAck([]byte(raw)); !errors.Is(err, ErrNotAck) {
			t.Errorf("%s: err = %v, want ErrNotAck", name, err)
		}
	}
}

package wire

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/helsinki-student-welfare/kanta-gateway/hl7"
)

func TestEnvelopeWrapOpen(t *testing.T) {
	msg := BuildAck(Ack{Code: AckCommitAccept, MessageID: "a", TargetMessageID: "m", ReceiverOID: testSender})
	for _, env := range []Envelope{EnvelopeNone, EnvelopeSOAP11, EnvelopeSOAP12} {
		wrapped := env.Wrap(msg)
		o, err := Open(wrapped)
		if err != nil {
			t.Fatalf("%s: Open: %v", env, err)
		}
		if o.Envelope != env || o.Root.Local != hl7.InteractionAck || o.Root.Space != hl7.NamespaceV3 || o.Fault != nil {
			t.Errorf("%s: Open = env %s root %v fault %v", env, o.Envelope, o.Root, o.Fault)
		}
		if want := stripDeclaration(msg); env != EnvelopeNone && !bytes.Equal(o.Body, want) {
			t.Errorf("%s: body is not the message\n got %s\nwant %s", env, o.Body, want)
		}
		if env != EnvelopeNone && bytes.Count(wrapped, []byte("<?xml")) != 1 {
			t.Errorf("%s: the wrapped message keeps its own XML declaration", env)
		}
	}
	if !strings.Contains(string(EnvelopeSOAP11.Wrap(msg)), `xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"`) ||
		!strings.Contains(string(EnvelopeSOAP12.Wrap(msg)), `xmlns:soap="http://www.w3.org/2003/05/soap-envelope"`) {
		t.Error("envelope namespaces are not SOAP 1.1 / 1.2")
	}
}

// A server may declare the HL7 namespace on the Envelope and put a Header
// first; the message read out of it must still be in urn:hl7-org:v3.
func TestOpenInheritsNamespacesAndSkipsHeader(t *testing.T) {
	raw := `<?xml version="1.0"?><e:Envelope xmlns:e="` + NSSOAP12 + `" xmlns="urn:hl7-org:v3" xmlns:x="urn:x">` +
		`<e:Header><x:routing>r</x:routing></e:Header><e:Body>` +
		`<MCCI_IN000002UV01><id root="a"/><receiver typeCode="RCV"><device><id root="r"/></device></receiver>` +
		`<sender typeCode="SND"><device><id root="s"/></device></sender><acknowledgement typeCode="CE"><targetMessage><id root="m"/></targetMessage></acknowledgement></MCCI_IN000002UV01>` +
		`</e:Body></e:Envelope>`
	a, err := ParseAck([]byte(raw))
	if err != nil || a.Code != AckCommitError || a.SenderOID != "s" || a.ReceiverOID != "r" {
		t.Fatalf("ParseAck = %+v, %v", a, err)
	}
}

func TestFaults(t *testing.T) {
	for _, tc := range []struct {
		env    Envelope
		sender bool
		code   string
		status int
	}{
		{EnvelopeSOAP11, true, "soap:Client", 500},
		{EnvelopeSOAP11, false, "soap:Server", 500},
		{EnvelopeSOAP12, true, "soap:Sender", 400},
		{EnvelopeSOAP12, false, "soap:Receiver", 500},
	} {
		raw, status := BuildFault(tc.env, tc.sender, "bad <thing> & more")
		if status != tc.status {
			t.Errorf("%s sender=%v: status %d, want %d", tc.env, tc.sender, status, tc.status)
		}
		o, err := Open(raw)
		if err != nil || o.Fault == nil {
			t.Fatalf("%s: Open = %+v, %v", tc.env, o, err)
		}
		f := o.Fault
		if f.Envelope != tc.env || f.Code != tc.code || f.Reason != "bad <thing> & more" || f.BlamesSender() != tc.sender {
			t.Errorf("%s: fault %+v", tc.env, f)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	for name, raw := range map[string]string{
		"empty":      "",
		"whitespace": "  \n",
		"garbage":    "\x00\x01binary",
		"empty body": `<s:Envelope xmlns:s="` + NSSOAP11 + `"><s:Body></s:Body></s:Envelope>`,
		"no body":    `<s:Envelope xmlns:s="` + NSSOAP11 + `"><s:Header/></s:Envelope>`,
	} {
		if _, err := Open([]byte(raw)); !errors.Is(err, ErrNoMessage) {
			t.Errorf("%s: err = %v, want ErrNoMessage", name, err)
		}
	}
}

// Content types: SOAP 1.1 is text/xml with a SOAPAction header (SOAP 1.1
// section 6.1.1); SOAP 1.2 is application/soap+xml with the action as a
// media type parameter (RFC 3902).
func TestHeaders(t *testing.T) {
	for _, tc := range []struct {
		env         Envelope
		contentType string
		soapAction  string
	}{
		{EnvelopeNone, "text/xml; charset=utf-8", ""},
		{EnvelopeSOAP11, "text/xml; charset=utf-8", `"urn:archive"`},
		{EnvelopeSOAP12, `application/soap+xml; charset=utf-8; action="urn:archive"`, ""},
	} {
		h := http.Header{}
		tc.env.SetHeaders(h, "urn:archive")
		if h.Get("Content-Type") != tc.contentType || h.Get("SOAPAction") != tc.soapAction {
			t.Errorf("%s: headers %v", tc.env, h)
		}
		action, err := tc.env.CheckHeaders(h)
		if err != nil {
			t.Errorf("%s: CheckHeaders of its own headers: %v", tc.env, err)
		}
		if tc.env != EnvelopeNone && action != "urn:archive" {
			t.Errorf("%s: action %q", tc.env, action)
		}
	}
	h := http.Header{}
	EnvelopeNone.SetHeaders(h, "")
	if _, err := EnvelopeSOAP11.CheckHeaders(h); err == nil {
		t.Error("SOAP 1.1 accepted a request without SOAPAction")
	}
	if _, err := EnvelopeSOAP12.CheckHeaders(h); err == nil {
		t.Error("SOAP 1.2 accepted text/xml")
	}
	h = http.Header{}
	EnvelopeSOAP12.SetHeaders(h, "")
	if _, err := EnvelopeNone.CheckHeaders(h); err == nil {
		t.Error("bare XML accepted application/soap+xml")
	}
	h = http.Header{}
	EnvelopeSOAP11.SetHeaders(h, "")
	if h.Get("SOAPAction") != `""` {
		t.Errorf("SOAP 1.1 without an action sends SOAPAction %q, want \"\"", h.Get("SOAPAction"))
	}
	if _, err := ParseEnvelope("soap13"); err == nil {
		t.Error("ParseEnvelope accepted soap13")
	}
}

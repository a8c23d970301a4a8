package wire

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// The transport envelope around an HL7 V3 message. No public source shows
// Kanta's binding (kanta-domain.md 8.1: a 2008 Kela design names SOAP), so
// it is configuration: the bare message (the gateway's first choice), or
// the message as the only child of a SOAP 1.1 or SOAP 1.2 Body. The HL7
// message inside is the same bytes either way; the signature is over the
// CDA inside it, so the envelope never touches what is signed.

// Envelope names a transport envelope.
type Envelope string

const (
	EnvelopeNone   Envelope = "none"   // bare XML, Content-Type text/xml
	EnvelopeSOAP11 Envelope = "soap11" // text/xml + SOAPAction header
	EnvelopeSOAP12 Envelope = "soap12" // application/soap+xml; action="…"
)

// SOAP envelope namespaces.
const (
	NSSOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
	NSSOAP12 = "http://www.w3.org/2003/05/soap-envelope"
)

// ParseEnvelope reads a configured envelope name ("" is none).
func ParseEnvelope(s string) (Envelope, error) {
	switch e := Envelope(s); e {
	case "":
		return EnvelopeNone, nil
	case EnvelopeNone, EnvelopeSOAP11, EnvelopeSOAP12:
		return e, nil
	}
	return "", fmt.Errorf("envelope %q: want none, soap11 or soap12", s)
}

func (e Envelope) namespace() string {
	switch e {
	case EnvelopeSOAP11:
		return NSSOAP11
	case EnvelopeSOAP12:
		return NSSOAP12
	}
	return ""
}

// Wrap puts an HL7 message (with or without its XML declaration) into the
// envelope; EnvelopeNone returns msg as it is.
func (e Envelope) Wrap(msg []byte) []byte {
	ns := e.namespace()
	if ns == "" {
		return msg
	}
	body := stripDeclaration(msg)
	var b bytes.Buffer
	b.Grow(len(body) + 200)
	b.WriteString(xml.Header)
	b.WriteString(`<soap:Envelope xmlns:soap="` + ns + `"><soap:Body>`)
	b.Write(body)
	b.WriteString(`</soap:Body></soap:Envelope>`)
	return b.Bytes()
}

func stripDeclaration(msg []byte) []byte {
	m := bytes.TrimLeft(msg, " \t\r\n\ufeff")
	if bytes.HasPrefix(m, []byte("<?xml")) {
		if i := bytes.Index(m, []byte("?>")); i >= 0 {
			return bytes.TrimLeft(m[i+2:], " \t\r\n")
		}
	}
	return m
}

// SetHeaders sets the request's Content-Type (and SOAPAction for SOAP 1.1)
// for a message with the given action. SOAP 1.1 always sends SOAPAction
// (quoted; "" when no action is configured), as its HTTP binding requires.
func (e Envelope) SetHeaders(h http.Header, action string) {
	switch e {
	case EnvelopeSOAP11:
		h.Set("Content-Type", "text/xml; charset=utf-8")
		h.Set("SOAPAction", strconv.Quote(action))
	case EnvelopeSOAP12:
		ct := "application/soap+xml; charset=utf-8"
		if action != "" {
			ct += "; action=" + strconv.Quote(action)
		}
		h.Set("Content-Type", ct)
	default:
		h.Set("Content-Type", "text/xml; charset=utf-8")
	}
}

// CheckHeaders says what is wrong with a request's headers for the
// envelope (the mock's check): the media type, and SOAPAction present for
// SOAP 1.1. It returns the request's action ("" when none).
func (e Envelope) CheckHeaders(h http.Header) (action string, err error) {
	ct := strings.ToLower(h.Get("Content-Type"))
	media := strings.TrimSpace(strings.SplitN(ct, ";", 2)[0])
	switch e {
	case EnvelopeSOAP11:
		if media != "text/xml" {
			return "", fmt.Errorf("SOAP 1.1 wants Content-Type text/xml, not %q", media)
		}
		v, ok := h["Soapaction"]
		if !ok || len(v) == 0 {
			return "", errors.New("SOAP 1.1 request without a SOAPAction header")
		}
		return strings.Trim(v[0], `"`), nil
	case EnvelopeSOAP12:
		if media != "application/soap+xml" {
			return "", fmt.Errorf("SOAP 1.2 wants Content-Type application/soap+xml, not %q", media)
		}
		for _, p := range strings.Split(h.Get("Content-Type"), ";")[1:] {
			if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.EqualFold(k, "action") {
				return strings.Trim(v, `"`), nil
			}
		}
		return "", nil
	}
	if media != "text/xml" && media != "application/xml" {
		return "", fmt.Errorf("bare XML wants Content-Type text/xml, not %q", media)
	}
	return "", nil
}

// ResponseContentType is the Content-Type of an answer in the envelope.
func (e Envelope) ResponseContentType() string {
	if e == EnvelopeSOAP12 {
		return "application/soap+xml; charset=utf-8"
	}
	return "text/xml; charset=utf-8"
}

// Fault is a SOAP Fault (either version), as read or to be written.
type Fault struct {
	Envelope Envelope
	// Code is the fault code as written: soap:Client/soap:Server (1.1),
	// env:Sender/env:Receiver (1.2).
	Code    string
	Subcode string // SOAP 1.2 only
	Reason  string
}

func (f *Fault) Error() string {
	return fmt.Sprintf("SOAP fault %s: %s", f.Code, f.Reason)
}

// BlamesSender reports whether the fault says the request was at fault
// (1.1 Client, 1.2 Sender): resending it as it is will not help.
func (f *Fault) BlamesSender() bool {
	local := f.Code
	if i := strings.LastIndexByte(local, ':'); i >= 0 {
		local = local[i+1:]
	}
	return strings.EqualFold(local, "Client") || strings.EqualFold(local, "Sender")
}

// BuildFault writes a SOAP Fault in the envelope (SOAP 1.1 when e is none)
// and the HTTP status it goes with: 500 for SOAP 1.1 (its HTTP binding), 400
// for a 1.2 Sender fault, 500 for a 1.2 Receiver fault. sender says whose
// fault it is.
func BuildFault(e Envelope, sender bool, reason string) ([]byte, int) {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	esc := func(s string) string {
		var w bytes.Buffer
		xml.EscapeText(&w, []byte(s))
		return w.String()
	}
	if e == EnvelopeSOAP12 {
		code, status := "soap:Receiver", http.StatusInternalServerError
		if sender {
			code, status = "soap:Sender", http.StatusBadRequest
		}
		b.WriteString(`<soap:Envelope xmlns:soap="` + NSSOAP12 + `"><soap:Body><soap:Fault><soap:Code><soap:Value>` + code +
			`</soap:Value></soap:Code><soap:Reason><soap:Text xml:lang="en">` + esc(reason) +
			`</soap:Text></soap:Reason></soap:Fault></soap:Body></soap:Envelope>`)
		return b.Bytes(), status
	}
	code := "soap:Server"
	if sender {
		code = "soap:Client"
	}
	b.WriteString(`<soap:Envelope xmlns:soap="` + NSSOAP11 + `"><soap:Body><soap:Fault><faultcode>` + code +
		`</faultcode><faultstring>` + esc(reason) + `</faultstring></soap:Fault></soap:Body></soap:Envelope>`)
	return b.Bytes(), http.StatusInternalServerError
}

type xmlFault11 struct {
	Code   string `xml:"faultcode"`
	String string `xml:"faultstring"`
}

type xmlFault12 struct {
	Code struct {
		Value   string `xml:"Value"`
		Subcode struct {
			Value string `xml:"Value"`
		} `xml:"Subcode"`
	} `xml:"Code"`
	Reason struct {
		Text []string `xml:"Text"`
	} `xml:"Reason"`
}

// Opened is a message taken out of its envelope.
type Opened struct {
	Envelope Envelope
	// Body is the message: raw itself when bare, else the Body's only
	// child element, with the namespace declarations it inherited from
	// the envelope copied onto it so it reads the same on its own.
	Body  []byte
	Root  xml.Name // the message's root element
	Fault *Fault   // set when the SOAP Body holds a Fault (Body nil)
}

// ErrNoMessage is returned by Open for a body that holds no XML element.
var ErrNoMessage = errors.New("wire: no XML message")

// Open takes a message out of a SOAP 1.1 or 1.2 envelope, or returns a bare
// message as it is. Errors wrap ErrNoMessage (not XML, empty, an envelope
// with an empty Body).
func Open(raw []byte) (Opened, error) {
	d := xml.NewDecoder(bytes.NewReader(raw))
	root, err := firstElement(d)
	if err != nil {
		return Opened{}, err
	}
	var env Envelope
	switch {
	case root.Name.Local == "Envelope" && root.Name.Space == NSSOAP11:
		env = EnvelopeSOAP11
	case root.Name.Local == "Envelope" && root.Name.Space == NSSOAP12:
		env = EnvelopeSOAP12
	default:
		return Opened{Envelope: EnvelopeNone, Body: raw, Root: root.Name}, nil
	}
	inherited := nsDecls(root)
	// Find Body (a Header may come first).
	for {
		tok, err := d.Token()
		if err != nil {
			return Opened{}, fmt.Errorf("%w: SOAP envelope without a Body: %v", ErrNoMessage, err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if se.Name.Local == "Body" && se.Name.Space == root.Name.Space {
			inherited = append(inherited, nsDecls(se)...)
			break
		}
		if err := d.Skip(); err != nil {
			return Opened{}, fmt.Errorf("%w: %v", ErrNoMessage, err)
		}
	}
	for {
		start := d.InputOffset()
		tok, err := d.Token()
		if err != nil {
			return Opened{}, fmt.Errorf("%w: SOAP Body: %v", ErrNoMessage, err)
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return Opened{}, fmt.Errorf("%w: empty SOAP Body", ErrNoMessage)
		case xml.StartElement:
			if t.Name.Local == "Fault" && t.Name.Space == root.Name.Space {
				return Opened{Envelope: env, Root: t.Name, Fault: readFault(d, t, env)}, nil
			}
			if err := d.Skip(); err != nil {
				return Opened{}, fmt.Errorf("%w: SOAP Body: %v", ErrNoMessage, err)
			}
			body := inherit(raw[start:d.InputOffset()], t, inherited)
			return Opened{Envelope: env, Body: body, Root: t.Name}, nil
		}
	}
}

func readFault(d *xml.Decoder, start xml.StartElement, env Envelope) *Fault {
	f := &Fault{Envelope: env}
	if env == EnvelopeSOAP12 {
		var x xmlFault12
		_ = d.DecodeElement(&x, &start)
		f.Code, f.Subcode = strings.TrimSpace(x.Code.Value), strings.TrimSpace(x.Code.Subcode.Value)
		if len(x.Reason.Text) > 0 {
			f.Reason = strings.TrimSpace(x.Reason.Text[0])
		}
		return f
	}
	var x xmlFault11
	_ = d.DecodeElement(&x, &start)
	f.Code, f.Reason = strings.TrimSpace(x.Code), strings.TrimSpace(x.String)
	return f
}

// firstElement returns the root start element, or ErrNoMessage.
func firstElement(d *xml.Decoder) (xml.StartElement, error) {
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return xml.StartElement{}, fmt.Errorf("%w: no root element", ErrNoMessage)
		}
		if err != nil {
			return xml.StartElement{}, fmt.Errorf("%w: %v", ErrNoMessage, err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			return se, nil
		}
	}
}

// nsDecls returns the namespace declarations of an element, as attributes
// to write again ("xmlns" or "xmlns:p").
func nsDecls(se xml.StartElement) []xml.Attr {
	var out []xml.Attr
	for _, a := range se.Attr {
		if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
			out = append(out, a)
		}
	}
	return out
}

// inherit copies onto the element in b (whose start tag is se) the
// namespace declarations of its ancestors that it does not make itself, so
// the slice reads the same outside the envelope. The usual case (the
// message declares its own namespaces) leaves b as it is.
func inherit(b []byte, se xml.StartElement, decls []xml.Attr) []byte {
	own := map[string]bool{}
	for _, a := range nsDecls(se) {
		own[a.Name.Space+":"+a.Name.Local] = true
	}
	var add strings.Builder
	for _, a := range decls {
		key := a.Name.Space + ":" + a.Name.Local
		if own[key] || a.Value == NSSOAP11 || a.Value == NSSOAP12 {
			// The message does not use the envelope's own namespace.
			continue
		}
		own[key] = true
		name := "xmlns"
		if a.Name.Space == "xmlns" {
			name = "xmlns:" + a.Name.Local
		}
		add.WriteString(" " + name + `="`)
		xml.EscapeText(&add, []byte(a.Value))
		add.WriteString(`"`)
	}
	if add.Len() == 0 {
		return b
	}
	// The start tag's name ends at the first space, '/' or '>'.
	i := bytes.IndexAny(b, " \t\r\n/>")
	if i < 0 {
		return b
	}
	out := make([]byte, 0, len(b)+add.Len())
	out = append(out, b[:i]...)
	out = append(out, add.String()...)
	return append(out, b[i:]...)
}

// decodeBody decodes the message in raw (bare or enveloped) into v. A
// Fault is returned as *Fault wrapped with ErrNotAck.
func decodeBody(raw []byte, v any) error {
	o, err := Open(raw)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNotAck, err)
	}
	if o.Fault != nil {
		return fmt.Errorf("%w: %w", ErrNotAck, o.Fault)
	}
	if err := xml.Unmarshal(o.Body, v); err != nil {
		return fmt.Errorf("%w: %v", ErrNotAck, err)
	}
	return nil
}

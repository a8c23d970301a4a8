package wire_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/helsinki-student-welfare/kanta-gateway/hl7"
	"github.com/helsinki-student-welfare/kanta-gateway/internal/kantasample"
	"github.com/helsinki-student-welfare/kanta-gateway/wire"
)

// The CDA documents come from the cda package's golden files (in this repo).
func readDoc(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../documents/cda/testdata/golden/" + name + ".xml")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func input(doc []byte, interaction string) wire.MessageInput {
	return wire.MessageInput{
		Document:       doc,
		Interaction:    interaction,
		MessageID:      "1.2.246.10.2012566.10.2.1234.1",
		CreationTime:   time.Date(2026, 3, 10, 12, 31, 0, 0, time.UTC),
		ProcessingCode: "D",
		SenderOID:      "1.2.246.10.2012566.10.99",
	}
}

func build(t testing.TB, in wire.MessageInput) []byte {
	t.Helper()
	b, err := wire.BuildMessage(in)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseRealSample(t *testing.T) {
	raw := kantasample.Message()
	m, err := wire.ParseMessage(raw)
	if err != nil {
		t.Fatal(err)
	}
	if m.DocumentID != "1.2.246.537.10.15675350.10.1.11220.19098" || m.SetID != m.DocumentID || m.Version != 1 {
		t.Errorf("document %s %s %d", m.DocumentID, m.SetID, m.Version)
	}
	if m.Interaction != hl7.InteractionNewHealth || m.ProcessingCode != "D" || m.MessageID != "1.2.246.537.10.15675350.10.0.13.2.1.1506082558936.1901" {
		t.Errorf("frame %+v", m)
	}
	if m.ReceiverOID != "1.2.246.556.18007.2" || m.SenderOID != "1.2.246.537.10.15675350.10.0.13.2.1" {
		t.Errorf("devices %s %s", m.ReceiverOID, m.SenderOID)
	}
	if len(m.ReasonCodes) != 1 || m.ReasonCodes[0] != (wire.Code{Code: "PP1", CodeSystem: "1.2.246.537.5.40157.2008"}) {
		t.Errorf("reason codes %+v", m.ReasonCodes)
	}
	if m.ContentID != m.DocumentID || m.Hetu != "010100A998F" {
		t.Errorf("content id %q", m.ContentID)
	}
	if !bytes.HasPrefix(m.Document, []byte(`<?xml version="1.0" encoding="UTF-8"?><ClinicalDocument`)) || !bytes.HasSuffix(m.Document, []byte("</ClinicalDocument>")) {
		t.Errorf("document bytes %.80q", m.Document)
	}
}

func TestBuildParseRoundTrip(t *testing.T) {
	tests := []struct {
		doc, interaction string
		reasons          []wire.Code
	}{
		{"health_new", hl7.InteractionNewHealth, []wire.Code{{"PP1", "1.2.246.537.5.40157.2008"}}},
		// The correction reason is the clinicalDocument's (Message.CorrectionReason), not a request reason.
		{"health_correction", hl7.InteractionReplaceHealth, []wire.Code{{"PP1", "1.2.246.537.5.40157.2008"}}},
		{"health_entered_in_error", hl7.InteractionReplaceHealth, []wire.Code{{"PP1", "1.2.246.537.5.40157.2008"}}},
		{"social", hl7.InteractionSocial, []wire.Code{{"SP17", "1.2.246.537.6.1503.201601"}, {"1", "1.2.246.537.6.1289.201901"}}},
	}
	for _, tc := range tests {
		t.Run(tc.doc, func(t *testing.T) {
			doc := readDoc(t, tc.doc)
			raw := build(t, input(doc, tc.interaction))
			if again := build(t, input(doc, tc.interaction)); !bytes.Equal(raw, again) {
				t.Fatal("two builds differ")
			}
			m, err := wire.ParseMessage(raw)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(m.Document, doc) {
				t.Fatal("document not carried byte-exact")
			}
			if m.Interaction != tc.interaction || m.ProcessingCode != "D" || m.ReceiverOID != "1.2.246.556.18007.2" || m.SenderOID != "1.2.246.10.2012566.10.99" {
				t.Errorf("frame %+v", m)
			}
			if len(m.ReasonCodes) != len(tc.reasons) {
				t.Fatalf("reason codes %+v", m.ReasonCodes)
			}
			for i := range tc.reasons {
				if m.ReasonCodes[i] != tc.reasons[i] {
					t.Errorf("reason code %d: %+v want %+v", i, m.ReasonCodes[i], tc.reasons[i])
				}
			}
			wantCorrection := wire.Code{}
			if tc.interaction == hl7.InteractionReplaceHealth {
				wantCorrection = wire.Code{Code: "1", CodeSystem: "1.2.246.537.5.40178.2008"}
			}
			if m.CorrectionReason != wantCorrection {
				t.Errorf("correction reason %+v, want %+v", m.CorrectionReason, wantCorrection)
			}
			if m.CustodianOID == "" {
				t.Error("no custodian OID")
			}
			d := etree.NewDocument()
			if err := d.ReadFromBytes(doc); err != nil {
				t.Fatal(err)
			}
			if id := d.FindElement("/ClinicalDocument/id").SelectAttrValue("root", ""); m.DocumentID != id || m.ContentID != id {
				t.Errorf("ids %s %s, want %s", m.DocumentID, m.ContentID, id)
			}
			// The MIME part is base64 in lines of at most 76 characters.
			lines := 0
			for _, line := range strings.Split(frameText(t, raw), "\n") {
				if strings.Contains(line, ":") || strings.HasPrefix(line, " ") {
					continue // a header line
				}
				lines++
				if len(line) > 76 {
					t.Fatalf("MIME line of %d characters", len(line))
				}
			}
			if lines < 10 {
				t.Fatalf("only %d base64 lines", lines)
			}
		})
	}
}

func TestSocialServiceRequestSP1(t *testing.T) {
	in := input(readDoc(t, "social"), hl7.InteractionSocial)
	in.SocialServiceRequest = "SP1"
	m, err := wire.ParseMessage(build(t, in))
	if err != nil {
		t.Fatal(err)
	}
	if m.ReasonCodes[0].Code != "SP1" {
		t.Errorf("reason %+v", m.ReasonCodes)
	}
}

func TestBuildMessageRefusals(t *testing.T) {
	health, correction, social := readDoc(t, "health_new"), readDoc(t, "health_correction"), readDoc(t, "social")
	tests := map[string]struct {
		in   wire.MessageInput
		want error
	}{
		"unknown interaction":            {input(health, "RCMR_IN999999FI01"), wire.ErrUnknownInteraction},
		"new interaction, version 2":     {input(correction, hl7.InteractionNewHealth), wire.ErrInvalidInput},
		"replace interaction, version 1": {input(health, hl7.InteractionReplaceHealth), wire.ErrInvalidInput},
		"health interaction for social":  {input(social, hl7.InteractionNewHealth), wire.ErrInvalidInput},
		"social interaction for health":  {input(health, hl7.InteractionSocial), wire.ErrInvalidInput},
		"not a document":                 {input([]byte("<x/>"), hl7.InteractionNewHealth), wire.ErrInvalidInput},
	}
	bad := input(health, hl7.InteractionNewHealth)
	bad.ProcessingCode = "T"
	tests["processing code"] = struct {
		in   wire.MessageInput
		want error
	}{bad, wire.ErrInvalidInput}
	bad = input(health, hl7.InteractionNewHealth)
	bad.CreationTime = time.Time{}
	tests["no creation time"] = struct {
		in   wire.MessageInput
		want error
	}{bad, wire.ErrInvalidInput}
	bad = input(social, hl7.InteractionSocial)
	bad.SocialServiceRequest = "SP2"
	tests["service request"] = struct {
		in   wire.MessageInput
		want error
	}{bad, wire.ErrInvalidInput}
	for name, tc := range tests {
		if _, err := wire.BuildMessage(tc.in); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", name, err, tc.want)
		}
	}
}

// frameText returns the MIME package of a frame.
func frameText(t *testing.T, raw []byte) string {
	t.Helper()
	d := etree.NewDocument()
	if err := d.ReadFromBytes(raw); err != nil {
		t.Fatal(err)
	}
	return d.FindElement("//clinicalDocument/text").Text()
}

// mutate parses a frame, applies f and serializes it again.
func mutate(t *testing.T, raw []byte, f func(root *etree.Element)) []byte {
	t.Helper()
	d := etree.NewDocument()
	if err := d.ReadFromBytes(raw); err != nil {
		t.Fatal(err)
	}
	f(d.Root())
	b, err := d.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func setText(t *testing.T, f func(string) string) func(*etree.Element) {
	return func(root *etree.Element) {
		el := root.FindElement("//clinicalDocument/text")
		el.SetText(f(el.Text()))
	}
}

func TestParseMessageErrors(t *testing.T) {
	health := readDoc(t, "health_new")
	raw := build(t, input(health, hl7.InteractionNewHealth))
	otherDoc := readDoc(t, "health_correction")
	otherRaw := build(t, input(otherDoc, hl7.InteractionReplaceHealth))
	d := etree.NewDocument()
	_ = d.ReadFromBytes(health)
	docID := d.FindElement("/ClinicalDocument/id").SelectAttrValue("root", "")

	tests := map[string]struct {
		raw  []byte
		want error
		text string // the error must say this
	}{
		"not XML":       {[]byte("this is not xml <"), wire.ErrNotXML, "well-formed"},
		"empty":         {nil, wire.ErrNotXML, ""},
		"unknown root":  {mutate(t, raw, func(r *etree.Element) { r.Tag = "MCCI_IN000002UV01" }), wire.ErrUnknownInteraction, "MCCI_IN000002UV01"},
		"interactionId": {mutate(t, raw, func(r *etree.Element) { r.FindElement("interactionId").CreateAttr("extension", "RCMR_IN200002FI01") }), wire.ErrUnknownInteraction, "interactionId"},
		"no text": {mutate(t, raw, func(r *etree.Element) {
			el := r.FindElement("//clinicalDocument/text")
			el.Parent().RemoveChild(el)
		}), wire.ErrMIMEPart, "no text"},
		"no boundary":    {mutate(t, raw, setText(t, func(s string) string { return strings.Replace(s, "boundary=", "b=", 1) })), wire.ErrMIMEPart, "boundary"},
		"bad base64":     {mutate(t, raw, setText(t, func(s string) string { return strings.Replace(s, "PD94", "P!94", 1) })), wire.ErrMIMEPart, "base64"},
		"not closed":     {mutate(t, raw, setText(t, func(s string) string { return strings.TrimSuffix(s, "--\n") + "\n" })), wire.ErrMIMEPart, "not closed"},
		"no content id":  {mutate(t, raw, setText(t, func(s string) string { return strings.Replace(s, "Content-ID:", "X-Id:", 1) })), wire.ErrMIMEPart, "Content-ID"},
		"not base64 cte": {mutate(t, raw, setText(t, func(s string) string { return strings.Replace(s, "BASE64", "8bit", 1) })), wire.ErrMIMEPart, "Transfer-Encoding"},
		"not a CDA": {mutate(t, raw, setText(t, func(s string) string {
			head, _, _ := strings.Cut(s, ">\n\n")
			return head + ">\n\n" + base64.StdEncoding.EncodeToString([]byte("<a/>")) + "\n\n--" + strings.Split(strings.Split(s, "boundary=\"")[1], "\"")[0] + "--\n"
		})), wire.ErrMIMEPart, "ClinicalDocument"},
		"content id": {mutate(t, raw, setText(t, func(s string) string {
			return strings.Replace(s, "Content-ID: <"+docID+">", "Content-ID: <1.2.3>", 1)
		})), wire.ErrContentID, "Content-ID"},
		"frame id": {mutate(t, raw, func(r *etree.Element) {
			r.FindElement("//clinicalDocument/id").CreateAttr("root", "1.2.3")
		}), wire.ErrMetadataMismatch, "frame id"},
		"frame setId": {mutate(t, raw, func(r *etree.Element) {
			r.FindElement("//clinicalDocument/setId").CreateAttr("root", "1.2.3")
		}), wire.ErrMetadataMismatch, "setId"},
		"frame version": {mutate(t, raw, func(r *etree.Element) {
			r.FindElement("//clinicalDocument/versionNumber").CreateAttr("value", "2")
		}), wire.ErrMetadataMismatch, "versionNumber"},
		"frame patient": {mutate(t, raw, func(r *etree.Element) {
			r.FindElement("//clinicalDocument/recordTarget/patient/id").CreateAttr("extension", "010101A999X")
		}), wire.ErrMetadataMismatch, "patients"},
		"frame of another document": {mutate(t, raw, func(r *etree.Element) {
			// The other frame's document under this frame's metadata.
			o := etree.NewDocument()
			_ = o.ReadFromBytes(otherRaw)
			r.FindElement("//clinicalDocument/text").SetText(o.FindElement("//clinicalDocument/text").Text())
		}), wire.ErrMetadataMismatch, "frame id"},
		"no clinicalDocument": {mutate(t, raw, func(r *etree.Element) {
			el := r.FindElement("//subject")
			el.Parent().RemoveChild(el)
		}), wire.ErrMalformedFrame, "clinicalDocument"},
	}
	hetu := d.FindElement("//recordTarget/patientRole/id").SelectAttrValue("extension", "")
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := wire.ParseMessage(tc.raw)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.text) {
				t.Errorf("error %q does not say %q", err, tc.text)
			}
			if strings.Contains(err.Error(), hetu) {
				t.Errorf("error leaks the identity code")
			}
		})
	}
}

// The MIME package is read the same with CRLF line ends, indentation before
// the headers and trailing blanks on delimiter lines; two parts are refused.
func TestParseMessageMIMELayouts(t *testing.T) {
	health := readDoc(t, "health_new")
	raw := build(t, input(health, hl7.InteractionNewHealth))
	for name, edit := range map[string]func(string) string{
		"CRLF":           func(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") },
		"indented":       func(s string) string { return "\n\t\t" + s },
		"trailing blank": func(s string) string { return strings.Replace(s, "--\n", "--  \n", 1) },
	} {
		t.Run(name, func(t *testing.T) {
			m, err := wire.ParseMessage(mutate(t, raw, setText(t, edit)))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(m.Document, health) {
				t.Fatal("document bytes differ from the signed document")
			}
			if m.DocumentTree == nil || m.DocumentTree.Root().Tag != "ClinicalDocument" {
				t.Fatal("no parsed document tree")
			}
		})
	}
	twoParts := mutate(t, raw, setText(t, func(s string) string {
		boundary := strings.Split(strings.Split(s, "boundary=\"")[1], "\"")[0]
		head, rest, _ := strings.Cut(s, "--"+boundary+"\n")
		return head + "--" + boundary + "\n" + rest[:strings.Index(rest, "--"+boundary+"--")] + "--" + boundary + "\n" + rest
	}))
	if _, err := wire.ParseMessage(twoParts); !errors.Is(err, wire.ErrMIMEPart) || !strings.Contains(err.Error(), "2 parts") {
		t.Fatalf("two parts: got %v", err)
	}
}

func TestInteractionConstantsMatchSample(t *testing.T) {
	raw := kantasample.Message()
	if !bytes.HasPrefix(raw, []byte("<"+hl7.InteractionNewHealth+" ")) {
		t.Fatal("sample is not a " + hl7.InteractionNewHealth)
	}
}

func BenchmarkBuildMessage(b *testing.B) {
	doc, err := os.ReadFile("../documents/cda/testdata/golden/health_new.xml")
	if err != nil {
		b.Fatal(err)
	}
	in := input(doc, hl7.InteractionNewHealth)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := wire.BuildMessage(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseMessage(b *testing.B) {
	doc, err := os.ReadFile("../documents/cda/testdata/golden/health_new.xml")
	if err != nil {
		b.Fatal(err)
	}
	raw, err := wire.BuildMessage(input(doc, hl7.InteractionNewHealth))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := wire.ParseMessage(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// The document's base64 lines are written into the frame in place of a
// processing instruction; a name in the document that spells that
// instruction must stay a name (escaped) and not receive the body.
func TestBodyMarkInDocumentTextStaysText(t *testing.T) {
	doc := bytes.Replace(readDoc(t, "health_new"), []byte("<given>Aino</given>"), []byte("<given>&lt;?kanta-mime-body?&gt;</given>"), 1)
	if bytes.Equal(doc, readDoc(t, "health_new")) {
		t.Fatal("golden document has no given name Aino to replace")
	}
	raw := build(t, input(doc, hl7.InteractionNewHealth))
	if !bytes.Contains(raw, []byte("&lt;?kanta-mime-body?&gt;")) {
		t.Fatal("the frame does not carry the escaped name")
	}
	m, err := wire.ParseMessage(raw)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(m.Document, doc) {
		t.Fatal("document not carried byte-exact")
	}
}

package wire

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/helsinki-student-welfare/kanta-gateway/hl7"
	"github.com/helsinki-student-welfare/kanta-gateway/xmlcheck"
)

// notWellFormed are the ways a well-formed-looking XML text is not one
// document: encoding/xml (and so etree) reads each without complaint.
var notWellFormed = []struct {
	name string
	edit func([]byte) []byte
}{
	{"trailing text after the root", func(b []byte) []byte { return append(append([]byte(nil), b...), "\ntrailing"...) }},
	{"a second root element", func(b []byte) []byte { return append(append([]byte(nil), b...), "<second/>"...) }},
	{"a DOCTYPE", func(b []byte) []byte {
		return bytes.Replace(b, []byte("?>"), []byte("?>\n<!DOCTYPE x [<!ENTITY e \"v\">]>"), 1)
	}},
	{"a declared encoding other than UTF-8", func(b []byte) []byte {
		return bytes.Replace(b, []byte(`encoding="UTF-8"`), []byte(`encoding="ISO-8859-1"`), 1)
	}},
}

// The frame parser refuses a frame that is not one well-formed document,
// on the lifted fast path (the mock's) and on the parser's own path alike.
func TestParseMessageRefusesFrameNotWellFormed(t *testing.T) {
	own := frameOf(t, "health_new", hl7.InteractionNewHealth)
	if !bytes.HasPrefix(own, []byte(`<?xml version="1.0" encoding="UTF-8"?>`)) {
		t.Fatalf("frame does not start with the UTF-8 declaration the cases edit: %.60s", own)
	}
	if _, err := ParseMessage(own); err != nil {
		t.Fatalf("the unedited frame: %v", err)
	}
	for _, tc := range notWellFormed {
		raw := tc.edit(own)
		if bytes.Equal(raw, own) {
			t.Fatalf("%s: edit changed nothing", tc.name)
		}
		_, fast := ParseMessage(raw)
		_, slow := parseFrame(raw, nil)
		for path, err := range map[string]error{"ParseMessage": fast, "parser's own path": slow} {
			if !errors.Is(err, ErrNotXML) || !errors.Is(err, xmlcheck.ErrNotWellFormed) {
				t.Errorf("%s, %s: error %v, want ErrNotXML and not well-formed", tc.name, path, err)
			}
		}
	}
}

// The document inside the frame's MIME package must be one well-formed
// document too.
func TestParseMessageRefusesDocumentNotWellFormed(t *testing.T) {
	doc, err := os.ReadFile("../documents/cda/testdata/golden/health_new.xml")
	if err != nil {
		t.Fatal(err)
	}
	own := frameOf(t, "health_new", hl7.InteractionNewHealth)
	for _, tc := range notWellFormed {
		edited := tc.edit(doc)
		if bytes.Equal(edited, doc) {
			t.Fatalf("%s: edit changed nothing", tc.name)
		}
		raw := replacePackageBody(t, own, edited)
		_, err := ParseMessage(raw)
		if !errors.Is(err, ErrMIMEPart) || !errors.Is(err, xmlcheck.ErrNotWellFormed) {
			t.Errorf("document with %s: error %v, want the MIME part refused as not well-formed", tc.name, err)
		}
	}
}

// replacePackageBody puts doc, base64-encoded, in place of the document of
// the frame's single MIME part.
func replacePackageBody(t *testing.T, frame, doc []byte) []byte {
	t.Helper()
	s := string(frame)
	cid := strings.Index(s, "Content-ID:")
	if cid < 0 {
		t.Fatal("frame has no Content-ID")
	}
	bodyStart := cid + strings.Index(s[cid:], "\n\n") + 2
	bodyEnd := bodyStart + strings.Index(s[bodyStart:], "\n\n--")
	if bodyStart < cid+2 || bodyEnd < bodyStart {
		t.Fatal("frame's MIME part not found")
	}
	return []byte(s[:bodyStart] + base64.StdEncoding.EncodeToString(doc) + s[bodyEnd:])
}

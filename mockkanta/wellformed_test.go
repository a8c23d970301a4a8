package mockkanta

import (
	"bytes"
	"testing"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/wire"
)

// A frame that is not one well-formed document is refused as a malformed
// frame, whether or not the mock's fast path (wire.liftPackage) could lift
// its package: a comment in the frame makes it take the parser's path.
func TestRefusesFrameNotWellFormed(t *testing.T) {
	s, _ := newTestServer(t, trusted())
	edits := []struct {
		name string
		edit func([]byte) []byte
	}{
		{"trailing text after the root", func(b []byte) []byte { return append(b, "\ntrailing"...) }},
		{"a second root element", func(b []byte) []byte { return append(b, "<second/>"...) }},
		{"a DOCTYPE", func(b []byte) []byte { return replaceOnce(b, "?>", "?>\n<!DOCTYPE x>") }},
		{"a declared encoding other than UTF-8", func(b []byte) []byte {
			return replaceOnce(b, `encoding="UTF-8"`, `encoding="ISO-8859-1"`)
		}},
	}
	ok := entry("WF-OK", documents.RolePsychologist, "2014-01-01")
	unedited := replaceOnce(build(t, spec{entry: ok, decision: decide(ok, true)}).message, "<id ", "<!-- not lifted --><id ")
	if ack, err := wire.ParseAck(postHandler(s, unedited)); err != nil || ack.Detail != wire.DetailAccepted {
		t.Fatalf("the unedited frame with a comment: %+v %v", ack, err)
	}
	for i, e := range edits {
		for _, lifted := range []bool{true, false} {
			en := entry("WF-"+string(rune('A'+i))+map[bool]string{true: "L", false: "P"}[lifted], documents.RolePsychologist, "2014-01-01")
			msg := build(t, spec{entry: en, decision: decide(en, true)}).message
			if !lifted {
				msg = replaceOnce(msg, "<id ", "<!-- not lifted --><id ")
			}
			msg = e.edit(bytes.Clone(msg))
			ack, err := wire.ParseAck(postHandler(s, msg))
			if err != nil {
				t.Fatal(err)
			}
			if ack.Detail != wire.DetailMalformedFrame {
				t.Errorf("%s (lifted path %v): ack %s %s, want %s", e.name, lifted, ack.Code, ack.Detail, wire.DetailMalformedFrame)
			}
		}
	}
}

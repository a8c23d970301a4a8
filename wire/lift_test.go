package wire

import (
	"bytes"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/hl7"
	"github.com/helsinki-student-welfare/kanta-gateway/internal/kantasample"
)

func frameOf(t *testing.T, golden, interaction string) []byte {
	t.Helper()
	doc, err := os.ReadFile("../documents/cda/testdata/golden/" + golden + ".xml")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := BuildMessage(MessageInput{
		Document: doc, Interaction: interaction, MessageID: "1.2.246.10.2012566.10.2.1234.1",
		CreationTime: time.Date(2026, 3, 10, 12, 31, 0, 0, time.UTC), ProcessingCode: "D", SenderOID: "1.2.246.10.2012566.10.99",
	})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// sameParse checks that ParseMessage (which lifts the package when it can)
// and the parser's own reading of the whole frame agree: the same message,
// or errors of the same kind.
func sameParse(t *testing.T, raw []byte) *Message {
	t.Helper()
	fast, ferr := ParseMessage(raw)
	slow, serr := parseFrame(raw, nil)
	if (ferr == nil) != (serr == nil) {
		t.Fatalf("lifted parse error %v, parser's %v", ferr, serr)
	}
	if ferr != nil {
		for _, kind := range []error{ErrNotXML, ErrUnknownInteraction, ErrMalformedFrame, ErrMIMEPart, ErrContentID, ErrMetadataMismatch} {
			if errors.Is(ferr, kind) != errors.Is(serr, kind) {
				t.Fatalf("lifted parse error %v, parser's %v", ferr, serr)
			}
		}
		return nil
	}
	if fast.DocumentTree == nil || slow.DocumentTree == nil {
		t.Fatal("no document tree")
	}
	f, s := *fast, *slow
	f.DocumentTree, s.DocumentTree = nil, nil
	if !reflect.DeepEqual(f, s) {
		t.Fatalf("lifted parse %+v\nparser's %+v", f, s)
	}
	return fast
}

func TestLiftPackageAgreesWithParser(t *testing.T) {
	own := frameOf(t, "health_new", hl7.InteractionNewHealth)
	sample := kantasample.Message()
	// where the package text starts and ends in our own frame
	start := bytes.Index(own, []byte(packageStart)) + len(packageStart)
	end := start + bytes.Index(own[start:], []byte("</text>"))
	replaceText := func(text string) []byte {
		return append(append(append([]byte(nil), own[:start]...), text...), own[end:]...)
	}
	pkg := string(own[start:end])

	tests := []struct {
		name  string
		raw   []byte
		lifts bool
	}{
		{"own health frame", own, true},
		{"own correction frame", frameOf(t, "health_correction", hl7.InteractionReplaceHealth), true},
		{"own social frame", frameOf(t, "social", hl7.InteractionSocial), true},
		{"real sample", sample, true},
		{"a comment in the frame", bytes.Replace(own, []byte("<controlActProcess"), []byte("<!-- note --><controlActProcess"), 1), false},
		{"the package in a CDATA section", replaceText("<![CDATA[" + strings.ReplaceAll(strings.ReplaceAll(pkg, "&lt;", "<"), "&gt;", ">") + "]]>"), false},
		{"a numeric reference", replaceText(strings.Replace(pkg, "&lt;", "&#60;", 1)), false},
		{"CRLF line endings", replaceText(strings.ReplaceAll(pkg, "\n", "\r\n")), false},
		{"a non-ASCII character", replaceText(strings.Replace(pkg, "MIME-Version", "MIME-Versiö", 1)), false},
		{"an undefined entity", replaceText(strings.Replace(pkg, "&lt;", "&foo;", 1)), false},
		{"a bare ampersand", replaceText(strings.Replace(pkg, "MIME", "MI&ME", 1)), false},
		{"the mark in the frame", bytes.Replace(own, []byte(`<processingCode code="D"/>`), []byte(`<processingCode code="D" extension="`+liftMark+`"/>`), 1), false},
		{"a decoy start tag before the package", bytes.Replace(own, []byte("<controlActProcess"), []byte(packageStart+"decoy</text><controlActProcess"), 1), false},
		{"the package element written another way, a decoy in the right form", bytes.Replace(
			bytes.Replace(own, []byte(packageStart), []byte(`<text mediaType='multipart/related'>`), 1),
			[]byte("<controlActProcess"), []byte(packageStart+"decoy</text><controlActProcess"), 1), true},
		{"an element inside the package", replaceText(pkg[:40] + "<b/>" + pkg[40:]), false},
		{"no package element", replaceText(""), true},
		{"not XML", own[:len(own)/2], false},
		{"not XML after the package", own[:len(own)-10], true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, lifts := liftPackage(tc.raw); lifts != tc.lifts {
				t.Errorf("liftPackage ok = %v, want %v", lifts, tc.lifts)
			}
			sameParse(t, tc.raw)
		})
	}
	if m := sameParse(t, own); m == nil || m.ContentID != m.DocumentID {
		t.Fatal("own frame does not parse")
	}
}

func TestUnescapeText(t *testing.T) {
	for in, want := range map[string]string{
		"a&lt;b&gt;c&amp;d&quot;e&apos;f\n\tg": "a<b>c&d\"e'f\n\tg",
		"":                                     "",
	} {
		if got, ok := unescapeText([]byte(in)); !ok || got != want {
			t.Errorf("unescapeText(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"&#60;", "&lt", "a]]>b", "\r\n", "\x01", "ä"} {
		if _, ok := unescapeText([]byte(in)); ok {
			t.Errorf("unescapeText(%q) accepted", in)
		}
	}
}

// unescapeTextByByte is unescapeText as it was, a byte at a time: the
// reference the run-copying version must agree with.
func unescapeTextByByte(b []byte) (string, bool) {
	if bytes.Contains(b, []byte("]]>")) {
		return "", false
	}
	var sb strings.Builder
	for len(b) > 0 {
		c := b[0]
		switch {
		case c == '&':
			semi := bytes.IndexByte(b, ';')
			if semi < 0 {
				return "", false
			}
			switch string(b[1:semi]) {
			case "lt":
				sb.WriteByte('<')
			case "gt":
				sb.WriteByte('>')
			case "amp":
				sb.WriteByte('&')
			case "quot":
				sb.WriteByte('"')
			case "apos":
				sb.WriteByte('\'')
			default:
				return "", false
			}
			b = b[semi+1:]
			continue
		case c == '\n' || c == '\t' || (c >= 0x20 && c < 0x7f):
			sb.WriteByte(c)
		default:
			return "", false
		}
		b = b[1:]
	}
	return sb.String(), true
}

func FuzzUnescapeTextAgreesWithByteAtATime(f *testing.F) {
	for _, s := range []string{"a&lt;b&gt;c&amp;d&quot;e&apos;f\n\tg", "", "&#60;", "&lt", "a]]>b", "\r\n", "\x01", "ä", "&amp;lt;", "x&;y", "&&lt;"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok := unescapeText(b)
		want, wantOK := unescapeTextByByte(b)
		if got != want || ok != wantOK {
			t.Fatalf("unescapeText(%q) = %q, %v; byte at a time %q, %v", b, got, ok, want, wantOK)
		}
	})
}

package fhir

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
)

const xhtmlDivOpen = `<div xmlns="http://www.w3.org/1999/xhtml">`

// InvalidCharError reports a character that XML 1.0 cannot carry. It names
// the field, the position and the code point, never the text around it.
type InvalidCharError struct {
	Field  string
	Offset int  // byte offset in the field
	Rune   rune // utf8.RuneError for a malformed UTF-8 sequence
	BadUTF bool
}

func (e *InvalidCharError) Error() string {
	if e.BadUTF {
		return fmt.Sprintf("%s: invalid UTF-8 at byte %d", e.Field, e.Offset)
	}
	return fmt.Sprintf("%s: character U+%04X at byte %d is not allowed in XML", e.Field, e.Rune, e.Offset)
}

// checkXMLChars refuses what XML 1.0 (and hence XHTML and the FHIR string
// type) cannot hold: control characters other than tab, LF and CR, the
// surrogate range, U+FFFE/U+FFFF and malformed UTF-8.
func checkXMLChars(field, s string) error {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size <= 1 {
			return &InvalidCharError{Field: field, Offset: i, Rune: r, BadUTF: true}
		}
		if !documents.IsXMLChar(r) {
			return &InvalidCharError{Field: field, Offset: i, Rune: r}
		}
		i += size
	}
	return nil
}

// narrativeDiv renders entry text as an XHTML div: blank lines separate
// paragraphs (<p>), single line breaks become <br/>. CRLF and CR count as
// line breaks. Markup characters are escaped, so the text can never inject
// elements.
func narrativeDiv(field, text string) (string, error) {
	if err := checkXMLChars(field, text); err != nil {
		return "", err
	}
	text = strings.ReplaceAll(text, "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")
	var b strings.Builder
	b.Grow(len(text) + len(text)/8 + 64)
	b.WriteString(xhtmlDivOpen)
	paragraphs := 0
	for _, para := range strings.Split(text, "\n\n") {
		para = strings.Trim(para, "\n")
		if strings.TrimSpace(para) == "" {
			continue
		}
		paragraphs++
		b.WriteString("<p>")
		for i, line := range strings.Split(para, "\n") {
			if i > 0 {
				b.WriteString("<br/>")
			}
			escapeXML(&b, line)
		}
		b.WriteString("</p>")
	}
	if paragraphs == 0 {
		return "", fmt.Errorf("%s is empty", field)
	}
	b.WriteString("</div>")
	return b.String(), nil
}

func escapeXML(b *strings.Builder, s string) {
	last := 0
	for i := 0; i < len(s); i++ {
		var esc string
		switch s[i] {
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '&':
			esc = "&amp;"
		case '"':
			esc = "&quot;"
		case '\'':
			esc = "&#39;"
		default:
			continue
		}
		b.WriteString(s[last:i])
		b.WriteString(esc)
		last = i + 1
	}
	b.WriteString(s[last:])
}

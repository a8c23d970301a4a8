package mockkanta

import (
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/beevik/etree"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/hl7"
	"github.com/helsinki-student-welfare/kanta-gateway/hl7/hl7xml"
)

// Kela's test environment refuses a non-test identity code (individual
// number outside 900-999) anywhere in a message: the client, the
// professionals, guardians, the display text and the structured content
// (kanta-domain.md 8.1 "Test environment"). The mock looks for strings of
// the henkilötunnus's shape (DDMMYYCZZZQ standing alone, not inside a
// longer word or number) that documents.ParseHetu accepts: a masked display
// form such as 180418***** or a code with a wrong check character is not a
// code. Base64 content (the XHTML display form, hl7fi:json, FHIR attachment
// data) is decoded and looked through too. What is found is never quoted:
// the answer only says that a code was found.

// hasNonTestHetu reports whether b holds a valid identity code that is not
// a test code. Character references and JSON \u escapes are not decoded: the
// check is for codes written plainly, as a producer writes them.
func hasNonTestHetu(b []byte) bool {
	// A code starts with six digits: where b[i+5] is not a digit no code
	// starts at i..i+5, so the scan moves six bytes at a time through text
	// and base64 (few digits) and looks closer only at digit runs.
	for i := 0; i+11 <= len(b); {
		if !isDigit(b[i+5]) {
			i += 6
			continue
		}
		if k := lastNonDigit(b[i : i+5]); k >= 0 {
			i += k + 1
			continue
		}
		if !centurySign[b[i+6]] {
			if isDigit(b[i+6]) {
				i++
			} else {
				i += 7 // no six digits run through b[i+6]
			}
			continue
		}
		if isDigit(b[i+7]) && isDigit(b[i+8]) && isDigit(b[i+9]) &&
			(i == 0 || !wordByte[b[i-1]]) && (i+11 == len(b) || !wordByte[b[i+11]]) {
			if info, err := documents.ParseHetu(string(b[i : i+11])); err == nil && !info.IsTestCode() {
				return true
			}
		}
		i++
	}
	return false
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// lastNonDigit is the index of the last byte of b that is not a digit, or -1.
func lastNonDigit(b []byte) int {
	for k := len(b) - 1; k >= 0; k-- {
		if !isDigit(b[k]) {
			return k
		}
	}
	return -1
}

var centurySign, wordByte [256]bool

func init() {
	for _, c := range "+-YXWVUABCDEF" {
		centurySign[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		wordByte[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		wordByte[c], wordByte[c+'a'-'A'] = true, true
	}
}

// cdaHasNonTestHetu looks through an archive request: the frame's bytes
// (its patient, authors and every other text and attribute), the CDA
// document's bytes, and the decoded content of the document's base64
// elements (representation="B64", such as the social welfare XHTML display
// form, and hl7fi:json, the structured content).
func cdaHasNonTestHetu(frame, document []byte, tree *etree.Document) bool {
	if hasNonTestHetu(frame) || hasNonTestHetu(document) {
		return true
	}
	if tree == nil || tree.Root() == nil {
		return false
	}
	found := false
	var walk func(el *etree.Element)
	walk = func(el *etree.Element) {
		if found {
			return
		}
		if el.SelectAttrValue("representation", "") == "B64" || hl7xml.Is(el, hl7.NamespaceFI, "json") {
			if b, ok := decodeBase64(el.Text()); ok && hasNonTestHetu(b) {
				found = true
				return
			}
		}
		for c := range el.ChildElementsSeq() {
			walk(c)
		}
	}
	walk(tree.Root())
	return found
}

// decodeBase64 decodes base64 text with the line breaks and indentation
// real documents carry.
func decodeBase64(s string) ([]byte, bool) {
	s = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\n', '\r':
			return -1
		}
		return r
	}, s)
	if s == "" {
		return nil, false
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, false
	}
	return b, true
}

// bundleHasNonTestHetu looks through every string of a FHIR Bundle,
// unescaped: JSON encoders write the narrative's markup as \u003c…\u003e,
// so in the raw bytes a code right after a tag would not stand alone. The
// document profile has no attachment; the only base64 is the signature.
func bundleHasNonTestHetu(raw []byte) bool {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return hasNonTestHetu(raw)
	}
	return jsonHasNonTestHetu(v)
}

// jsonHasNonTestHetu is bundleHasNonTestHetu on parsed JSON.
func jsonHasNonTestHetu(v any) bool {
	var walk func(v any) bool
	walk = func(v any) bool {
		switch x := v.(type) {
		case string:
			return hasNonTestHetu([]byte(x))
		case []any:
			for _, e := range x {
				if walk(e) {
					return true
				}
			}
		case map[string]any:
			for _, e := range x {
				if walk(e) {
					return true
				}
			}
		}
		return false
	}
	return walk(v)
}

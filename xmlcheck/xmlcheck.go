// Package xmlcheck holds the well-formedness rules encoding/xml (and so
// etree) leaves to its caller. The frame parser, the CDA reader and the
// signature verifier share them, so the gateway's verify command and the
// mock refuse the same documents.
package xmlcheck

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/beevik/etree"
)

// ErrNotWellFormed is wrapped by every error of WellFormed.
var ErrNotWellFormed = errors.New("XML is not well-formed")

var encodingDecl = regexp.MustCompile(`\bencoding\s*=\s*["']([^"']*)["']`)

// WellFormed checks what a parsed document must be beyond what the parser
// enforces: exactly one root element, nothing but whitespace, comments and
// processing instructions around it (no trailing text, no second root), an
// XML declaration only at the very start and declaring no encoding other
// than UTF-8 (etree reads every declared encoding as UTF-8, so a Latin-1
// document would be misread, not converted), and no DTD anywhere (a DTD
// could declare entities and ID attributes; no Kanta message has one).
// Errors do not quote the document's content.
func WellFormed(doc *etree.Document) error {
	roots := 0
	for i, t := range doc.Child {
		switch t := t.(type) {
		case *etree.Element:
			roots++
		case *etree.CharData:
			if strings.TrimSpace(t.Data) != "" {
				return fmt.Errorf("%w: text outside the root element", ErrNotWellFormed)
			}
		case *etree.ProcInst:
			if strings.EqualFold(t.Target, "xml") {
				if i != 0 {
					return fmt.Errorf("%w: XML declaration not at the start", ErrNotWellFormed)
				}
				if m := encodingDecl.FindStringSubmatch(t.Inst); m != nil && !strings.EqualFold(m[1], "UTF-8") {
					return fmt.Errorf("%w: declared encoding %q, only UTF-8 is accepted", ErrNotWellFormed, m[1])
				}
			}
		case *etree.Directive:
			return fmt.Errorf("%w: document contains a DTD or other directive", ErrNotWellFormed)
		}
	}
	switch {
	case roots == 0:
		return fmt.Errorf("%w: no root element", ErrNotWellFormed)
	case roots > 1:
		return fmt.Errorf("%w: %d root elements", ErrNotWellFormed, roots)
	}
	if hasDirective(doc.Root()) {
		return fmt.Errorf("%w: document contains a DTD or other directive", ErrNotWellFormed)
	}
	return nil
}

func hasDirective(el *etree.Element) bool {
	for _, t := range el.Child {
		switch t := t.(type) {
		case *etree.Directive:
			return true
		case *etree.Element:
			if hasDirective(t) {
				return true
			}
		}
	}
	return false
}

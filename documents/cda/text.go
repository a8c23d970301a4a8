package cda

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/beevik/etree"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
)

// checkInput refuses what cannot become a valid document. Errors name the
// field, never its value: names, identity codes and entry text are personal
// data.
func checkInput(e *documents.Entry, org documents.Organisation) error {
	texts := []struct{ field, value string }{
		{"author.given", e.Author.Given},
		{"author.family", e.Author.Family},
		{"author.registration_number", e.Author.RegistrationNumber},
		{"client.given", e.Client.Given},
		{"client.family", e.Client.Family},
		{"client.hetu", e.Client.Hetu},
		{"service.unit_name", e.Service.UnitName},
		{"encounter.id", e.Encounter.ID},
		{"text.title", e.Text.Title},
		{"text.narrative", e.Text.Narrative},
		{"text.language", e.Text.Language},
		{"restrictions.mykanta.reason_code", e.MyKanta.ReasonCode},
		{"restrictions.mykanta.reason_text", e.MyKanta.ReasonText},
		{"organisation.name", org.Name},
		{"organisation.custodian_name", org.CustodianName},
	}
	if e.ClientRelationship != nil {
		texts = append(texts, struct{ field, value string }{"client_relationship.id", e.ClientRelationship.ID})
	}
	for _, t := range texts {
		if err := checkXMLText(t.value); err != nil {
			return &documents.FieldError{Field: t.field, Err: err}
		}
	}
	required := []struct{ field, value string }{
		{"author.registration_number", e.Author.RegistrationNumber},
		{"author.family", e.Author.Family},
		{"client.hetu", e.Client.Hetu},
		{"client.family", e.Client.Family},
		{"service.unit_name", e.Service.UnitName},
		{"encounter.id", e.Encounter.ID},
	}
	for _, r := range required {
		if strings.TrimSpace(r.value) == "" {
			return fmt.Errorf("%s is required", r.field)
		}
	}
	if e.Client.BirthDate.IsZero() {
		return errors.New("client.birth_date is required")
	}
	if e.Encounter.Start.IsZero() {
		return errors.New("encounter.start is required")
	}
	oids := []struct{ field, value string }{
		{"service.unit_oid", e.Service.UnitOID},
		{"service.organiser_oid", e.Service.OrganiserOID},
		{"organisation.oid", org.OID},
		{"organisation.document_root", org.DocumentRoot},
	}
	if e.Service.ProviderOID != "" {
		oids = append(oids, struct{ field, value string }{"service.provider_oid", e.Service.ProviderOID})
	}
	for _, o := range oids {
		if !documents.ValidOID(o.value) {
			return fmt.Errorf("%s is not an OID", o.field)
		}
	}
	if e.Revision < 1 {
		return errors.New("revision must be 1 or more")
	}
	return nil
}

// checkXMLText refuses invalid UTF-8 and characters XML 1.0 cannot carry
// (C0 controls other than tab, newline and carriage return; U+FFFE, U+FFFF).
// It reports the position, not the character's context.
func checkXMLText(s string) error {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return fmt.Errorf("invalid UTF-8 at byte %d", i)
			}
		}
		if !documents.IsXMLChar(r) {
			return fmt.Errorf("character U+%04X at byte %d is not allowed in XML", r, i)
		}
	}
	return nil
}

// paragraphs splits narrative into paragraphs (blank-line separated) of lines.
// Line endings are normalised to \n first.
func paragraphs(narrative string) [][]string {
	s := strings.ReplaceAll(narrative, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	s = strings.Trim(s, "\n")
	if s == "" {
		return nil
	}
	var out [][]string
	for _, p := range strings.Split(s, "\n\n") {
		p = strings.Trim(p, "\n")
		if p == "" {
			continue
		}
		out = append(out, strings.Split(p, "\n"))
	}
	return out
}

// narrativeInto writes paragraphs as <paragraph> elements with <br/> between
// lines, under parent; prefix is the element prefix ("" for CDA narrative,
// the XHTML elements are unprefixed too).
func narrativeInto(parent *etree.Element, paragraphTag, narrative string) {
	for _, lines := range paragraphs(narrative) {
		p := parent.CreateElement(paragraphTag)
		for i, line := range lines {
			if i > 0 {
				p.CreateElement("br")
			}
			if line != "" {
				p.CreateText(line)
			}
		}
	}
}

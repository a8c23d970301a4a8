package fhir

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	models "github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
)

// Summary is what a receiver (the mock archive, its tester API) needs to
// know about a document Bundle without reading its text.
type Summary struct {
	DocumentID string // Bundle.identifier, without urn:oid:
	SetID      string // Composition.identifier, without urn:oid:
	Version    int    // Composition version extension
	// Replaces is the document id of the version this one replaces ("" for a first version).
	Replaces   string
	Hetu       string
	Archive    documents.Archive // from the Composition's category code system
	AuthorRole documents.Role    // from PractitionerRole.code
	// ReleaseDate is the MyKanta release date (ReleaseDateForPatientViewing), zero when not delayed.
	ReleaseDate documents.Date
	Concealed   bool // concealment security label present
	// GuardianDisclosure is the RestrictionParent code ("" when absent:
	// an adult's document).
	GuardianDisclosure string
	// GuardianDisclosed: may a minor's guardian see the document? True when
	// RestrictionParent is absent or codes 1 or 2 (disclosed), false for
	// every other code, as the CDA reader reads authorization/consent.
	GuardianDisclosed bool
	Confidentiality   string // national confidentiality code (5/6) from meta.security
	Status            string // Composition.status
	Signed            bool
}

// Inspect reads a Bundle made by Build with the default code table.
func Inspect(b *Bundle) (Summary, error) { return inspect(b, codes(defaultCodes)) }

// InspectWith reads a Bundle made by Build with the given code overrides
// (the same map as Options.Codes).
func InspectWith(b *Bundle, overrides map[string]string) (Summary, error) {
	c, err := resolveCodes(overrides)
	if err != nil {
		return Summary{}, err
	}
	return inspect(b, c)
}

func inspect(b *Bundle, c codes) (Summary, error) {
	var s Summary
	if b == nil {
		return s, errors.New("fhir: inspect: nil bundle")
	}
	if b.Type != models.BundleTypeDocument {
		return s, fmt.Errorf("fhir: inspect: bundle type %q, want document", b.Type.Code())
	}
	if b.Identifier == nil || !strings.HasPrefix(val(b.Identifier.Value), "urn:oid:") {
		return s, errors.New("fhir: inspect: bundle has no urn:oid: identifier")
	}
	s.DocumentID = strings.TrimPrefix(val(b.Identifier.Value), "urn:oid:")
	s.Signed = b.Signature != nil
	if len(b.Entry) == 0 {
		return s, errors.New("fhir: inspect: bundle has no entries")
	}
	comp, ok := b.Entry[0].Resource.(*Composition)
	if !ok {
		return s, errors.New("fhir: inspect: first entry is not a Composition")
	}
	byURL := make(map[string]Resource, len(b.Entry))
	for _, e := range b.Entry {
		byURL[val(e.FullUrl)] = e.Resource
	}

	s.Status = comp.Status.Code()
	if comp.Identifier != nil {
		s.SetID = strings.TrimPrefix(val(comp.Identifier.Value), "urn:oid:")
	}
	for _, x := range comp.Extension {
		if x.Url == c[CodeExtCompositionVersion] {
			v, err := strconv.Atoi(val(x.ValueString))
			if err != nil {
				return s, fmt.Errorf("fhir: inspect: version %q is not a number", val(x.ValueString))
			}
			s.Version = v
		}
	}
	for _, r := range comp.RelatesTo {
		if r.Code == models.DocumentRelationshipTypeReplaces && r.TargetIdentifier != nil {
			s.Replaces = strings.TrimPrefix(val(r.TargetIdentifier.Value), "urn:oid:")
		}
	}
	for _, cat := range comp.Category {
		for _, cd := range cat.Coding {
			switch val(cd.System) {
			case c[CodeHealthCategorySystem]:
				s.Archive = documents.ArchivePatient
			case c[CodeSocialCategorySystem]:
				s.Archive = documents.ArchiveSocial
			}
		}
	}
	if s.Archive == "" {
		return s, errors.New("fhir: inspect: Composition.category names no known register")
	}
	if comp.Meta != nil {
		for _, sec := range comp.Meta.Security {
			switch {
			case val(sec.System) == c[CodeConfidentialitySystem]:
				s.Confidentiality = val(sec.Code)
			case val(sec.System) == c[CodeConcealedSystem] && val(sec.Code) == c[CodeConcealed]:
				s.Concealed = true
			}
		}
	}

	if comp.Subject != nil {
		if p, ok := byURL[val(comp.Subject.Reference)].(*Patient); ok {
			for _, id := range p.Identifier {
				if val(id.System) == systemHetu {
					s.Hetu = val(id.Value)
				}
			}
		}
	}
	if len(comp.Author) > 0 {
		if r, ok := byURL[val(comp.Author[0].Reference)].(*PractitionerRole); ok {
			for _, cc := range r.Code {
				for _, cd := range cc.Coding {
					if val(cd.System) == c[CodeAuthorRoleSystem] {
						s.AuthorRole = documents.Role(val(cd.Code))
					}
				}
			}
		}
	}
	for _, e := range b.Entry {
		p, ok := e.Resource.(*Provenance)
		if !ok {
			continue
		}
		for _, x := range p.Extension {
			switch x.Url {
			case c[CodeExtReleaseDate]:
				d, err := documents.ParseDate(val(x.ValueDate))
				if err != nil {
					return s, fmt.Errorf("fhir: inspect: release date: %w", err)
				}
				s.ReleaseDate = d
			case c[CodeExtRestrictionParent]:
				if x.ValueCoding != nil {
					s.GuardianDisclosure = val(x.ValueCoding.Code)
				}
			}
		}
	}
	s.GuardianDisclosed = s.GuardianDisclosure == "" ||
		s.GuardianDisclosure == c[GuardianCodeName(documents.GuardianMinorNotCapable)] ||
		s.GuardianDisclosure == c[GuardianCodeName(documents.GuardianConsentGranted)]
	return s, nil
}

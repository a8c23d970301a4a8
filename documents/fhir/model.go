package fhir

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"

	models "github.com/samply/golang-fhir-models/fhir-models/fhir"
)

// The resource and datatype structs are samply's FHIR R4 models
// (github.com/samply/golang-fhir-models, the design card's choice). Kept by
// hand, each for a defect a test shows (model_test.go):
//
//   - Composition: samply's relatesTo holds target[x] as two values, so it
//     writes an empty targetReference beside targetIdentifier (two values of
//     one choice: invalid FHIR, and a signature that breaks on re-encoding).
//   - Bundle and BundleEntry: samply keeps entry.resource as raw JSON; the
//     gateway needs it decoded, strictly, by resourceType.
//
// What samply gets wrong on decoding (contained resources and primitive
// _element extensions it has no field for, unknown elements, both dropped
// silently by encoding/json; a missing required code read as the enum's
// first value) is closed by Unmarshal: unknown members are errors, and so
// is a missing element the types hold as a value (checkPresent, strict.go).
type (
	Meta            = models.Meta
	Coding          = models.Coding
	CodeableConcept = models.CodeableConcept
	Identifier      = models.Identifier
	Reference       = models.Reference
	Period          = models.Period
	HumanName       = models.HumanName
	Narrative       = models.Narrative
	Extension       = models.Extension
	Signature       = models.Signature

	CompositionSection = models.CompositionSection
	ProvenanceAgent    = models.ProvenanceAgent

	Patient          = models.Patient
	Practitioner     = models.Practitioner
	PractitionerRole = models.PractitionerRole
	Organization     = models.Organization
	Encounter        = models.Encounter
	Provenance       = models.Provenance
)

// Resource is any FHIR resource that can stand in Bundle.entry.resource:
// *Bundle, *Composition, a pointer to one of samply's resources above, or a
// *RawResource.
type Resource any

// Bundle is samply's Bundle with entries whose resources are decoded (samply
// keeps them as raw JSON). The gateway only makes type "document".
type Bundle struct {
	models.OtherBundle
	Entry []BundleEntry `json:"entry,omitempty"`
}

// BundleEntry is samply's BundleEntry with a decoded resource (see
// DecodeResource).
type BundleEntry struct {
	models.BundleEntry
	Resource Resource `json:"resource,omitempty"`
}

// Composition is samply's Composition with relatesTo by hand.
type Composition struct {
	models.OtherComposition
	RelatesTo []CompositionRelatesTo `json:"relatesTo,omitempty"`
}

// CompositionRelatesTo has target[x] as two optional pointers: exactly one
// is set (samply's has both as values, and writes both).
type CompositionRelatesTo struct {
	ID                *string                         `json:"id,omitempty"`
	Extension         []Extension                     `json:"extension,omitempty"`
	ModifierExtension []Extension                     `json:"modifierExtension,omitempty"`
	Code              models.DocumentRelationshipType `json:"code"`
	TargetIdentifier  *Identifier                     `json:"targetIdentifier,omitempty"`
	TargetReference   *Reference                      `json:"targetReference,omitempty"`
}

// RawResource is a resource of a type the package does not model. It is
// kept verbatim (compacted) so that a Bundle holding one still round-trips.
type RawResource struct {
	Type string
	JSON json.RawMessage
}

func (r *RawResource) ResourceType() string { return r.Type }

func (r *RawResource) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	if err := json.Compact(&buf, r.JSON); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Marshal encodes v as compact JSON without Go's HTML escaping, so that the
// narrative reads "<div" rather than "\u003cdiv" (samply's MarshalJSON
// methods escape). Use it (not json.Marshal) for everything that leaves
// the gateway.
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return unescapeHTML(bytes.TrimSuffix(buf.Bytes(), []byte("\n"))), nil
}

// unescapeHTML turns the \u003c, \u003e and \u0026 escapes back into <, >
// and &: the same JSON strings, as RFC 8785 and readers see them. A
// backslash escaping a backslash is copied with the character after it, so
// the text "\u003c" in a value (encoded "\\u003c") stays as it is.
func unescapeHTML(b []byte) []byte {
	if !bytes.Contains(b, []byte(`\u00`)) {
		return b
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '\\' || i+1 >= len(b) {
			out = append(out, c)
			continue
		}
		if b[i+1] == 'u' && i+5 < len(b) && string(b[i+2:i+4]) == "00" {
			switch string(b[i+4 : i+6]) {
			case "3c":
				out, i = append(out, '<'), i+5
				continue
			case "3e":
				out, i = append(out, '>'), i+5
				continue
			case "26":
				out, i = append(out, '&'), i+5
				continue
			}
		}
		out = append(out, c, b[i+1])
		i++
	}
	return out
}

// Unmarshal decodes a Bundle strictly: unknown elements are errors, and so
// is a value the types would invent or lose (checkPresent), so that nothing
// the types cannot carry (a contained resource, a primitive's _element, a
// missing code samply would read as its first value) gets past: what
// decodes re-encodes to the same canonical form.
func Unmarshal(raw []byte) (*Bundle, error) {
	parsed, err := ParseJSON(raw)
	if err != nil {
		return nil, err
	}
	return UnmarshalParsed(raw, parsed)
}

// UnmarshalParsed is Unmarshal for a receiver that has parsed raw already
// (ParseJSON): the structs are built from the parsed value (fromtree.go),
// and from raw only when the Bundle holds what is kept as raw JSON.
func UnmarshalParsed(raw []byte, parsed any) (*Bundle, error) {
	b, err := bundleFromTree(parsed)
	if errors.Is(err, errNeedsBytes) {
		return unmarshalBytes(raw, parsed)
	}
	return b, err
}

// unmarshalBytes decodes raw with encoding/json (unknown members refused)
// and checks the result beside the parsed value (checkPresent).
func unmarshalBytes(raw []byte, parsed any) (*Bundle, error) {
	var b Bundle
	if err := b.UnmarshalJSON(raw); err != nil {
		return nil, err
	}
	if err := checkPresent(reflect.ValueOf(&b), parsed, ""); err != nil {
		return nil, err
	}
	return &b, nil
}

// decodeStrict decodes one JSON value into v, refusing unknown fields and
// trailing data.
func decodeStrict(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after JSON value")
	}
	return nil
}

func checkResourceType(got, want string) error {
	if got != want {
		return fmt.Errorf("fhir: resourceType %q where %q was expected", got, want)
	}
	return nil
}

// withResourceType prepends "resourceType" to an encoded JSON object.
func withResourceType(rt string, body []byte, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(body)+len(rt)+20)
	out = append(out, `{"resourceType":"`...)
	out = append(out, rt...)
	out = append(out, '"')
	if len(body) > 2 {
		out = append(out, ',')
	}
	return append(out, body[1:]...), nil
}

// The MarshalJSON/UnmarshalJSON pairs below add and check resourceType; the
// local alias type drops the methods so the struct encodes field by field.

func (r Bundle) MarshalJSON() ([]byte, error) {
	type alias Bundle
	b, err := Marshal(alias(r))
	return withResourceType("Bundle", b, err)
}

func (r *Bundle) UnmarshalJSON(raw []byte) error {
	type alias Bundle
	v := struct {
		ResourceType string `json:"resourceType"`
		*alias
	}{alias: (*alias)(r)}
	if err := decodeStrict(raw, &v); err != nil {
		return fmt.Errorf("fhir: Bundle: %w", err)
	}
	return checkResourceType(v.ResourceType, "Bundle")
}

func (e BundleEntry) MarshalJSON() ([]byte, error) {
	type alias BundleEntry
	a := alias(e)
	if e.Resource != nil {
		raw, err := Marshal(e.Resource)
		if err != nil {
			return nil, err
		}
		a.Resource = json.RawMessage(resourceTypeFirst(raw))
	}
	return Marshal(a)
}

// resourceTypeFirst moves samply's trailing resourceType member to the
// front, where FHIR JSON puts it and readers look for it. Inside strings a
// quote is escaped, so the member's text can only be the object's own last
// member.
func resourceTypeFirst(b []byte) []byte {
	const member = `,"resourceType":"`
	i := bytes.LastIndex(b, []byte(member))
	if i < 0 || !bytes.HasSuffix(b, []byte(`"}`)) {
		return b
	}
	rt := b[i+len(member) : len(b)-2]
	if bytes.IndexByte(rt, '"') >= 0 || bytes.IndexByte(rt, '\\') >= 0 {
		return b
	}
	out := make([]byte, 0, len(b))
	out = append(out, `{"resourceType":"`...)
	out = append(out, rt...)
	out = append(out, `",`...)
	out = append(out, b[1:i]...)
	return append(out, '}')
}

func (e *BundleEntry) UnmarshalJSON(raw []byte) error {
	var v models.BundleEntry
	if err := decodeStrict(raw, &v); err != nil {
		return err
	}
	res := v.Resource
	v.Resource = nil
	e.BundleEntry, e.Resource = v, nil
	if len(res) == 0 || string(res) == "null" {
		return nil
	}
	r, err := DecodeResource(res)
	if err != nil {
		return err
	}
	e.Resource = r
	return nil
}

func (r Composition) MarshalJSON() ([]byte, error) {
	type alias Composition
	b, err := Marshal(alias(r))
	return withResourceType("Composition", b, err)
}

func (r *Composition) UnmarshalJSON(raw []byte) error {
	type alias Composition
	v := struct {
		ResourceType string `json:"resourceType"`
		*alias
	}{alias: (*alias)(r)}
	if err := decodeStrict(raw, &v); err != nil {
		return fmt.Errorf("fhir: Composition: %w", err)
	}
	return checkResourceType(v.ResourceType, "Composition")
}

// DecodeResource decodes one resource by its resourceType: a modelled type
// decodes strictly (unknown elements are errors) into its struct, any other
// into a RawResource.
func DecodeResource(raw []byte) (Resource, error) {
	var head struct {
		ResourceType string `json:"resourceType"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return nil, fmt.Errorf("fhir: resource: %w", err)
	}
	rt := head.ResourceType
	var r Resource
	var err error
	switch rt {
	case "":
		return nil, errors.New("fhir: resource without resourceType")
	case "Bundle":
		b := new(Bundle)
		r, err = b, b.UnmarshalJSON(raw)
	case "Composition":
		c := new(Composition)
		r, err = c, c.UnmarshalJSON(raw)
	case "Patient":
		var v struct {
			ResourceType string `json:"resourceType"`
			models.OtherPatient
		}
		err = decodeStrict(raw, &v)
		p := Patient(v.OtherPatient)
		r = &p
	case "Practitioner":
		var v struct {
			ResourceType string `json:"resourceType"`
			models.OtherPractitioner
		}
		err = decodeStrict(raw, &v)
		p := Practitioner(v.OtherPractitioner)
		r = &p
	case "PractitionerRole":
		var v struct {
			ResourceType string `json:"resourceType"`
			models.OtherPractitionerRole
		}
		err = decodeStrict(raw, &v)
		p := PractitionerRole(v.OtherPractitionerRole)
		r = &p
	case "Organization":
		var v struct {
			ResourceType string `json:"resourceType"`
			models.OtherOrganization
		}
		err = decodeStrict(raw, &v)
		o := Organization(v.OtherOrganization)
		r = &o
	case "Encounter":
		var v struct {
			ResourceType string `json:"resourceType"`
			models.OtherEncounter
		}
		err = decodeStrict(raw, &v)
		x := Encounter(v.OtherEncounter)
		r = &x
	case "Provenance":
		var v struct {
			ResourceType string `json:"resourceType"`
			models.OtherProvenance
		}
		err = decodeStrict(raw, &v)
		p := Provenance(v.OtherProvenance)
		r = &p
	default:
		return &RawResource{Type: rt, JSON: append(json.RawMessage(nil), raw...)}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("fhir: %s: %w", rt, err)
	}
	return r, nil
}

// str and opt make the optional strings of samply's types: str always
// points at s, opt is nil for "" (the element is then left out).
func str(s string) *string { return &s }

func opt(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// val reads an optional string ("" when absent).
func val(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

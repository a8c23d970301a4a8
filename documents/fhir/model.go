package fhir

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Resource is any FHIR resource that can stand in Bundle.entry.resource.
type Resource interface {
	ResourceType() string
}

// Meta is Resource.meta.
type Meta struct {
	VersionID   string   `json:"versionId,omitempty"`
	LastUpdated string   `json:"lastUpdated,omitempty"`
	Profile     []string `json:"profile,omitempty"`
	Security    []Coding `json:"security,omitempty"`
	Tag         []Coding `json:"tag,omitempty"`
}

type Coding struct {
	System  string `json:"system,omitempty"`
	Version string `json:"version,omitempty"`
	Code    string `json:"code,omitempty"`
	Display string `json:"display,omitempty"`
}

type CodeableConcept struct {
	Coding []Coding `json:"coding,omitempty"`
	Text   string   `json:"text,omitempty"`
}

type Identifier struct {
	Use      string           `json:"use,omitempty"`
	Type     *CodeableConcept `json:"type,omitempty"`
	System   string           `json:"system,omitempty"`
	Value    string           `json:"value,omitempty"`
	Period   *Period          `json:"period,omitempty"`
	Assigner *Reference       `json:"assigner,omitempty"`
}

type Reference struct {
	Reference  string      `json:"reference,omitempty"`
	Type       string      `json:"type,omitempty"`
	Identifier *Identifier `json:"identifier,omitempty"`
	Display    string      `json:"display,omitempty"`
}

// Period holds dateTimes (YYYY-MM-DDThh:mm:ss+zz:zz).
type Period struct {
	Start string `json:"start,omitempty"`
	End   string `json:"end,omitempty"`
}

type HumanName struct {
	Use    string   `json:"use,omitempty"`
	Text   string   `json:"text,omitempty"`
	Family string   `json:"family,omitempty"`
	Given  []string `json:"given,omitempty"`
}

// Narrative.div is an XHTML fragment rooted at <div xmlns="http://www.w3.org/1999/xhtml">.
type Narrative struct {
	Status string `json:"status,omitempty"`
	Div    string `json:"div,omitempty"`
}

// Extension carries exactly one value[x] (or nested extensions). Only the
// choice types the gateway uses are modelled; decoding any other is an error.
type Extension struct {
	URL                  string           `json:"url"`
	Extension            []Extension      `json:"extension,omitempty"`
	ValueBoolean         *bool            `json:"valueBoolean,omitempty"`
	ValueCode            string           `json:"valueCode,omitempty"`
	ValueDate            string           `json:"valueDate,omitempty"`
	ValueDateTime        string           `json:"valueDateTime,omitempty"`
	ValueInstant         string           `json:"valueInstant,omitempty"`
	ValueString          string           `json:"valueString,omitempty"`
	ValueURI             string           `json:"valueUri,omitempty"`
	ValueCoding          *Coding          `json:"valueCoding,omitempty"`
	ValueCodeableConcept *CodeableConcept `json:"valueCodeableConcept,omitempty"`
	ValueIdentifier      *Identifier      `json:"valueIdentifier,omitempty"`
	ValueReference       *Reference       `json:"valueReference,omitempty"`
}

// Signature is the FHIR Signature datatype (Bundle.signature).
type Signature struct {
	Type         []Coding   `json:"type,omitempty"`
	When         string     `json:"when,omitempty"`
	Who          *Reference `json:"who,omitempty"`
	OnBehalfOf   *Reference `json:"onBehalfOf,omitempty"`
	TargetFormat string     `json:"targetFormat,omitempty"`
	SigFormat    string     `json:"sigFormat,omitempty"`
	Data         string     `json:"data,omitempty"`
}

// Bundle is a FHIR Bundle; the gateway only makes type "document".
type Bundle struct {
	ID         string        `json:"id,omitempty"`
	Meta       *Meta         `json:"meta,omitempty"`
	Language   string        `json:"language,omitempty"`
	Identifier *Identifier   `json:"identifier,omitempty"`
	Type       string        `json:"type,omitempty"`
	Timestamp  string        `json:"timestamp,omitempty"`
	Entry      []BundleEntry `json:"entry,omitempty"`
	Signature  *Signature    `json:"signature,omitempty"`
}

// BundleEntry holds any resource; decoding picks the typed struct by
// resourceType (see DecodeResource).
type BundleEntry struct {
	FullURL  string   `json:"fullUrl,omitempty"`
	Resource Resource `json:"resource,omitempty"`
}

type Composition struct {
	ID              string                 `json:"id,omitempty"`
	Meta            *Meta                  `json:"meta,omitempty"`
	Language        string                 `json:"language,omitempty"`
	Text            *Narrative             `json:"text,omitempty"`
	Extension       []Extension            `json:"extension,omitempty"`
	Identifier      *Identifier            `json:"identifier,omitempty"`
	Status          string                 `json:"status,omitempty"`
	Type            *CodeableConcept       `json:"type,omitempty"`
	Category        []CodeableConcept      `json:"category,omitempty"`
	Subject         *Reference             `json:"subject,omitempty"`
	Encounter       *Reference             `json:"encounter,omitempty"`
	Date            string                 `json:"date,omitempty"`
	Author          []Reference            `json:"author,omitempty"`
	Title           string                 `json:"title,omitempty"`
	Confidentiality string                 `json:"confidentiality,omitempty"`
	Custodian       *Reference             `json:"custodian,omitempty"`
	RelatesTo       []CompositionRelatesTo `json:"relatesTo,omitempty"`
	Section         []CompositionSection   `json:"section,omitempty"`
}

type CompositionRelatesTo struct {
	Code             string      `json:"code,omitempty"`
	TargetIdentifier *Identifier `json:"targetIdentifier,omitempty"`
	TargetReference  *Reference  `json:"targetReference,omitempty"`
}

type CompositionSection struct {
	Title   string               `json:"title,omitempty"`
	Code    *CodeableConcept     `json:"code,omitempty"`
	Author  []Reference          `json:"author,omitempty"`
	Text    *Narrative           `json:"text,omitempty"`
	Section []CompositionSection `json:"section,omitempty"`
}

type Patient struct {
	ID         string       `json:"id,omitempty"`
	Meta       *Meta        `json:"meta,omitempty"`
	Extension  []Extension  `json:"extension,omitempty"`
	Identifier []Identifier `json:"identifier,omitempty"`
	Name       []HumanName  `json:"name,omitempty"`
	Gender     string       `json:"gender,omitempty"`
	BirthDate  string       `json:"birthDate,omitempty"`
}

type Practitioner struct {
	ID         string       `json:"id,omitempty"`
	Meta       *Meta        `json:"meta,omitempty"`
	Identifier []Identifier `json:"identifier,omitempty"`
	Name       []HumanName  `json:"name,omitempty"`
}

type PractitionerRole struct {
	ID           string            `json:"id,omitempty"`
	Meta         *Meta             `json:"meta,omitempty"`
	Practitioner *Reference        `json:"practitioner,omitempty"`
	Organization *Reference        `json:"organization,omitempty"`
	Code         []CodeableConcept `json:"code,omitempty"`
}

type Organization struct {
	ID         string       `json:"id,omitempty"`
	Meta       *Meta        `json:"meta,omitempty"`
	Identifier []Identifier `json:"identifier,omitempty"`
	Name       string       `json:"name,omitempty"`
	PartOf     *Reference   `json:"partOf,omitempty"`
}

type Encounter struct {
	ID              string       `json:"id,omitempty"`
	Meta            *Meta        `json:"meta,omitempty"`
	Identifier      []Identifier `json:"identifier,omitempty"`
	Status          string       `json:"status,omitempty"`
	Class           *Coding      `json:"class,omitempty"`
	Subject         *Reference   `json:"subject,omitempty"`
	Period          *Period      `json:"period,omitempty"`
	ServiceProvider *Reference   `json:"serviceProvider,omitempty"`
}

type Provenance struct {
	ID        string            `json:"id,omitempty"`
	Meta      *Meta             `json:"meta,omitempty"`
	Extension []Extension       `json:"extension,omitempty"`
	Target    []Reference       `json:"target,omitempty"`
	Recorded  string            `json:"recorded,omitempty"`
	Reason    []CodeableConcept `json:"reason,omitempty"`
	Activity  *CodeableConcept  `json:"activity,omitempty"`
	Agent     []ProvenanceAgent `json:"agent,omitempty"`
}

type ProvenanceAgent struct {
	Type       *CodeableConcept `json:"type,omitempty"`
	Who        *Reference       `json:"who,omitempty"`
	OnBehalfOf *Reference       `json:"onBehalfOf,omitempty"`
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

func (*Bundle) ResourceType() string           { return "Bundle" }
func (*Composition) ResourceType() string      { return "Composition" }
func (*Patient) ResourceType() string          { return "Patient" }
func (*Practitioner) ResourceType() string     { return "Practitioner" }
func (*PractitionerRole) ResourceType() string { return "PractitionerRole" }
func (*Organization) ResourceType() string     { return "Organization" }
func (*Encounter) ResourceType() string        { return "Encounter" }
func (*Provenance) ResourceType() string       { return "Provenance" }

// Marshal encodes v as compact JSON without Go's HTML escaping, so that the
// narrative reads "<div" rather than "\u003cdiv". Use it (not json.Marshal)
// for everything that leaves the gateway.
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Unmarshal decodes a Bundle strictly (unknown elements are errors).
func Unmarshal(raw []byte) (*Bundle, error) {
	var b Bundle
	if err := b.UnmarshalJSON(raw); err != nil {
		return nil, err
	}
	return &b, nil
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

func (e *BundleEntry) UnmarshalJSON(raw []byte) error {
	var v struct {
		FullURL  string          `json:"fullUrl"`
		Resource json.RawMessage `json:"resource"`
	}
	if err := decodeStrict(raw, &v); err != nil {
		return err
	}
	e.FullURL, e.Resource = v.FullURL, nil
	if len(v.Resource) == 0 || string(v.Resource) == "null" {
		return nil
	}
	r, err := DecodeResource(v.Resource)
	if err != nil {
		return err
	}
	e.Resource = r
	return nil
}

// DecodeResource decodes one resource by its resourceType: a modelled type
// decodes strictly into its struct, any other into a RawResource.
func DecodeResource(raw []byte) (Resource, error) {
	var head struct {
		ResourceType string `json:"resourceType"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return nil, fmt.Errorf("fhir: resource: %w", err)
	}
	var r Resource
	switch head.ResourceType {
	case "":
		return nil, errors.New("fhir: resource without resourceType")
	case "Bundle":
		r = new(Bundle)
	case "Composition":
		r = new(Composition)
	case "Patient":
		r = new(Patient)
	case "Practitioner":
		r = new(Practitioner)
	case "PractitionerRole":
		r = new(PractitionerRole)
	case "Organization":
		r = new(Organization)
	case "Encounter":
		r = new(Encounter)
	case "Provenance":
		r = new(Provenance)
	default:
		return &RawResource{Type: head.ResourceType, JSON: append(json.RawMessage(nil), raw...)}, nil
	}
	if err := json.Unmarshal(raw, r); err != nil {
		return nil, err
	}
	return r, nil
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

func (r Patient) MarshalJSON() ([]byte, error) {
	type alias Patient
	b, err := Marshal(alias(r))
	return withResourceType("Patient", b, err)
}

func (r *Patient) UnmarshalJSON(raw []byte) error {
	type alias Patient
	v := struct {
		ResourceType string `json:"resourceType"`
		*alias
	}{alias: (*alias)(r)}
	if err := decodeStrict(raw, &v); err != nil {
		return fmt.Errorf("fhir: Patient: %w", err)
	}
	return checkResourceType(v.ResourceType, "Patient")
}

func (r Practitioner) MarshalJSON() ([]byte, error) {
	type alias Practitioner
	b, err := Marshal(alias(r))
	return withResourceType("Practitioner", b, err)
}

func (r *Practitioner) UnmarshalJSON(raw []byte) error {
	type alias Practitioner
	v := struct {
		ResourceType string `json:"resourceType"`
		*alias
	}{alias: (*alias)(r)}
	if err := decodeStrict(raw, &v); err != nil {
		return fmt.Errorf("fhir: Practitioner: %w", err)
	}
	return checkResourceType(v.ResourceType, "Practitioner")
}

func (r PractitionerRole) MarshalJSON() ([]byte, error) {
	type alias PractitionerRole
	b, err := Marshal(alias(r))
	return withResourceType("PractitionerRole", b, err)
}

func (r *PractitionerRole) UnmarshalJSON(raw []byte) error {
	type alias PractitionerRole
	v := struct {
		ResourceType string `json:"resourceType"`
		*alias
	}{alias: (*alias)(r)}
	if err := decodeStrict(raw, &v); err != nil {
		return fmt.Errorf("fhir: PractitionerRole: %w", err)
	}
	return checkResourceType(v.ResourceType, "PractitionerRole")
}

func (r Organization) MarshalJSON() ([]byte, error) {
	type alias Organization
	b, err := Marshal(alias(r))
	return withResourceType("Organization", b, err)
}

func (r *Organization) UnmarshalJSON(raw []byte) error {
	type alias Organization
	v := struct {
		ResourceType string `json:"resourceType"`
		*alias
	}{alias: (*alias)(r)}
	if err := decodeStrict(raw, &v); err != nil {
		return fmt.Errorf("fhir: Organization: %w", err)
	}
	return checkResourceType(v.ResourceType, "Organization")
}

func (r Encounter) MarshalJSON() ([]byte, error) {
	type alias Encounter
	b, err := Marshal(alias(r))
	return withResourceType("Encounter", b, err)
}

func (r *Encounter) UnmarshalJSON(raw []byte) error {
	type alias Encounter
	v := struct {
		ResourceType string `json:"resourceType"`
		*alias
	}{alias: (*alias)(r)}
	if err := decodeStrict(raw, &v); err != nil {
		return fmt.Errorf("fhir: Encounter: %w", err)
	}
	return checkResourceType(v.ResourceType, "Encounter")
}

func (r Provenance) MarshalJSON() ([]byte, error) {
	type alias Provenance
	b, err := Marshal(alias(r))
	return withResourceType("Provenance", b, err)
}

func (r *Provenance) UnmarshalJSON(raw []byte) error {
	type alias Provenance
	v := struct {
		ResourceType string `json:"resourceType"`
		*alias
	}{alias: (*alias)(r)}
	if err := decodeStrict(raw, &v); err != nil {
		return fmt.Errorf("fhir: Provenance: %w", err)
	}
	return checkResourceType(v.ResourceType, "Provenance")
}

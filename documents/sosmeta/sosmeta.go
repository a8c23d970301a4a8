// Package sosmeta holds THL's Sosmeta structures of the social welfare
// documents the gateway archives (as JSON Schemas, embedded), validates
// structured content against them, and builds that content from Go values.
//
// A SHARK document carries its structured content as base64 JSON in
// hl7fi:json, and names the structure it follows in
// localSocialHeader/contentSpecificationId (kanta-domain.md 8.2; both real
// Apotti documents of Warc0ck/SH-Kanta-validator do so). Every content the
// gateway builds is validated here before the document is signed.
package sosmeta

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// Structure ids (contentSpecificationId) of the embedded schemas.
const (
	// ClientRelationship is the client-relationship document
	// (asiakkuusasiakirja): SP1, document group 1.
	ClientRelationship = "1.2.246.537.6.1505.1.2023.6.1"
	// MeetingOrContact is client record entry 19005 "Merkintä tapaamisesta
	// tai yhteydenotosta".
	MeetingOrContact = "1.2.246.537.6.1506.19005.2022.1.10"
	// GuidanceAndCounselling is client record entry 19003 "Merkintä
	// ohjauksesta ja neuvonnasta".
	GuidanceAndCounselling = "1.2.246.537.6.1506.19003.2022.1.10"
	// OtherClientRecordEntry is client record entry 19013 "Muu
	// asiakaskertomusmerkintä".
	OtherClientRecordEntry = "1.2.246.537.6.1506.19013.2022.1.10"
)

//go:embed schemas/*.json
var schemaFiles embed.FS

// IDs lists the structure ids Validate knows, sorted.
func IDs() []string {
	out := make([]string, 0, len(compiled))
	for id := range compiled {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// compiledSchema compiles one schema on first use; the big client
// relationship schema (~400 KB) is then never compiled by a process that
// only archives entries.
type compiledSchema struct {
	once   sync.Once
	schema *jsonschema.Schema
	err    error
}

var compiled = map[string]*compiledSchema{
	ClientRelationship:     {},
	MeetingOrContact:       {},
	GuidanceAndCounselling: {},
	OtherClientRecordEntry: {},
}

func schemaOf(id string) (*jsonschema.Schema, error) {
	c, ok := compiled[id]
	if !ok {
		return nil, fmt.Errorf("sosmeta: no schema for content specification %q", id)
	}
	c.once.Do(func() {
		raw, err := schemaFiles.ReadFile("schemas/" + id + ".json")
		if err != nil {
			c.err = fmt.Errorf("sosmeta: schema %s: %w", id, err)
			return
		}
		c.schema, c.err = compile(id, raw)
	})
	return c.schema, c.err
}

func compile(id string, raw []byte) (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("sosmeta: schema %s: %w", id, err)
	}
	comp := jsonschema.NewCompiler()
	comp.DefaultDraft(jsonschema.Draft7)
	url := "file:///sosmeta/" + id + ".json"
	if err := comp.AddResource(url, doc); err != nil {
		return nil, fmt.Errorf("sosmeta: schema %s: %w", id, err)
	}
	sch, err := comp.Compile(url)
	if err != nil {
		return nil, fmt.Errorf("sosmeta: schema %s: %w", id, err)
	}
	return sch, nil
}

// UseStricterSchemaForTesting makes Validate check content of id against
// raw (a JSON Schema) instead of the embedded one until restore is called.
// For tests of other packages: the adapter already enforces every
// constraint of the embedded schemas that the input reaches, so only a
// stricter schema makes an entry's content fail end to end. The gateway
// never calls it. Call it before validating goroutines start and restore
// after they end.
func UseStricterSchemaForTesting(id string, raw []byte) (restore func(), err error) {
	if _, err := schemaOf(id); err != nil {
		return nil, err
	}
	sch, err := compile(id, raw)
	if err != nil {
		return nil, err
	}
	c := compiled[id]
	old := c.schema
	c.schema = sch
	return func() { c.schema = old }, nil
}

// Error is a structured content that does not follow its schema. It names
// the JSON path of the first failing field and what is wrong with it, never
// the field's value (names, identity codes and entry text are personal data).
type Error struct {
	ContentSpecificationID string
	// Path is a JSON pointer into the content, e.g.
	// /merkinta_tapaamisesta_tai_yhteydenotosta/asiakas/0/etunimet.
	Path    string
	Problem string // e.g. "required field is missing", "does not match the pattern"
	// Others counts further failing fields, not reported one by one.
	Others int
}

func (e *Error) Error() string {
	s := fmt.Sprintf("sosmeta %s: %s: %s", e.ContentSpecificationID, e.Path, e.Problem)
	if e.Others > 0 {
		s += fmt.Sprintf(" (and %d more)", e.Others)
	}
	return s
}

// Validate checks structured content (JSON) against the Sosmeta schema of
// contentSpecificationID. A failure is an *Error naming the JSON path.
func Validate(contentSpecificationID string, structured []byte) error {
	sch, err := schemaOf(contentSpecificationID)
	if err != nil {
		return err
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(structured))
	if err != nil {
		return &Error{ContentSpecificationID: contentSpecificationID, Path: "/", Problem: "not valid JSON"}
	}
	err = sch.Validate(v)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return fmt.Errorf("sosmeta %s: %w", contentSpecificationID, err)
	}
	leaves := leavesOf(ve, nil)
	if len(leaves) == 0 {
		leaves = []*jsonschema.ValidationError{ve}
	}
	first := leaves[0]
	path, problem := describe(first)
	return &Error{ContentSpecificationID: contentSpecificationID, Path: path, Problem: problem, Others: len(leaves) - 1}
}

// leavesOf collects the innermost causes, depth first: the fields that fail.
func leavesOf(ve *jsonschema.ValidationError, out []*jsonschema.ValidationError) []*jsonschema.ValidationError {
	if len(ve.Causes) == 0 {
		if _, group := ve.ErrorKind.(*kind.Group); !group {
			out = append(out, ve)
		}
		return out
	}
	for _, c := range ve.Causes {
		out = leavesOf(c, out)
	}
	return out
}

// describe turns a leaf error into a path and a problem without the value.
func describe(ve *jsonschema.ValidationError) (string, string) {
	path := "/" + strings.Join(ve.InstanceLocation, "/")
	switch k := ve.ErrorKind.(type) {
	case *kind.Required:
		missing := append([]string{}, k.Missing...)
		sort.Strings(missing)
		if len(missing) == 1 {
			return strings.TrimSuffix(path, "/") + "/" + missing[0], "required field is missing"
		}
		return path, "required fields are missing: " + strings.Join(missing, ", ")
	case *kind.AdditionalProperties:
		props := append([]string{}, k.Properties...)
		sort.Strings(props)
		return strings.TrimSuffix(path, "/") + "/" + props[0], "field is not part of the structure"
	case *kind.Type:
		return path, fmt.Sprintf("is %s, want %s", k.Got, strings.Join(k.Want, " or "))
	case *kind.MinLength:
		return path, fmt.Sprintf("is shorter than %d characters", k.Want)
	case *kind.MaxLength:
		return path, fmt.Sprintf("is longer than %d characters", k.Want)
	case *kind.MinItems:
		return path, fmt.Sprintf("has fewer than %d items", k.Want)
	case *kind.MaxItems:
		return path, fmt.Sprintf("has more than %d items", k.Want)
	case *kind.Pattern:
		return path, "does not match the pattern " + k.Want
	case *kind.Enum:
		return path, "is not one of the allowed values"
	case *kind.Const:
		return path, "is not the required constant"
	case *kind.FalseSchema:
		return path, "is not allowed"
	}
	kp := ve.ErrorKind.KeywordPath()
	return path, "fails " + strings.Join(kp, "/")
}

// marshal encodes content deterministically (struct field order), without
// HTML escaping: "<" in a narrative stays "<".
func marshal(root string, content any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(map[string]any{root: content}); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

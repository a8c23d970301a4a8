package fhir

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	schemakind "github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/message"
)

// The HL7 FHIR R4 JSON Schema (draft-06; see schema/LICENSE.md).
//
//go:embed schema/fhir.schema.json
var fhirSchemaJSON []byte

const schemaURL = "http://hl7.org/fhir/json-schema/4.0/fhir.schema.json"

var (
	schemaOnce sync.Once
	schema     *jsonschema.Schema
	schemaErr  error
)

// compiledSchema compiles the 3 MB schema once per process, with every
// "one of all resource types" replaced by a dispatch on resourceType.
func compiledSchema() (*jsonschema.Schema, error) {
	schemaOnce.Do(func() { schema, schemaErr = compileSchema(true) })
	return schema, schemaErr
}

// PrepareSchema compiles the schema now rather than on the first
// validation: it takes seconds, and a server should pay that before it
// answers.
func PrepareSchema() error {
	_, err := compiledSchema()
	return err
}

// compileSchema compiles the R4 schema. With dispatch, the schema's two
// oneOf lists over all 146 resource types (the root and
// definitions/ResourceList, which Bundle.entry.resource, contained and
// Parameters use) become the schema's own discriminator (resourceType ->
// definition), checked by resourceDispatch: each resource is validated
// against its own definition only, instead of against all 146 (70% of the
// mock's time per Bundle went into those failing branches). What is checked
// does not change: every definition requires resourceType with a const of
// its own name and allows no other members, so exactly the branch named by
// resourceType can pass, and a non-object passes every branch (no "type" in
// any definition), which oneOf refuses; resourceDispatch refuses the same
// (TestDispatchRefusesWhatOneOfRefuses).
func compileSchema(dispatch bool) (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(fhirSchemaJSON))
	if err != nil {
		return nil, fmt.Errorf("fhir: schema: %w", err)
	}
	c := jsonschema.NewCompiler()
	if dispatch {
		if err := useDispatch(doc); err != nil {
			return nil, err
		}
		c.RegisterVocabulary(dispatchVocabulary())
	}
	if err := c.AddResource(schemaURL, doc); err != nil {
		return nil, fmt.Errorf("fhir: schema: %w", err)
	}
	sch, err := c.Compile(schemaURL)
	if err != nil {
		return nil, fmt.Errorf("fhir: schema: %w", err)
	}
	return sch, nil
}

// useDispatch rewrites the schema document in memory: the root's oneOf is
// dropped (its discriminator stays) and ResourceList becomes that
// discriminator. It checks that both lists are exactly the discriminator's
// mapping, so a different schema file cannot be silently narrowed.
func useDispatch(doc any) error {
	root, _ := doc.(map[string]any)
	disc, _ := root["discriminator"].(map[string]any)
	mapping, _ := disc["mapping"].(map[string]any)
	defs, _ := root["definitions"].(map[string]any)
	list, _ := defs["ResourceList"].(map[string]any)
	if disc["propertyName"] != "resourceType" || len(mapping) == 0 || list == nil {
		return errors.New("fhir: schema: no resourceType discriminator to dispatch on")
	}
	same := func(oneOf any) bool {
		refs, _ := oneOf.([]any)
		if len(refs) != len(mapping) {
			return false
		}
		seen := make(map[string]bool, len(refs))
		for _, r := range refs {
			ref, _ := r.(map[string]any)["$ref"].(string)
			seen[ref] = true
		}
		for _, ref := range mapping {
			if s, _ := ref.(string); !seen[s] {
				return false
			}
		}
		return true
	}
	if len(list) != 1 || !same(list["oneOf"]) || !same(root["oneOf"]) {
		return errors.New("fhir: schema: the resource lists are not the discriminator's mapping")
	}
	delete(root, "oneOf")
	defs["ResourceList"] = map[string]any{"discriminator": disc}
	return nil
}

const dispatchVocabularyURL = "https://github.com/helsinki-student-welfare/kanta-gateway/fhir/resource-dispatch"

func dispatchVocabulary() *jsonschema.Vocabulary {
	return &jsonschema.Vocabulary{URL: dispatchVocabularyURL, Compile: compileDispatch}
}

func compileDispatch(ctx *jsonschema.CompilerContext, obj map[string]any) (jsonschema.SchemaExt, error) {
	disc, ok := obj["discriminator"].(map[string]any)
	if !ok {
		return nil, nil
	}
	mapping, _ := disc["mapping"].(map[string]any)
	d := &resourceDispatch{byType: make(map[string]*jsonschema.Schema, len(mapping))}
	for rt, ref := range mapping {
		s, _ := ref.(string)
		sch, err := ctx.EnqueueRef(s)
		if err != nil {
			return nil, fmt.Errorf("fhir: schema: %s: %w", rt, err)
		}
		d.byType[rt] = sch
	}
	return d, nil
}

// resourceDispatch validates a resource against the definition its
// resourceType names.
type resourceDispatch struct {
	byType map[string]*jsonschema.Schema
}

func (d *resourceDispatch) Validate(ctx *jsonschema.ValidatorContext, v any) {
	obj, ok := v.(map[string]any)
	if !ok {
		ctx.AddError(&notAResource{})
		return
	}
	rt, _ := obj["resourceType"].(string)
	sch := d.byType[rt]
	if sch == nil {
		ctx.AddError(&notAResource{typeProblem: true})
		return
	}
	if err := ctx.Validate(sch, v, nil); err != nil {
		ctx.AddErr(err)
	}
}

// notAResource: a value where a resource must be is not an object, or has
// no resourceType or one the schema does not know.
type notAResource struct{ typeProblem bool }

func (k *notAResource) KeywordPath() []string {
	if k.typeProblem {
		return []string{"resourceType", "const"}
	}
	return []string{"type"}
}

func (k *notAResource) LocalizedString(*message.Printer) string {
	if k.typeProblem {
		return "no resourceType of a known resource"
	}
	return "a resource must be an object"
}

// SchemaError lists where a document breaks the FHIR R4 JSON Schema: JSON
// pointers and the failing keywords, never the values (they may hold
// identity codes or entry text).
type SchemaError struct {
	Problems []string // "/entry/1/resource/birthDate: pattern"
}

func (e *SchemaError) Error() string {
	const max = 5
	p := e.Problems
	more := ""
	if len(p) > max {
		more = fmt.Sprintf(" (and %d more)", len(p)-max)
		p = p[:max]
	}
	return "fhir: not valid FHIR R4 JSON: " + strings.Join(p, "; ") + more
}

// Validate checks raw JSON against the FHIR R4 JSON Schema. The schema
// checks structure, element names, cardinality of arrays, primitive
// patterns (dates, instants, ids) and required elements; it does not check
// FHIRPath invariants or profiles.
func Validate(raw []byte) error {
	sch, err := compiledSchema()
	if err != nil {
		return err
	}
	return validateWith(sch, raw)
}

// ParseJSON parses one JSON value (numbers as json.Number) for
// ValidateParsed, VerifyParsed and a receiver's own scans, so that a
// receiver parses a Bundle once rather than once per check.
func ParseJSON(raw []byte) (any, error) {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("fhir: not JSON: %w", err)
	}
	return v, nil
}

// ValidateParsed is Validate for a value from ParseJSON.
func ValidateParsed(v any) error {
	sch, err := compiledSchema()
	if err != nil {
		return err
	}
	return validateValue(sch, v)
}

func validateWith(sch *jsonschema.Schema, raw []byte) error {
	inst, err := ParseJSON(raw)
	if err != nil {
		return err
	}
	return validateValue(sch, inst)
}

func validateValue(sch *jsonschema.Schema, inst any) error {
	err := sch.Validate(inst)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return fmt.Errorf("fhir: schema validation: %w", err)
	}
	seen := map[string]bool{}
	collectProblems(ve, seen)
	if len(seen) == 0 {
		// Only resourceType mismatches: an unknown or missing resourceType.
		seen["/resourceType: const"] = true
	}
	problems := make([]string, 0, len(seen))
	for p := range seen {
		problems = append(problems, p)
	}
	sort.Strings(problems)
	return &SchemaError{Problems: problems}
}

// collectProblems gathers the leaf errors. The schema tries every resource
// type (oneOf); a branch whose resourceType does not match is noise and is
// dropped, so what remains is the failure inside the intended type.
func collectProblems(ve *jsonschema.ValidationError, out map[string]bool) {
	if len(ve.Causes) == 0 {
		loc := "/" + strings.Join(ve.InstanceLocation, "/")
		if k, ok := ve.ErrorKind.(*notAResource); ok && k.typeProblem {
			// As the full schema's oneOf reads: the resourceType's const.
			out[strings.TrimSuffix(loc, "/")+"/resourceType: const"] = true
			return
		}
		out[loc+": "+strings.Join(ve.ErrorKind.KeywordPath(), "/")] = true
		return
	}
	causes := ve.Causes
	if _, isOneOf := ve.ErrorKind.(*schemakind.OneOf); isOneOf {
		base := strings.Join(ve.InstanceLocation, "/")
		var kept []*jsonschema.ValidationError
		for _, c := range causes {
			if !typeMismatch(c, base) {
				kept = append(kept, c)
			}
		}
		causes = kept
	}
	for _, c := range causes {
		collectProblems(c, out)
	}
}

// typeMismatch reports whether a branch failed on the resourceType of the
// object at base.
func typeMismatch(ve *jsonschema.ValidationError, base string) bool {
	if _, isConst := ve.ErrorKind.(*schemakind.Const); isConst {
		loc := strings.Join(ve.InstanceLocation, "/")
		if loc == strings.TrimPrefix(base+"/resourceType", "/") {
			return true
		}
	}
	for _, c := range ve.Causes {
		if typeMismatch(c, base) {
			return true
		}
	}
	return false
}

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

// compiledSchema compiles the 3 MB schema once per process.
func compiledSchema() (*jsonschema.Schema, error) {
	schemaOnce.Do(func() {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(fhirSchemaJSON))
		if err != nil {
			schemaErr = fmt.Errorf("fhir: schema: %w", err)
			return
		}
		c := jsonschema.NewCompiler()
		if err := c.AddResource(schemaURL, doc); err != nil {
			schemaErr = fmt.Errorf("fhir: schema: %w", err)
			return
		}
		schema, schemaErr = c.Compile(schemaURL)
		if schemaErr != nil {
			schemaErr = fmt.Errorf("fhir: schema: %w", schemaErr)
		}
	})
	return schema, schemaErr
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
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("fhir: not JSON: %w", err)
	}
	err = sch.Validate(inst)
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
		out["/"+strings.Join(ve.InstanceLocation, "/")+": "+strings.Join(ve.ErrorKind.KeywordPath(), "/")] = true
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

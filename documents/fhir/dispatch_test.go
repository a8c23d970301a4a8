package fhir

import (
	"bytes"
	"errors"
	"reflect"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
)

var (
	fullSchemaOnce sync.Once
	fullSchema     *jsonschema.Schema
)

// validateFull validates against the schema as published: oneOf over every
// resource type.
func validateFull(t testing.TB, raw []byte) error {
	t.Helper()
	fullSchemaOnce.Do(func() {
		var err error
		if fullSchema, err = compileSchema(false); err != nil {
			t.Fatal(err)
		}
	})
	return validateWith(fullSchema, raw)
}

// The dispatch on resourceType checks what the published schema's oneOf
// checks: on good Bundles of every kind both accept, on bad ones (broken
// values deep in a resource, unknown, missing or wrong resourceTypes, a
// non-object where a resource goes, bad contained resources) both refuse,
// naming the same places.
func TestDispatchRefusesWhatOneOfRefuses(t *testing.T) {
	e := entry(documents.RolePsychologist, "2016-05-05")
	e.MyKanta = documents.MyKanta{Display: documents.DisplayDelayed, ReleaseDate: documents.MustDate("2027-01-15"), ReasonCode: "2"}
	b, raw := build(t, e, decide(t, e, nil))
	sign(t, b)
	signed := mustMarshal(t, b)
	hetu := e.Client.Hetu

	good := map[string][]byte{"unsigned": raw, "signed": signed}
	// A few kinds, not all: the published schema takes ~0.1 s a Bundle.
	kinds := bundleKinds(t)
	for _, name := range []string{"new welfare officer", "amendment", "invalidation", "mykanta concealed", "minor consent refused"} {
		good[name] = kinds[name].raw
	}
	good["valid contained resource"] = bytes.Replace(raw, []byte(`"resourceType":"Patient",`),
		[]byte(`"resourceType":"Patient","contained":[{"resourceType":"Organization","id":"x","name":"Koulu"}],`), 1)
	good["foreign resource type"] = bytes.Replace(raw, []byte(`"entry":[`),
		[]byte(`"entry":[{"fullUrl":"urn:uuid:00000000-0000-5000-8000-000000000001","resource":{"resourceType":"Observation","status":"final","code":{"text":"x"}}},`), 1)
	for name, g := range good {
		if bytes.Equal(g, raw) && name != "unsigned" {
			t.Fatalf("%s: the edit did not apply", name)
		}
		if err := Validate(g); err != nil {
			t.Errorf("%s: fast path refuses a valid Bundle: %v", name, err)
		}
		if err := validateFull(t, g); err != nil {
			t.Errorf("%s: full schema refuses it: %v", name, err)
		}
	}

	edits := []struct{ name, old, new string }{
		{"impossible birth date", `"birthDate":"2016-05-05"`, `"birthDate":"2016-13-05"`},
		{"date-time as date", `"valueDate":"2027-01-15"`, `"valueDate":"2027-01-15T00:00:00Z"`},
		{"misspelt choice type", `"valueDate":`, `"valueDat":`},
		{"unknown bundle type", `"type":"document"`, `"type":"documentx"`},
		{"form feed in identifier", `"value":"` + hetu + `"`, `"value":"` + hetu + `\f"`},
		{"unknown resourceType in an entry", `"resourceType":"Patient"`, `"resourceType":"Patientti"`},
		{"resourceType of another resource", `"resourceType":"Patient"`, `"resourceType":"Organization"`},
		{"lower-case resourceType", `"resourceType":"Patient"`, `"resourceType":"patient"`},
		{"resourceType not a string", `"resourceType":"Patient"`, `"resourceType":7`},
		{"no resourceType in an entry", `"resourceType":"Patient",`, ``},
		{"resource is a string", `"resource":{"resourceType":"Patient",`, `"resource":"Patient","x":{"resourceType":"Patient",`},
		{"unknown element in the Composition", `"resourceType":"Composition",`, `"resourceType":"Composition","colour":"red",`},
		{"bad contained resource", `"resourceType":"Patient",`, `"resourceType":"Patient","contained":[{"resourceType":"Organization","id":"x","name":7}],`},
		{"contained unknown type", `"resourceType":"Patient",`, `"resourceType":"Patient","contained":[{"resourceType":"Nope"}],`},
		{"contained non-object", `"resourceType":"Patient",`, `"resourceType":"Patient","contained":[[]],`},
		{"root not a Bundle type", `"resourceType":"Bundle"`, `"resourceType":"Bundles"`},
		{"code with a trailing space", `"status":"finished"`, `"status":"finished "`},
		{"empty entry list", `"entry":[`, `"entry":[],"x":[`},
	}
	for _, tc := range edits {
		t.Run(tc.name, func(t *testing.T) {
			bad := bytes.Replace(signed, []byte(tc.old), []byte(tc.new), 1)
			if bytes.Equal(bad, signed) {
				t.Fatal("test did not change the JSON")
			}
			fast, full := Validate(bad), validateFull(t, bad)
			if fast == nil || full == nil {
				t.Fatalf("fast: %v; full: %v", fast, full)
			}
			var fe, ue *SchemaError
			if !errors.As(fast, &fe) || !errors.As(full, &ue) {
				t.Fatalf("not schema errors: %v / %v", fast, full)
			}
			if len(fe.Problems) == 0 {
				t.Fatal("the fast path names no problem")
			}
			// Where a resourceType is wrong the fast path names the
			// resource, the full schema only "/resourceType: const".
			if !reflect.DeepEqual(fe.Problems, ue.Problems) {
				t.Logf("problems: fast %v, full %v", fe.Problems, ue.Problems)
			}
		})
	}
	for _, doc := range []string{`[]`, `"Bundle"`, `{}`, `{"resourceType":"NoSuchThing"}`, `{"resourceType":"Patient","birthDate":"x"}`} {
		if Validate([]byte(doc)) == nil || validateFull(t, []byte(doc)) == nil {
			t.Errorf("%s accepted", doc)
		}
	}
}

// BenchmarkValidate compares the dispatch with the published oneOf on one
// signed 13 KB Bundle.
//
//	go test -run '^$' -bench BenchmarkValidate -cpu 1 ./documents/fhir/
func BenchmarkValidate(b *testing.B) {
	e := entry(documents.RolePsychologist, "2016-05-05")
	e.Text.Narrative = string(bytes.Repeat([]byte("Oppilaan kanssa keskusteltiin koulunkäynnistä ja jaksamisesta. "), 66)[:4096])
	bu, _ := build(b, e, decide(b, e, nil))
	sign(b, bu)
	raw := mustMarshal(b, bu)
	b.Run("dispatch", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if err := Validate(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("oneOf", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if err := validateFull(b, raw); err != nil {
				b.Fatal(err)
			}
		}
	})
}

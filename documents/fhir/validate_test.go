package fhir

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	models "github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
)

func TestValidateRejectsInvalidFHIR(t *testing.T) {
	e := entry(documents.RolePsychologist, "2016-05-05")
	e.MyKanta = documents.MyKanta{Display: documents.DisplayDelayed, ReleaseDate: documents.MustDate("2027-01-15"), ReasonCode: "2"}
	_, raw := build(t, e, decide(t, e, nil))
	hetu := e.Client.Hetu

	cases := []struct {
		name, old, new string
		wantAt         string // JSON pointer named in the error
	}{
		{"impossible birth date", `"birthDate":"2016-05-05"`, `"birthDate":"2016-13-05"`, "/entry/1/resource/birthDate"},
		{"date-time as date", `"valueDate":"2027-01-15"`, `"valueDate":"2027-01-15T00:00:00Z"`, "/entry/7/resource/extension/0/valueDate"},
		{"misspelt choice type", `"valueDate":`, `"valueDat":`, "/entry/7/resource/extension/0"},
		{"unknown bundle type", `"type":"document"`, `"type":"documentx"`, "/type"},
		{"instant without zone", `"timestamp":"2026-11-20T10:15:00+02:00"`, `"timestamp":"2026-11-20T10:15:00"`, "/timestamp"},
		{"form feed in identifier", `"value":"` + hetu + `"`, `"value":"` + hetu + `\f"`, "/entry/1/resource/identifier/0/value"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bad := bytes.Replace(raw, []byte(tc.old), []byte(tc.new), 1)
			if bytes.Equal(bad, raw) {
				t.Fatal("test did not change the JSON")
			}
			err := Validate(bad)
			var se *SchemaError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v, want SchemaError", err)
			}
			if !strings.Contains(err.Error(), tc.wantAt) {
				t.Errorf("error %q does not point at %s", err, tc.wantAt)
			}
			if strings.Contains(err.Error(), hetu) || strings.Contains(err.Error(), "Oppilas") {
				t.Errorf("error leaks personal data: %v", err)
			}
		})
	}
	if err := Validate([]byte(`{"resourceType":"NoSuchThing"}`)); err == nil {
		t.Error("unknown resource type accepted")
	}
	if err := Validate([]byte(`{`)); err == nil {
		t.Error("broken JSON accepted")
	}
}

func TestDecodeStrictAndRaw(t *testing.T) {
	e := entry(documents.RolePsychologist, "2016-05-05")
	_, raw := build(t, e, decide(t, e, nil))

	// An element the structs do not model is an error, not silently lost.
	unknown := bytes.Replace(raw, []byte(`"gender":"male",`), []byte(`"gender":"male","colour":"red",`), 1)
	if bytes.Equal(unknown, raw) {
		t.Fatal("edit did not apply")
	}
	if _, err := Unmarshal(unknown); err == nil {
		t.Error("unknown Patient element decoded")
	}
	wrongType := bytes.Replace(raw, []byte(`"resourceType":"Bundle"`), []byte(`"resourceType":"Patient"`), 1)
	if _, err := Unmarshal(wrongType); err == nil {
		t.Error("a Patient decoded as a Bundle")
	}
	// A resource type the package does not model is kept verbatim.
	obs := `{"fullUrl":"urn:uuid:00000000-0000-5000-8000-000000000001","resource":{"resourceType":"Observation","status":"final","code":{"text":"x"}}}`
	withObs := bytes.Replace(raw, []byte(`"entry":[`), []byte(`"entry":[`+obs+`,`), 1)
	checkBundleJSON(t, withObs)
	b, err := Unmarshal(withObs)
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := b.Entry[0].Resource.(*RawResource); !ok || r.ResourceType() != "Observation" {
		t.Errorf("entry 0 = %T", b.Entry[0].Resource)
	}
}

func TestInspectRefusesForeignBundles(t *testing.T) {
	e := entry(documents.RolePsychologist, "2016-05-05")
	b, _ := build(t, e, decide(t, e, nil))

	notDoc := *b
	notDoc.Type = models.BundleTypeCollection
	noComp := *b
	noComp.Entry = b.Entry[1:]
	noID := *b
	noID.Identifier = nil
	for name, x := range map[string]*Bundle{"not a document": &notDoc, "no composition first": &noComp, "no identifier": &noID, "nil": nil} {
		if _, err := Inspect(x); err == nil {
			t.Errorf("%s: Inspect accepted it", name)
		}
	}
	if _, err := InspectWith(b, map[string]string{"fhir.nope": "1"}); err == nil {
		t.Error("InspectWith accepted an unknown code name")
	}
}

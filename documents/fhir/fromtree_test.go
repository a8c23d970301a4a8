package fhir

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	models "github.com/samply/golang-fhir-models/fhir-models/fhir"
)

// Building the structs from the parsed tree refuses what decoding the bytes
// (encoding/json, unknown members refused, then checkPresent) refuses, and
// what both accept comes out the same. The two differences are pinned:
// member names match exactly, and a code's JSON escapes are read as JSON
// (samply's enums read the raw literal).
func TestTreeDecodingRefusesWhatBytesRefuse(t *testing.T) {
	kinds := bundleKinds(t)
	for name, k := range kinds {
		t.Run(name, func(t *testing.T) {
			fromTree, fromBytes := decodeBoth(t, k.raw)
			if fromTree.err != nil || fromBytes.err != nil {
				t.Fatalf("refused: tree %v, bytes %v", fromTree.err, fromBytes.err)
			}
			sameBundle(t, fromTree.b, fromBytes.b)
		})
	}

	raw := kinds["amendment"].raw
	type verdict int
	const (
		bothRefuse verdict = iota
		bothAccept
		onlyTreeRefuses
		onlyTreeAccepts
	)
	cases := []struct {
		name     string
		old, new string
		want     verdict
	}{
		{"contained resource", `"resourceType":"Patient",`, `"resourceType":"Patient","contained":[{"resourceType":"Organization","id":"x"}],`, bothRefuse},
		{"primitive extension", `"birthDate":"2016-05-05"`, `"birthDate":"2016-05-05","_birthDate":{"extension":[{"url":"https://example.org/x","valueString":"y"}]}`, bothRefuse},
		{"unknown element", `"resourceType":"Encounter",`, `"resourceType":"Encounter","colour":"red",`, bothRefuse},
		{"unknown element of a datatype", `"system":"urn:oid:1.2.246.21",`, `"system":"urn:oid:1.2.246.21","colour":"red",`, bothRefuse},
		{"resourceType in a datatype", `"system":"urn:oid:1.2.246.21",`, `"resourceType":"Identifier","system":"urn:oid:1.2.246.21",`, bothRefuse},
		{"missing Composition.status", `"status":"amended",`, ``, bothRefuse},
		{"missing Bundle.type", `"type":"document",`, ``, bothRefuse},
		{"missing relatesTo.code", `"code":"replaces",`, ``, bothRefuse},
		{"missing Encounter.status", `"status":"finished",`, ``, bothRefuse},
		{"missing narrative status", `"status":"additional",`, ``, bothRefuse},
		{"null required code", `"status":"amended",`, `"status":null,`, bothRefuse},
		{"unknown code", `"status":"amended",`, `"status":"amendedx",`, bothRefuse},
		{"code with a quote", `"status":"amended",`, `"status":"amended\"",`, bothRefuse},
		{"code as a number", `"gender":"male"`, `"gender":1`, bothRefuse},
		{"Bundle as a Patient", `"resourceType":"Bundle"`, `"resourceType":"Patient"`, bothRefuse},
		{"Bundle without resourceType", `"resourceType":"Bundle",`, ``, bothRefuse},
		{"resource without resourceType", `"resourceType":"Patient",`, ``, bothRefuse},
		{"resourceType a number", `"resourceType":"Patient"`, `"resourceType":5`, bothRefuse},
		{"Patient as a Composition", `"resourceType":"Patient"`, `"resourceType":"Composition"`, bothRefuse},
		{"number for a string", `"birthDate":"2016-05-05"`, `"birthDate":20160505`, bothRefuse},
		{"boolean for a code", `"gender":"male"`, `"gender":true`, bothRefuse},
		{"array for a string", `"language":"fi"`, `"language":["fi"]`, bothRefuse},
		{"object for an array", `"given":["Testi","Tapani"]`, `"given":{"a":"Testi"}`, bothRefuse},
		{"string for an object", `"subject":{`, `"subject":"x","x":{`, bothRefuse},
		{"empty array", `"given":["Testi","Tapani"]`, `"given":[]`, bothRefuse},
		{"null array", `"given":["Testi","Tapani"]`, `"given":null`, bothRefuse},
		{"fraction for an integer", `"valueString":"2"`, `"valueString":"2","valueInteger":2.5`, bothRefuse},
		{"resource not an object", `"resource":{"resourceType":"Patient",`, `"resource":["x"],"x":{"resourceType":"Patient",`, bothRefuse},
		{"null optional string", `"birthDate":"2016-05-05"`, `"birthDate":null`, bothAccept},
		{"integer", `"valueString":"2"`, `"valueString":"2","valueInteger":2`, bothAccept},
		{"decimal", `"valueString":"2"`, `"valueString":"2","valueDecimal":2.50`, bothAccept},
		{"name in another case", `"gender":"male"`, `"Gender":"male"`, onlyTreeRefuses},
		{"escaped code", `"gender":"male"`, `"gender":"m\u0061le"`, onlyTreeAccepts},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bad := bytes.Replace(raw, []byte(tc.old), []byte(tc.new), 1)
			if bytes.Equal(bad, raw) {
				t.Fatal("edit did not apply")
			}
			fromTree, fromBytes := decodeBoth(t, bad)
			got := map[[2]bool]verdict{
				{true, true}: bothRefuse, {false, false}: bothAccept,
				{true, false}: onlyTreeRefuses, {false, true}: onlyTreeAccepts,
			}[[2]bool{fromTree.err != nil, fromBytes.err != nil}]
			if got != tc.want {
				t.Fatalf("verdict %d, want %d (tree: %v; bytes: %v)", got, tc.want, fromTree.err, fromBytes.err)
			}
			if got == bothAccept {
				sameBundle(t, fromTree.b, fromBytes.b)
			}
			if fromTree.err != nil {
				var te *treeError
				if !errors.As(fromTree.err, &te) {
					t.Errorf("tree refusal is %T: %v", fromTree.err, fromTree.err)
				}
			}
		})
	}

	// The escaped code reads as the code it spells.
	esc := bytes.Replace(raw, []byte(`"gender":"male"`), []byte(`"gender":"m\u0061le"`), 1)
	b, err := Unmarshal(esc)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range b.Entry {
		if p, ok := e.Resource.(*Patient); ok && (p.Gender == nil || *p.Gender != models.AdministrativeGenderMale) {
			t.Errorf("gender %v", p.Gender)
		}
	}
}

// A resource the package does not model is kept verbatim, so UnmarshalParsed
// takes the byte path for it; the rest of the Bundle decodes the same.
func TestTreeDecodingFallsBackForRawResources(t *testing.T) {
	raw := bundleKinds(t)["amendment"].raw
	obs := `{"fullUrl":"urn:uuid:00000000-0000-5000-8000-000000000001","resource":{"resourceType":"Observation","status":"final","code":{"text":"x"}}}`
	withObs := bytes.Replace(raw, []byte(`"entry":[`), []byte(`"entry":[`+obs+`,`), 1)
	parsed, err := ParseJSON(withObs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bundleFromTree(parsed); !errors.Is(err, errNeedsBytes) {
		t.Fatalf("tree: %v, want errNeedsBytes", err)
	}
	b, err := UnmarshalParsed(withObs, parsed)
	if err != nil {
		t.Fatal(err)
	}
	r, ok := b.Entry[0].Resource.(*RawResource)
	if !ok || r.ResourceType() != "Observation" || !bytes.Contains(r.JSON, []byte(`"status":"final"`)) {
		t.Fatalf("entry 0 = %#v", b.Entry[0].Resource)
	}
	bad := bytes.Replace(withObs, []byte(`"resourceType":"Encounter",`), []byte(`"resourceType":"Encounter","colour":"red",`), 1)
	if _, err := Unmarshal(bad); err == nil {
		t.Error("the byte path took an unknown element")
	}
}

type decoded struct {
	b   *Bundle
	err error
}

func decodeBoth(t *testing.T, raw []byte) (fromTree, fromBytes decoded) {
	t.Helper()
	parsed, err := ParseJSON(raw)
	if err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	fromTree.b, fromTree.err = bundleFromTree(parsed)
	if errors.Is(fromTree.err, errNeedsBytes) {
		t.Fatal("tree decoding fell back to the bytes")
	}
	fromBytes.b, fromBytes.err = unmarshalBytes(raw, parsed)
	return fromTree, fromBytes
}

func sameBundle(t *testing.T, a, b *Bundle) {
	t.Helper()
	if !reflect.DeepEqual(a, b) {
		t.Errorf("the structs differ:\n%+v\n%+v", a, b)
	}
	if ja, jb := mustMarshal(t, a), mustMarshal(t, b); !bytes.Equal(ja, jb) {
		t.Errorf("they encode differently:\n%s\n%s", ja, jb)
	}
}

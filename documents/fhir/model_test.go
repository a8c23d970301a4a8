package fhir

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	models "github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
)

// Where samply's models are wrong, and what the package does about each.

// samply's Composition.relatesTo holds target[x] as two values and writes
// both: an empty targetReference beside targetIdentifier. Ours writes one.
func TestSamplyRelatesToWritesBothTargets(t *testing.T) {
	target := identifier(systemURI, "urn:oid:1.2.246.10.2012566.1")
	theirs := models.Composition{RelatesTo: []models.CompositionRelatesTo{{
		Code: models.DocumentRelationshipTypeReplaces, TargetIdentifier: *target,
	}}}
	raw, err := json.Marshal(theirs)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"targetReference":{}`) || !strings.Contains(string(raw), `"targetIdentifier"`) {
		t.Fatalf("samply's relatesTo no longer writes both targets (the hand-written type may go): %s", raw)
	}
	ours := Composition{RelatesTo: []CompositionRelatesTo{{Code: models.DocumentRelationshipTypeReplaces, TargetIdentifier: target}}}
	raw, err = Marshal(ours)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), "targetReference") || !strings.Contains(string(raw), `"targetIdentifier"`) {
		t.Errorf("ours: %s", raw)
	}
}

// samply's types have no field for contained resources or for primitive
// _element extensions, and encoding/json drops them and unknown elements
// without a word; a missing required code decodes as the enum's first value
// (Composition.status "preliminary", Bundle.type "document",
// relatesTo.code "replaces"). Each is refused by Unmarshal.
func TestSamplyDecodingDefectsAreRefused(t *testing.T) {
	e := entry(documents.RolePsychologist, "2016-05-05")
	e.Revision, e.Status, e.Amends = 2, documents.StatusAmended, &documents.Amends{Revision: 1}
	_, raw := build(t, e, decide(t, e, history{e.ID: 1}))
	parsed, err := ParseJSON(raw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := UnmarshalParsed(raw, parsed); err != nil {
		t.Fatalf("UnmarshalParsed refuses a good Bundle: %v", err)
	}

	// What samply does by itself.
	p, err := models.UnmarshalPatient([]byte(`{"resourceType":"Patient","birthDate":"2016-05-05","_birthDate":{"extension":[{"url":"x","valueString":"y"}]},"contained":[{"resourceType":"Organization"}],"colour":"red"}`))
	if err != nil || p.BirthDate == nil {
		t.Fatalf("samply: %v", err)
	}
	if again, _ := json.Marshal(p); strings.Contains(string(again), "_birthDate") || strings.Contains(string(again), "contained") || strings.Contains(string(again), "colour") {
		t.Fatalf("samply now keeps what it dropped: %s", again)
	}
	c, err := models.UnmarshalComposition([]byte(`{"resourceType":"Composition","type":{},"author":[],"date":"2026","title":"x"}`))
	if err != nil || c.Status != models.CompositionStatusPreliminary {
		t.Fatalf("samply: a missing status read as %v, %v", c.Status, err)
	}

	cases := []struct{ name, old, new string }{
		{"contained resource", `"resourceType":"Patient",`, `"resourceType":"Patient","contained":[{"resourceType":"Organization","id":"x"}],`},
		{"primitive extension", `"birthDate":"2016-05-05"`, `"birthDate":"2016-05-05","_birthDate":{"extension":[{"url":"https://example.org/x","valueString":"y"}]}`},
		{"unknown element", `"resourceType":"Encounter",`, `"resourceType":"Encounter","colour":"red",`},
		{"missing Composition.status", `"status":"amended",`, ``},
		{"missing Bundle.type", `"type":"document",`, ``},
		{"missing relatesTo.code", `"code":"replaces",`, ``},
		{"missing Encounter.status", `"status":"finished",`, ``},
		{"missing narrative status", `"status":"additional",`, ``},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bad := bytes.Replace(raw, []byte(tc.old), []byte(tc.new), 1)
			if bytes.Equal(bad, raw) {
				t.Fatal("edit did not apply")
			}
			if _, err := Unmarshal(bad); err == nil {
				t.Errorf("decoded: %s", bad)
			}
			parsed, err := ParseJSON(bad)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := UnmarshalParsed(bad, parsed); err == nil {
				t.Error("UnmarshalParsed decoded it")
			}
		})
	}
}

package fhir

import (
	"testing"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/documents/cda"
)

// The FHIR route codes the guardian basis as the CDA route does: same names,
// same defaults, same display names, so that the mock's guardian views are
// equal between the routes.
func TestGuardianCodesAreTheCDARoutes(t *testing.T) {
	table, err := cda.Codes(cda.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]cda.Code{}
	for _, r := range table {
		rows[r.Name] = r.Code
	}
	for _, g := range documents.GuardianBases() {
		name := GuardianCodeName(g)
		if name != cda.GuardianCodeName(g) {
			t.Fatalf("names differ: %s %s", name, cda.GuardianCodeName(g))
		}
		row, ok := rows[name]
		if !ok {
			t.Fatalf("CDA table has no %s", name)
		}
		if defaultCodes[name] != row.Code || guardianDisplay[row.Code] != row.Display || "urn:oid:"+row.System != defaultCodes[CodeGuardianSystem] {
			t.Errorf("%s: FHIR %s %q, CDA %s %q (%s)", name, defaultCodes[name], guardianDisplay[defaultCodes[name]], row.Code, row.Display, row.System)
		}
	}
	// One override sets both routes.
	over := map[string]string{GuardianCodeName(documents.GuardianProhibitedByProfessional): "3"}
	c, err := resolveCodes(over)
	if err != nil {
		t.Fatal(err)
	}
	d := documents.Decision{Guardian: documents.GuardianProhibitedByProfessional}
	if got := guardianRestriction(d, c); got == nil || val(got.Code) != "3" || val(got.Display) != guardianDisplay["3"] {
		t.Errorf("override: %+v", got)
	}
	if _, err := resolveCodes(map[string]string{"fhir.guardian_restriction.refused": "3"}); err == nil {
		t.Error("the old FHIR-only guardian name is still accepted")
	}
}

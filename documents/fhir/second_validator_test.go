package fhir

import (
	"bytes"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
)

// The second, independent validator: google/fhir/go's validating
// unmarshaller (FHIR R4 as protocol buffers). It checks what the JSON
// Schema cannot: required primitives, one value per choice, real calendar
// dates, the resource types a reference may name. Tests only: it and its
// dependencies stay out of the production binaries
// (TestSecondValidatorStaysOutOfProduction).
var (
	googleOnce sync.Once
	googleU    *jsonformat.Unmarshaller
	googleErr  error
)

func googleValidate(t testing.TB, raw []byte) error {
	t.Helper()
	googleOnce.Do(func() { googleU, googleErr = jsonformat.NewUnmarshaller("UTC", fhirversion.R4) })
	if googleErr != nil {
		t.Fatal(googleErr)
	}
	_, err := googleU.Unmarshal(raw)
	return err
}

func TestEveryBundleKindPassesTheSecondValidator(t *testing.T) {
	for name, k := range bundleKinds(t) {
		if err := googleValidate(t, k.raw); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// What the JSON Schema lets through and the second validator does not.
func TestSecondValidatorCatchesWhatTheSchemaCannot(t *testing.T) {
	e := entry(documents.RolePsychologist, "2016-05-05")
	e.MyKanta = documents.MyKanta{Display: documents.DisplayDelayed, ReleaseDate: documents.MustDate("2027-01-15"), ReasonCode: "2"}
	b, _ := build(t, e, decide(t, e, nil))
	sign(t, b)
	raw := mustMarshal(t, b)
	cases := []struct{ name, old, new string }{
		{"missing required primitive (Provenance.recorded)", `"recorded":"2026-11-20T10:15:00+02:00",`, ``},
		{"two values in one choice", `"valueDate":"2027-01-15"`, `"valueDate":"2027-01-15","valueString":"2027-01-15"`},
		{"impossible date", `"birthDate":"2016-05-05"`, `"birthDate":"2016-02-30"`},
		{"reference to the wrong resource type", `"serviceProvider":{"reference":"`, `"serviceProvider":{"reference":"Patient/x","display":"`},
		{"relatesTo as samply writes it", `"targetIdentifier":{`, `"targetReference":{},"targetIdentifier":{`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := raw
			if strings.HasPrefix(tc.name, "relatesTo") {
				a := entry(documents.RolePsychologist, "2016-05-05")
				a.Revision, a.Status = 2, documents.StatusAmended
				_, in = build(t, a, decide(t, a, history{a.ID: 1}))
			}
			bad := bytes.Replace(in, []byte(tc.old), []byte(tc.new), 1)
			if bytes.Equal(bad, in) {
				t.Fatal("edit did not apply")
			}
			if err := Validate(bad); err != nil {
				t.Logf("the schema catches this one too: %v", err)
			}
			if err := googleValidate(t, bad); err == nil {
				t.Error("the second validator accepted it")
			}
		})
	}
}

// go list -deps over the commands: no google/fhir package is linked into a
// production binary.
func TestSecondValidatorStaysOutOfProduction(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/helsinki-student-welfare/kanta-gateway/cmd/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 50 || !strings.Contains(string(out), "github.com/samply/golang-fhir-models/fhir-models/fhir") {
		t.Fatalf("go list gave an unexpected list (%d packages)", len(deps))
	}
	for _, d := range deps {
		if strings.HasPrefix(d, "github.com/google/fhir/") || strings.HasPrefix(d, "vitess.io/") {
			t.Errorf("a production binary links %s", d)
		}
	}
}

package queue

import (
	"os"
	"strings"
	"testing"
)

// River's modules (river, riverdriver, riverpgxv5, riversqlite, rivertype,
// rivershared) are released together and only tested together: a mix of
// versions can disagree on the driver interface or the schema. This pins them
// to one version in go.mod.
func TestRiverModulesShareOneVersion(t *testing.T) {
	// go.mod as the build reads it (test binaries carry no dependency list
	// in their build information).
	mod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	versions := map[string]string{}
	for _, line := range strings.Split(string(mod), "\n") {
		fields := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "require "))
		if len(fields) >= 2 && strings.HasPrefix(fields[0], "github.com/riverqueue/river") {
			versions[fields[0]] = fields[1]
		}
	}
	for _, must := range []string{
		"github.com/riverqueue/river",
		"github.com/riverqueue/river/riverdriver",
		"github.com/riverqueue/river/riverdriver/riverpgxv5",
		"github.com/riverqueue/river/riverdriver/riversqlite",
		"github.com/riverqueue/river/rivertype",
	} {
		if versions[must] == "" {
			t.Errorf("%s is not required in go.mod", must)
		}
	}
	want := versions["github.com/riverqueue/river"]
	for path, v := range versions {
		if v != want {
			t.Errorf("%s is at %s, river at %s: pin every River module to one version", path, v, want)
		}
	}
	if want != "v0.51.2" {
		t.Errorf("river is at %s; DESIGN.md and README record v0.51.2", want)
	}
}

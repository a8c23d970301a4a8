package archtest

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// binaryDeps lists the project packages linked into the kanta-gateway
// binary built with the given go flags.
func binaryDeps(t *testing.T, flags ...string) map[string]bool {
	t.Helper()
	args := append([]string{"list", "-deps"}, flags...)
	cmd := exec.Command("go", append(args, module+"/cmd/kanta-gateway")...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	deps := map[string]bool{}
	for _, p := range strings.Fields(string(out)) {
		if name, ok := strings.CutPrefix(p, module+"/"); ok {
			deps[name] = true
		}
	}
	if !deps["gateway"] || !deps["cli"] {
		t.Fatalf("go %s: the binary has no gateway or cli: %v", strings.Join(args, " "), deps)
	}
	return deps
}

// The production binary (-tags kanta_production, as the Dockerfile builds
// the gateway image) links neither the mock Kanta nor the fixtures and
// their generators; the developer build, whose demo and fixtures commands
// need them, does (so the test cannot pass by finding nothing).
func TestProductionBinaryCarriesNoMockOrFixtures(t *testing.T) {
	dev := binaryDeps(t)
	prod := binaryDeps(t, "-tags", "kanta_production")
	for _, pkg := range []string{"mockkanta", "fixtures", "fixtures/gen", "fixtures/pki"} {
		if !dev[pkg] {
			t.Errorf("the developer build does not link %s: demo and fixtures need it", pkg)
		}
	}
	for pkg := range prod {
		if pkg == "mockkanta" || strings.HasPrefix(pkg, "mockkanta/") || pkg == "fixtures" || strings.HasPrefix(pkg, "fixtures/") {
			t.Errorf("the production build (-tags kanta_production) links %s", pkg)
		}
	}
}

package archtest

import (
	"bytes"
	"encoding/json"
	"io"
	"os/exec"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/helsinki-student-welfare/kanta-gateway"

// layer of every package, lowest first (DESIGN.md, "Shape of the system").
// Production code imports project packages of lower layers only; siblings in
// one layer do not import each other, except the edges in sideways. A new
// package must be placed here.
var layer = map[string]int{
	// -1 the HL7/Kanta vocabulary (constants only, no imports): below the
	// foundations, so every package may name a namespace or code system.
	"hl7": -1,
	// 0 foundations: no project imports but hl7.
	"clock": 0, "privatefs": 0, "serverlimits": 0, "xmlcheck": 0, "profiling": 0,
	"documents/sosmeta": 0, "documents/cda/schema": 0,
	"hl7/hl7xml": 0, // the shared XML element helpers
	// 1 the domain model and policy.
	"documents": 1,
	// 2 the stages that turn entries into signed, framed documents, each
	// over documents alone; and what the fixtures make.
	"adapter": 2, "documents/cda": 2, "documents/fhir": 2, "signing": 2, "wire": 2,
	"fixtures": 2, "fixtures/gen": 2, "fixtures/pki": 2, "mockkanta/libxml2": 2,
	// 3 storing and configuring.
	"queue": 3, "queue/queuetest": 3, "config": 3,
	// 4 delivering and observing.
	"submit": 4, "metrics": 4,
	// 5 assembling: the gateway; the mock Kanta beside it (see mockMayImport).
	"gateway": 5, "mockkanta": 5,
	// 6 the operators' console, over the gateway's service and the queue.
	"console": 6,
	// 7 the commands; 8 their one-line mains.
	"cli": 7, "cmd/kanta-gateway": 8, "cmd/mock-kanta": 8,
	// tests only (no production code).
	"e2e": 9, "deploy": 9,
	"internal/archtest": 9, "internal/kantasample": 9, "internal/pgtest": 9, "internal/xmltest": 9,
}

// sideways are the imports allowed within one layer.
var sideways = map[[2]string]bool{
	{"queue/queuetest", "queue"}:    true,
	{"cmd/mock-kanta", "mockkanta"}: true,
}

// mockMayImport: the mock stands beside the gateway, not on it: it never
// imports the queue, submit, config, metrics or the gateway itself.
const mockMayImport = 2

type goPackage struct {
	ImportPath string
	Imports    []string
}

func listPackages(t *testing.T) []goPackage {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []goPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p goPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 20 {
		t.Fatalf("go list found %d packages; the module has more", len(pkgs))
	}
	return pkgs
}

// allowed reports whether production code of package from may import to.
func allowed(from, to string) bool {
	if from == "mockkanta" && layer[to] > mockMayImport {
		return false
	}
	return layer[to] < layer[from] || sideways[[2]string{from, to}]
}

func TestImportsFollowTheLayers(t *testing.T) {
	var bad []string
	for _, p := range listPackages(t) {
		name := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		if _, ok := layer[name]; !ok {
			bad = append(bad, name+": no layer (place it in internal/archtest and DESIGN.md)")
			continue
		}
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, module+"/") {
				continue
			}
			dep := strings.TrimPrefix(imp, module+"/")
			if _, ok := layer[dep]; !ok {
				bad = append(bad, name+" imports "+dep+", which has no layer")
			} else if !allowed(name, dep) {
				bad = append(bad, name+" imports "+dep+": upward or sideways")
			}
		}
	}
	sort.Strings(bad)
	for _, b := range bad {
		t.Error(b)
	}
}

// The rule really refuses: upward and sideways edges, checked on edges
// that do not exist, so the test cannot pass by finding nothing to check.
func TestTheRuleRefusesUpwardImports(t *testing.T) {
	for _, tc := range []struct {
		from, to string
		ok       bool
	}{
		{"signing", "documents", true},
		{"documents", "signing", false}, // upward
		{"signing", "wire", false},      // sideways
		{"signing", "queue", false},
		{"queue", "submit", false},
		{"submit", "queue", true},
		{"submit", "gateway", false},
		{"documents/cda", "wire", false}, // sideways: the interactions are hl7's
		{"documents/cda", "hl7", true},
		{"documents/sosmeta", "hl7", true},         // a foundation names a code system
		{"documents/sosmeta", "hl7/hl7xml", false}, // foundations do not import each other
		{"hl7", "hl7/hl7xml", false},               // the vocabulary imports nothing
		{"wire", "documents/cda", false},
		{"gateway", "mockkanta", false},
		{"mockkanta", "queue", false},
		{"mockkanta", "signing", true},
		{"cli", "mockkanta", true},
	} {
		if got := allowed(tc.from, tc.to); got != tc.ok {
			t.Errorf("%s → %s allowed %v, want %v", tc.from, tc.to, got, tc.ok)
		}
	}
}

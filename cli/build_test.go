package cli

import (
	"bytes"
	"crypto/x509"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/documents/fhir"
	"github.com/helsinki-student-welfare/kanta-gateway/fixtures/pki"
	"github.com/helsinki-student-welfare/kanta-gateway/internal/kantasample"
)

// testPassword is the test PKI's PKCS#12 password (demo's too).
const testPassword = "kanta-test"

var (
	pkiOnce  sync.Once
	pkiPaths *pki.Paths
	pkiErr   error
)

// testPKI generates one test PKI per test binary (RSA keys are slow).
func testPKI(t *testing.T) *pki.Paths {
	t.Helper()
	pkiOnce.Do(func() {
		dir, err := os.MkdirTemp("", "kanta-cli-pki-")
		if err != nil {
			pkiErr = err
			return
		}
		pkiPaths, pkiErr = pki.Generate(dir, []pki.Organiser{{OID: "1.2.246.10.2012566.19.1", Name: "Helsingin kaupunki"}}, testPassword, time.Now())
	})
	if pkiErr != nil {
		t.Fatal(pkiErr)
	}
	return pkiPaths
}

// signingConfig writes a configuration that signs with the test PKI.
func signingConfig(t *testing.T, extra string) string {
	t.Helper()
	p := testPKI(t)
	s := p.Signing["1.2.246.10.2012566.19.1"]
	cfg := "organisations:\n  - oid: 1.2.246.10.2012566.19.1\n    name: Helsingin kaupunki\n    document_root: 1.2.246.10.2012566\n    pkcs12: " + s.P12 + "\n    pkcs12_password: " + testPassword + "\n" + extra
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestBuildThenVerify(t *testing.T) {
	p := testPKI(t)
	out := t.TempDir()
	cfg := signingConfig(t, "documents:\n  route:\n    patient: both\n    social: cda\n")
	code, _, stderr := runCLI(t, "build", "--config", cfg, "--now", "2026-11-22T12:00:00+02:00", "--out", out,
		"../fixtures/scenarios/psychologist.ndjson", "../fixtures/scenarios/welfare-officer.ndjson")
	if code != 0 {
		t.Fatalf("build exit %d: %s", code, stderr)
	}
	cdas, _ := filepath.Glob(filepath.Join(out, "*.cda.xml"))
	frames, _ := filepath.Glob(filepath.Join(out, "*.frame.xml"))
	bundles, _ := filepath.Glob(filepath.Join(out, "*.fhir.json"))
	// Due on 2026-11-22 (expected.tsv): 15 psychologist revisions (20 less
	// 4 rejected and 1 draft) and 12 welfare officer revisions (16 less 2
	// skipped and 2 rejected).
	if len(cdas) != 27 || len(frames) != 27 {
		t.Fatalf("%d CDA documents and %d frames, want 27 each", len(cdas), len(frames))
	}
	if len(bundles) != 15 {
		t.Fatalf("%d FHIR bundles for the patient archive (route both), want 15", len(bundles))
	}
	code, stdout, stderr := runCLI(t, append([]string{"verify", "--trust", p.CACert}, append(cdas, frames...)...)...)
	if code != 0 {
		t.Fatalf("verify exit %d:\n%s%s", code, stdout, stderr)
	}
	if n := strings.Count(stdout, "OK: 1 valid signature"); n != 54 {
		t.Errorf("%d files verified OK, want 54", n)
	}
	if !strings.Contains(stdout, "type 3") || !strings.Contains(stdout, "RCMR_IN100016FI01") || !strings.Contains(stdout, "RCMR_IN200002FI01") {
		t.Errorf("verify output lacks signature type or interactions:\n%s", stdout[:min(len(stdout), 2000)])
	}

	// xmlsec1, the reference implementation, agrees on every document.
	if _, err := exec.LookPath("xmlsec1"); err != nil {
		t.Fatal("xmlsec1 is required (scripts/test.sh installs it)")
	}
	for _, f := range cdas {
		b, _ := os.ReadFile(f)
		body := "structuredBody"
		if bytes.Contains(b, []byte("nonXMLBody")) {
			body = "nonXMLBody"
		}
		cmd := exec.Command("xmlsec1", "--verify", "--trusted-pem", p.CACert, "--id-attr:ID", body, "--id-attr:ID", "signatureTimestamp", f)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("xmlsec1 refuses %s: %v\n%s", filepath.Base(f), err, out)
		}
	}

	// Every FHIR Bundle validates against the R4 schema and its JWS verifies.
	roots := x509.NewCertPool()
	caPEM, _ := os.ReadFile(p.CACert)
	roots.AppendCertsFromPEM(caPEM)
	for _, f := range bundles {
		raw, _ := os.ReadFile(f)
		if err := fhir.Validate(raw); err != nil {
			t.Errorf("%s: schema: %v", filepath.Base(f), err)
		}
		if _, _, err := fhir.VerifyJSON(raw, roots); err != nil {
			t.Errorf("%s: signature: %v", filepath.Base(f), err)
		}
	}

	// A changed body fails verification with exit 3.
	b, _ := os.ReadFile(cdas[0])
	tampered := filepath.Join(t.TempDir(), "tampered.cda.xml")
	i := bytes.Index(b, []byte("<paragraph>"))
	if i < 0 {
		i = bytes.Index(b, []byte("representation=\"B64\">")) + len("representation=\"B64\">")
	}
	b[i+12] ^= 1
	os.WriteFile(tampered, b, 0o600)
	if code, stdout, _ := runCLI(t, "verify", "--trust", p.CACert, tampered); code != ExitRejected || !strings.Contains(stdout, "INVALID") {
		t.Errorf("tampered document: exit %d\n%s", code, stdout)
	}
	// An untrusted root fails too.
	other := filepath.Join(t.TempDir(), "other.pem")
	os.WriteFile(other, []byte(sampleSignerPEM(t)), 0o600)
	if code, _, _ := runCLI(t, "verify", "--trust", other, cdas[0]); code != ExitRejected {
		t.Errorf("untrusted signer: exit %d, want %d", code, ExitRejected)
	}
}

func sampleSignerPEM(t *testing.T) string {
	return string(kantasample.SignerPEM())
}

func TestVerifyRealSample(t *testing.T) {
	// The real archived message (2017, test data) verifies with its
	// signer trusted explicitly; it predates our profile, hence minimal.
	code, stdout, stderr := runCLI(t, "verify", "--profile", "minimal", "--trust", kantasample.SignerPath(), kantasample.MessagePath())
	if code != 0 {
		t.Fatalf("exit %d:\n%s%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "1.2.246.537.10.15675350.10.1.11220.19098") || !strings.Contains(stdout, "2017-09-22") {
		t.Errorf("output lacks the document id or the signature time:\n%s", stdout)
	}
	if code, _, _ := runCLI(t, "verify", kantasample.MessagePath()); code != ExitUsage {
		t.Errorf("verify without trust: exit %d, want %d", code, ExitUsage)
	}
}

func TestBuildHoldsUntilGoLive(t *testing.T) {
	out := t.TempDir()
	cfg := signingConfig(t, "")
	code, _, stderr := runCLI(t, "build", "--config", cfg, "--now", "2026-08-31T12:00:00+03:00", "--out", out, "../fixtures/scenarios/welfare-officer.ndjson")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if files, _ := filepath.Glob(filepath.Join(out, "*")); len(files) != 0 {
		t.Errorf("%d files built before the social welfare go-live, want none", len(files))
	}
	code, _, stderr = runCLI(t, "build", "--all", "--config", cfg, "--now", "2026-08-31T12:00:00+03:00", "--out", out, "../fixtures/scenarios/welfare-officer.ndjson")
	if files, _ := filepath.Glob(filepath.Join(out, "*.cda.xml")); code != 0 || len(files) != 12 {
		t.Errorf("--all: exit %d, %d documents, want 12 (%s)", code, len(files), stderr)
	}
}

package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaultsWithoutFile(t *testing.T) {
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if c.Environment != documents.EnvironmentTest {
		t.Errorf("environment %s: production must only be chosen explicitly", c.Environment)
	}
	if c.Queue.Backend != "sqlite" || !strings.HasPrefix(c.Kanta.ArchiveURL, "http://127.0.0.1:") {
		t.Errorf("defaults are not the embedded queue and a local mock: %s %s", c.Queue.Backend, c.Kanta.ArchiveURL)
	}
	if got := c.Policy.Roles[documents.RoleSchoolWelfareOfficer].GoLive; got != documents.MustDate("2026-09-01") {
		t.Errorf("welfare officer go-live %s", got)
	}
}

func TestFileAndEnvironmentOverrides(t *testing.T) {
	p := writeFile(t, `
environment: test
queue:
  retry_cap: 2m
policy:
  roles:
    school_welfare_officer:
      archive: social
      register: social_welfare_client
      service_kind: school_social_work
      confidentiality: "6"
      go_live: 2026-10-01
      skip_closed_before_go_live: true
`)
	t.Setenv("KANTA_GATEWAY_POLICY_ADULT_AGE", "19")
	t.Setenv("KANTA_GATEWAY_KANTA_TIMEOUT", "5s")
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if c.Queue.RetryCap != 2*time.Minute {
		t.Errorf("retry cap %v", c.Queue.RetryCap)
	}
	if c.Policy.AdultAge != 19 || c.Kanta.Timeout != 5*time.Second {
		t.Errorf("environment overrides not applied: %d %v", c.Policy.AdultAge, c.Kanta.Timeout)
	}
	if got := c.Policy.Roles[documents.RoleSchoolWelfareOfficer].GoLive; got != documents.MustDate("2026-10-01") {
		t.Errorf("go-live %s", got)
	}
	if _, ok := c.Policy.Roles[documents.RolePsychologist]; !ok {
		t.Error("psychologist rule lost when the file names only the welfare officer")
	}
}

func TestEnvironmentOverridesNestedRoleKey(t *testing.T) {
	t.Setenv("KANTA_GATEWAY_POLICY_ROLES_SCHOOL_WELFARE_OFFICER_GO_LIVE", "2026-12-24")
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Policy.Roles[documents.RoleSchoolWelfareOfficer].GoLive; got != documents.MustDate("2026-12-24") {
		t.Errorf("go-live %s", got)
	}
}

func TestValidationNamesTheKey(t *testing.T) {
	for _, tc := range []struct{ body, key string }{
		{"environment: staging\n", "environment"},
		{"queue:\n  backend: redis\n", "queue.backend"},
		{"queue:\n  backend: postgres\n", "queue.postgres_dsn"},
		{"policy:\n  guardian_age_threshold: 30\n", "policy.guardian_age_threshold"},
		{"kanta:\n  archive_url: ftp://x\n", "kanta.archive_url"},
		{"time_zone: Mars/Olympus\n", "time_zone"},
		{"spool:\n  done_dir: ''\n", "spool.done_dir"},
		{"spool:\n  quarantine_dir: ''\n", "spool.quarantine_dir"},
		{"kanta:\n  envelope: soap13\n", "kanta.envelope"},
		{"kanta:\n  query_interaction: 'RCMR IN'\n", "kanta.query_interaction"},
		{"kanta:\n  max_unreadable_answers: 25\n", "kanta.max_unreadable_answers"},
		{"kanta:\n  max_unreadable_answers: 0\n", "kanta.max_unreadable_answers"},
		{"documents:\n  route:\n    patient: pdf\n", "documents.route.patient"},
		{"organisations:\n  - oid: not-an-oid\n    document_root: 1.2.3\n", "organisations[0].oid"},
		{"environment: production\n", "kanta.client_cert"},
		{"kanta:\n  social_sender_oid: x.y\n", "kanta.social_sender_oid"},
		{"organisations:\n  - oid: 1.2.3\n    document_root: 1.2.3\n    custodian_oid: 1.2.x\n", "organisations[0].custodian_oid"},
		{"policy:\n  roles:\n    nurse:\n      archive: patient\n      register: health_care_patient\n      confidentiality: '5'\n", "policy.roles.nurse"},
	} {
		_, err := Load(writeFile(t, tc.body))
		if err == nil {
			t.Errorf("%q: accepted", tc.body)
			continue
		}
		var fe *FieldError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), tc.key+":") {
			t.Errorf("%q: error %q does not name %s", tc.body, err, tc.key)
		}
	}
}

func TestUnknownKeyIsAnError(t *testing.T) {
	_, err := Load(writeFile(t, "queue:\n  backnd: sqlite\n"))
	if err == nil || !strings.Contains(err.Error(), "backnd") {
		t.Fatalf("typo not reported: %v", err)
	}
}

func TestBadDateIsAnError(t *testing.T) {
	_, err := Load(writeFile(t, "policy:\n  roles:\n    psychologist:\n      archive: patient\n      register: health_care_patient\n      confidentiality: '5'\n      go_live: 2026-02-30\n"))
	if err == nil || !strings.Contains(err.Error(), "go_live") {
		t.Fatalf("bad date not reported with its key: %v", err)
	}
}

func TestYAMLRoundTripsAndRedacts(t *testing.T) {
	c := Default()
	c.Queue.Backend, c.Queue.PostgresDSN = "postgres", "postgres://gw:s3cret@db:5432/kanta"
	c.Organisations[0].PKCS12, c.Organisations[0].PKCS12Password = "/pki/org.p12", "hunter2"
	out, err := c.Redacted().YAML()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "s3cret") || strings.Contains(string(out), "hunter2") {
		t.Fatalf("secret printed:\n%s", out)
	}
	plainOut, err := c.YAML()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Load(writeFile(t, string(plainOut)))
	if err != nil {
		t.Fatalf("printed configuration does not load back: %v\n%s", err, plainOut)
	}
	if !reflect.DeepEqual(*back, c) {
		t.Fatalf("round trip changed the configuration:\n%+v\n%+v", *back, c)
	}
}

// The custodian and the social welfare sender are configuration, defaulting
// to the organisation and the one sender; Helsinki's social welfare values
// of the real frames (kanta-domain.md 8.1) load from a file.
func TestCustodianAndSocialSender(t *testing.T) {
	c := Default()
	if oid, name := c.Organisations[0].Custodian(); oid != c.Organisations[0].OID || name != c.Organisations[0].Name {
		t.Errorf("default custodian %s %q, want the organisation", oid, name)
	}
	if c.Kanta.SenderFor(documents.ArchiveSocial) != c.Kanta.SenderOID || c.Kanta.SenderFor(documents.ArchivePatient) != c.Kanta.SenderOID {
		t.Error("default social sender is not kanta.sender_oid")
	}
	loaded, err := Load(writeFile(t, `
kanta:
  social_sender_oid: 1.2.246.10.2012566.10.40
organisations:
  - oid: 1.2.246.10.2012566.19.1
    name: Helsingin kaupunki
    document_root: 1.2.246.10.2012566
    custodian_oid: 1.2.246.10.2012566.10.40
    custodian_name: Helsingin sosiaali- ja terveystoimi
    signature_type: "3"
`))
	if err != nil {
		t.Fatal(err)
	}
	c = *loaded
	if oid, name := c.Organisations[0].Custodian(); oid != "1.2.246.10.2012566.10.40" || name != "Helsingin sosiaali- ja terveystoimi" {
		t.Errorf("custodian %s %q", oid, name)
	}
	if got := c.Kanta.SenderFor(documents.ArchiveSocial); got != "1.2.246.10.2012566.10.40" {
		t.Errorf("social sender %s", got)
	}
	if got := c.Kanta.SenderFor(documents.ArchivePatient); got != Default().Kanta.SenderOID {
		t.Errorf("health sender %s, want kanta.sender_oid", got)
	}
}

func TestSocialDocumentsConfig(t *testing.T) {
	cfg, err := Load(writeFile(t, "documents:\n  social:\n    entry_types:\n      phone: '19003'\n    titles:\n      school_welfare_officer: kuraattori\n  invalidation:\n    social: kela\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Documents.Social
	if s.EntryTypes[documents.EncounterPhone] != "19003" || s.Titles[documents.RoleSchoolWelfareOfficer] != "kuraattori" || cfg.Documents.Invalidation[documents.ArchiveSocial] != InvalidationKela {
		t.Errorf("%+v", s)
	}
	if s.EntryTypes[documents.EncounterRecordOnly] != "19013" || s.ReleaseDate != "header" {
		t.Errorf("defaults lost: %+v", s)
	}
	for body, key := range map[string]string{
		"documents:\n  social:\n    entry_types:\n      visit: '19001'\n":   "documents.social.entry_types.visit",
		"documents:\n  social:\n    entry_types:\n      meeting: '19005'\n": "documents.social.entry_types.meeting",
		"documents:\n  social:\n    titles:\n      psychologist: ' '\n":     "documents.social.titles.psychologist",
		"documents:\n  invalidation:\n    social: delete\n":                 "documents.invalidation.social",
		"documents:\n  social:\n    release_date: later\n":                  "documents.social.release_date",
	} {
		if _, err := Load(writeFile(t, body)); err == nil || !strings.Contains(err.Error(), key+":") {
			t.Errorf("%q: %v", body, err)
		}
	}
}

// Code names contain dots; each must reach the builders whole, from the
// file and from the environment.
func TestCodeOverrideFromFile(t *testing.T) {
	p := writeFile(t, `
documents:
  codes:
    health.view.psychology: "123"
    health.guardian_disclosure.professional_prohibited: "4"
    frame.correction_reason: "1"
`)
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"health.view.psychology":                             "123",
		"health.guardian_disclosure.professional_prohibited": "4",
		"frame.correction_reason":                            "1",
	}
	if !reflect.DeepEqual(c.Documents.Codes, want) {
		t.Errorf("codes %v, want %v", c.Documents.Codes, want)
	}
	// What config check prints loads back with the same codes.
	out, err := c.YAML()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Load(writeFile(t, string(out)))
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !reflect.DeepEqual(back.Documents.Codes, want) {
		t.Errorf("printed codes load back as %v", back.Documents.Codes)
	}
}

func TestCodeOverrideFromEnvironment(t *testing.T) {
	if got := EnvCodeName("health.guardian_disclosure.minor_not_capable"); got != "KANTA_GATEWAY_DOCUMENTS_CODES_HEALTH__GUARDIAN_DISCLOSURE__MINOR_NOT_CAPABLE" {
		t.Fatalf("environment form %s", got)
	}
	p := writeFile(t, "documents:\n  codes:\n    health.view.psychology: \"123\"\n")
	t.Setenv(EnvCodeName("health.view.psychology"), "456")
	t.Setenv(EnvCodeName("health.profession.psychologist"), "700")
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"health.view.psychology": "456", "health.profession.psychologist": "700"}
	if !reflect.DeepEqual(c.Documents.Codes, want) {
		t.Errorf("codes %v, want %v (the environment wins over the file)", c.Documents.Codes, want)
	}
	// Without a file, too.
	c, err = Load("")
	if err != nil {
		t.Fatal(err)
	}
	if c.Documents.Codes["health.view.psychology"] != "456" {
		t.Errorf("codes without a file: %v", c.Documents.Codes)
	}
}

func TestInvalidationStyle(t *testing.T) {
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if c.Documents.Invalidation[documents.ArchivePatient] != InvalidationKela || c.Documents.Invalidation[documents.ArchiveSocial] != InvalidationMarker {
		t.Errorf("default invalidation %v", c.Documents.Invalidation)
	}
	for body, key := range map[string]string{
		"documents:\n  invalidation:\n    patient: delete\n": "documents.invalidation.patient",
	} {
		if _, err := Load(writeFile(t, body)); err == nil || !strings.Contains(err.Error(), key+":") {
			t.Errorf("%q: %v", body, err)
		}
	}
	t.Setenv("KANTA_GATEWAY_DOCUMENTS_INVALIDATION_PATIENT", "marker")
	if c, err = Load(writeFile(t, "documents:\n  route:\n    patient: cda\n")); err != nil || c.Documents.Invalidation[documents.ArchivePatient] != InvalidationMarker {
		t.Errorf("environment override: %v %v", err, c)
	}
}

// Production refuses plain HTTP for every Kanta URL: the FHIR endpoint
// receives the same documents as the archive interface.
func TestProductionRefusesPlainHTTPForEveryKantaURL(t *testing.T) {
	for _, tc := range []struct{ urls, key string }{
		{"  archive_url: http://kanta.example/archive\n  fhir_url: https://kanta.example/fhir\n", "kanta.archive_url"},
		{"  archive_url: https://kanta.example/archive\n  fhir_url: http://kanta.example/fhir\n", "kanta.fhir_url"},
	} {
		body := "environment: production\nkanta:\n  client_cert: c.pem\n  client_key: k.pem\n" + tc.urls
		_, err := Load(writeFile(t, body))
		if err == nil || !strings.Contains(err.Error(), tc.key+": production requires https") {
			t.Errorf("%s over http in production: error %v, want it named", tc.key, err)
		}
	}
	body := "environment: production\nkanta:\n  client_cert: c.pem\n  client_key: k.pem\n  archive_url: https://kanta.example/archive\n  fhir_url: https://kanta.example/fhir\n"
	if _, err := Load(writeFile(t, body)); err != nil && strings.Contains(err.Error(), "requires https") {
		t.Errorf("https URLs refused: %v", err)
	}
}

// The operations server's limits are configuration with safe defaults; a
// limit that is not positive is refused by its key.
func TestOpsServerLimitsAreValidated(t *testing.T) {
	c, err := Load(writeFile(t, "metrics:\n  server:\n    idle_timeout: 5s\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Metrics.Server.IdleTimeout != 5*time.Second || c.Metrics.Server.ReadTimeout != OpsServerLimits.ReadTimeout {
		t.Errorf("limits %+v: idle_timeout 5s over the defaults wanted", c.Metrics.Server)
	}
	_, err = Load(writeFile(t, "metrics:\n  server:\n    max_connections: 0\n"))
	if err == nil || !strings.Contains(err.Error(), "metrics.server.max_connections: must be positive") {
		t.Errorf("zero connection limit: %v", err)
	}
}

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
		{"kanta:\n  envelope: soap13\n", "kanta.envelope"},
		{"kanta:\n  query_interaction: 'RCMR IN'\n", "kanta.query_interaction"},
		{"kanta:\n  max_unreadable_answers: 25\n", "kanta.max_unreadable_answers"},
		{"kanta:\n  max_unreadable_answers: 0\n", "kanta.max_unreadable_answers"},
		{"documents:\n  route:\n    patient: pdf\n", "documents.route.patient"},
		{"organisations:\n  - oid: not-an-oid\n    document_root: 1.2.3\n", "organisations[0].oid"},
		{"environment: production\n", "kanta.client_cert"},
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

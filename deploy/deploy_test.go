// Package deploy_test checks the operators' deployment assets against the
// code they deploy: the compose file (services, volumes, ports, profiles,
// every host file it refers to), the gateway configurations (loaded with
// config.Load), the Prometheus alert rules and their unit tests (promtool),
// the Grafana dashboard (every query names a metric the gateway exports)
// and the exposition of the gateway's registry (promtool check metrics).
package deploy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"go.yaml.in/yaml/v3"

	"github.com/helsinki-student-welfare/kanta-gateway/config"
	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/metrics"
	"github.com/helsinki-student-welfare/kanta-gateway/queue"
)

// repoRoot is where docker-compose.yml, the Dockerfile and deploy/ live.
const repoRoot = ".."

// gatewayMetrics is every metric family the gateway exports itself (not
// the Go and process collectors), with its type: the contract the
// dashboard and the alert rules are written against.
var gatewayMetrics = map[string]dto.MetricType{
	"kanta_gateway_entries_read_total":                   dto.MetricType_COUNTER,
	"kanta_gateway_documents_built_total":                dto.MetricType_COUNTER,
	"kanta_gateway_signing_duration_seconds":             dto.MetricType_HISTOGRAM,
	"kanta_gateway_submissions_total":                    dto.MetricType_COUNTER,
	"kanta_gateway_submission_duration_seconds":          dto.MetricType_HISTOGRAM,
	"kanta_gateway_kanta_acknowledgements_total":         dto.MetricType_COUNTER,
	"kanta_gateway_queue_jobs":                           dto.MetricType_GAUGE,
	"kanta_gateway_queue_oldest_due_job_age_seconds":     dto.MetricType_GAUGE,
	"kanta_gateway_queue_next_release_timestamp_seconds": dto.MetricType_GAUGE,
	"kanta_gateway_queue_up":                             dto.MetricType_GAUGE,
	"kanta_gateway_certificate_expiry_timestamp_seconds": dto.MetricType_GAUGE,
	"kanta_gateway_circuit_breaker_state":                dto.MetricType_GAUGE,
	"kanta_gateway_store_writable":                       dto.MetricType_GAUGE,
	"kanta_gateway_build_info":                           dto.MetricType_GAUGE,
}

// alertNames are the alerts operators are told about (README).
var alertNames = []string{
	"KantaGatewayDeadLetters",
	"KantaGatewayOldestDueJobTooOld",
	"KantaGatewayKantaErrorRatioHigh",
	"KantaGatewayCircuitOpen",
	"KantaGatewayCertificateExpiringSoon",
	"KantaGatewayDown",
}

func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool is required (apt-get install prometheus, or scripts/test.sh installs it): %v", err)
	}
	return p
}

func runPromtool(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(promtool(t), args...)
	cmd.Dir = repoRoot
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func repoPath(rel string) string { return filepath.Join(repoRoot, filepath.FromSlash(rel)) }

func mustExist(t *testing.T, what, path string, dir bool) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Errorf("%s: %v", what, err)
		return
	}
	if fi.IsDir() != dir {
		t.Errorf("%s: %s is a directory: %v, want %v", what, path, fi.IsDir(), dir)
	}
}

// --- docker-compose.yml -------------------------------------------------------

func loadCompose(t *testing.T, profiles ...string) *types.Project {
	t.Helper()
	abs, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	opts, err := cli.NewProjectOptions(
		[]string{filepath.Join(abs, "docker-compose.yml")},
		cli.WithWorkingDirectory(abs),
		cli.WithProfiles(profiles),
		// The test must not depend on the caller's environment or a .env.
		cli.WithEnv(nil),
		cli.WithConsistency(true),
		cli.WithResolvedPaths(true),
	)
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return p
}

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, err := p.GetService(name)
	if err != nil {
		t.Fatalf("service %s: %v", name, err)
	}
	return s
}

// dockerStages are the named stages of the Dockerfile.
func dockerStages(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(repoPath("Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var stages []string
	for _, m := range regexp.MustCompile(`(?mi)^FROM\s+\S+\s+AS\s+(\S+)\s*$`).FindAllStringSubmatch(string(b), -1) {
		stages = append(stages, m[1])
	}
	return stages
}

// stageBody is the text of a Dockerfile stage, from its FROM line to the
// next one.
func stageBody(src, stage string) string {
	loc := regexp.MustCompile(`(?mi)^FROM\s+\S+\s+AS\s+` + regexp.QuoteMeta(stage) + `\s*$`).FindStringIndex(src)
	if loc == nil {
		return ""
	}
	rest := src[loc[1]:]
	if next := regexp.MustCompile(`(?mi)^FROM\s`).FindStringIndex(rest); next != nil {
		rest = rest[:next[0]]
	}
	return rest
}

func TestDockerfileStages(t *testing.T) {
	b, err := os.ReadFile(repoPath("Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	stages := dockerStages(t)
	for _, want := range []string{"build", "gateway", "mock-kanta", "fixtures"} {
		if !slices.Contains(stages, want) {
			t.Errorf("Dockerfile has no stage %q (stages %v)", want, stages)
		}
	}
	for _, want := range []string{
		"FROM golang:1.26-bookworm AS build", "CGO_ENABLED=0", `-trimpath -ldflags "-s -w"`,
		"./cmd/kanta-gateway", "./cmd/mock-kanta", "gcr.io/distroless/static:nonroot",
		// the mock's in-process schema validator: cgo + libxml2 of the build's Debian release
		"libxml2-dev", "CGO_ENABLED=1 go build", "FROM debian:bookworm-slim AS mock-kanta", "USER 65532:65532",
	} {
		if !strings.Contains(src, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	// The gateway image runs the production build (no demo, no fixtures,
	// neither the mock nor the generators linked: internal/archtest's
	// TestProductionBinaryCarriesNoMockOrFixtures); the fixtures image
	// runs the developer build, whose fixtures command it needs.
	for _, m := range regexp.MustCompile(`go build [^\n]*?(?:\\\n[^\n]*?)?-o /out/kanta-gateway ./cmd/kanta-gateway`).FindAllString(src, -1) {
		if !strings.Contains(m, "-tags kanta_production") {
			t.Errorf("the gateway binary is built without -tags kanta_production: %q", m)
		}
	}
	if n := strings.Count(src, "-o /out/kanta-gateway ./cmd/kanta-gateway"); n != 2 {
		t.Errorf("%d builds of /out/kanta-gateway, want 2 (CRYPTO go and boringcrypto)", n)
	}
	stageCopies := map[string]string{"gateway": "/out/kanta-gateway ", "fixtures": "/out/kanta-gateway-dev "}
	for stage, bin := range stageCopies {
		body := stageBody(src, stage)
		if !strings.Contains(body, "COPY --from=build "+bin+"/usr/local/bin/kanta-gateway") {
			t.Errorf("stage %s does not copy %s as /usr/local/bin/kanta-gateway:\n%s", stage, strings.TrimSpace(bin), body)
		}
	}
	// The build context must carry the sources the build needs.
	ignore, err := os.ReadFile(repoPath(".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(ignore), "\n") {
		line = strings.TrimSpace(line)
		for _, needed := range []string{"go.mod", "go.sum", "cmd", "*.go", "fixtures", "documents"} {
			if line == needed {
				t.Errorf(".dockerignore excludes %s, which the build needs", needed)
			}
		}
	}
}

func TestComposeServices(t *testing.T) {
	p := loadCompose(t, "postgres")
	if p.Name != "kanta-gateway" {
		t.Errorf("project name %q", p.Name)
	}
	want := []string{"fixtures", "gateway", "gateway-postgres", "grafana", "mock-kanta", "postgres", "prometheus"}
	got := p.ServiceNames()
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Fatalf("services %v, want %v", got, want)
	}
	stages := dockerStages(t)

	// Every build uses the repository's Dockerfile and a stage it has.
	builds := map[string]string{"fixtures": "fixtures", "mock-kanta": "mock-kanta", "gateway": "gateway", "gateway-postgres": "gateway"}
	for name, target := range builds {
		s := service(t, p, name)
		if s.Build == nil {
			t.Errorf("%s: no build", name)
			continue
		}
		if s.Build.Target != target || !slices.Contains(stages, s.Build.Target) {
			t.Errorf("%s: build target %q, want %q (Dockerfile stages %v)", name, s.Build.Target, target, stages)
		}
		mustExist(t, name+" build context", s.Build.Context, true)
		df := s.Build.Dockerfile
		if !filepath.IsAbs(df) {
			df = filepath.Join(s.Build.Context, df)
		}
		mustExist(t, name+" Dockerfile", df, false)
	}
	images := map[string]string{"postgres": "postgres:16", "prometheus": "prom/prometheus:v2.53.0", "grafana": "grafana/grafana:11.1.0"}
	for name, image := range images {
		if s := service(t, p, name); s.Image != image || s.Build != nil {
			t.Errorf("%s: image %q (build %v), want %q", name, s.Image, s.Build != nil, image)
		}
	}

	// Every bind mount's host side exists; named volumes are declared.
	for _, s := range p.Services {
		for _, v := range s.Volumes {
			switch v.Type {
			case types.VolumeTypeBind:
				fi, err := os.Stat(v.Source)
				if err != nil {
					t.Errorf("%s: bind mount %s: %v", s.Name, v.Source, err)
				} else if strings.HasSuffix(v.Target, ".yaml") && fi.IsDir() {
					t.Errorf("%s: %s mounted as a file is a directory", s.Name, v.Source)
				}
				if !v.ReadOnly {
					t.Errorf("%s: bind mount %s -> %s is writable; repository files are mounted read-only", s.Name, v.Source, v.Target)
				}
			case types.VolumeTypeVolume:
				if _, ok := p.Volumes[v.Source]; !ok {
					t.Errorf("%s: volume %q is not declared", s.Name, v.Source)
				}
			default:
				t.Errorf("%s: unexpected mount type %s", s.Name, v.Type)
			}
		}
	}
	vols := slices.Sorted(func(yield func(string) bool) {
		for k := range p.Volumes {
			if !yield(k) {
				return
			}
		}
	})
	if !slices.Equal(vols, []string{"grafana", "postgres", "prometheus", "work"}) {
		t.Errorf("volumes %v", vols)
	}
	for _, name := range []string{"fixtures", "mock-kanta", "gateway", "gateway-postgres"} {
		if target := volumeTarget(service(t, p, name), "work"); target != "/work" {
			t.Errorf("%s: volume work mounted at %q, want /work", name, target)
		}
	}

	// Published ports, on loopback only.
	ports := map[string][2]string{ // service -> {container port, host port}
		"mock-kanta": {"8443", "8443"}, "gateway": {"9464", "9464"}, "gateway-postgres": {"9464", "9465"},
		"prometheus": {"9090", "9090"}, "grafana": {"3000", "3000"},
	}
	for _, s := range p.Services {
		want, ok := ports[s.Name]
		if !ok {
			if len(s.Ports) != 0 {
				t.Errorf("%s publishes ports %v", s.Name, s.Ports)
			}
			continue
		}
		if len(s.Ports) != 1 {
			t.Errorf("%s: ports %v, want one", s.Name, s.Ports)
			continue
		}
		pc := s.Ports[0]
		if got := [2]string{strconv.FormatUint(uint64(pc.Target), 10), pc.Published}; got != want || pc.HostIP != "127.0.0.1" {
			t.Errorf("%s: port %s:%s:%d, want 127.0.0.1:%s:%s", s.Name, pc.HostIP, pc.Published, pc.Target, want[1], want[0])
		}
	}

	// Profiles: postgres and its gateway only on request.
	for _, s := range p.Services {
		wantProfiles := []string(nil)
		if s.Name == "postgres" || s.Name == "gateway-postgres" {
			wantProfiles = []string{"postgres"}
		}
		if !slices.Equal(s.Profiles, wantProfiles) {
			t.Errorf("%s: profiles %v, want %v", s.Name, s.Profiles, wantProfiles)
		}
	}
	def := loadCompose(t)
	active := def.ServiceNames()
	sort.Strings(active)
	if !slices.Equal(active, []string{"fixtures", "gateway", "grafana", "mock-kanta", "prometheus"}) {
		t.Errorf("default profile services %v", active)
	}

	// Start order: fixtures before the mock and the gateways; postgres
	// healthy before gateway-postgres.
	deps := map[string]map[string]string{
		"mock-kanta":       {"fixtures": types.ServiceConditionCompletedSuccessfully},
		"gateway":          {"fixtures": types.ServiceConditionCompletedSuccessfully, "mock-kanta": types.ServiceConditionStarted},
		"gateway-postgres": {"fixtures": types.ServiceConditionCompletedSuccessfully, "mock-kanta": types.ServiceConditionStarted, "postgres": types.ServiceConditionHealthy},
	}
	for name, want := range deps {
		s := service(t, p, name)
		got := map[string]string{}
		for dep, d := range s.DependsOn {
			got[dep] = d.Condition
		}
		if len(got) != len(want) {
			t.Errorf("%s depends on %v, want %v", name, got, want)
		}
		for dep, cond := range want {
			if got[dep] != cond {
				t.Errorf("%s: depends on %s %q, want %q", name, dep, got[dep], cond)
			}
		}
	}
	if s := service(t, p, "postgres"); s.HealthCheck == nil || len(s.HealthCheck.Test) == 0 {
		t.Error("postgres has no health check (gateway-postgres waits for it)")
	}
	pg := service(t, p, "postgres").Environment
	for k, v := range map[string]string{"POSTGRES_USER": "kanta", "POSTGRES_PASSWORD": "kanta", "POSTGRES_DB": "kanta"} {
		if pg[k] == nil || *pg[k] != v {
			t.Errorf("postgres: %s not %q", k, v)
		}
	}
	gf := service(t, p, "grafana").Environment
	if gf["GF_AUTH_ANONYMOUS_ENABLED"] == nil || *gf["GF_AUTH_ANONYMOUS_ENABLED"] != "true" ||
		gf["GF_AUTH_ANONYMOUS_ORG_ROLE"] == nil || *gf["GF_AUTH_ANONYMOUS_ORG_ROLE"] != "Viewer" {
		t.Error("grafana: anonymous viewer access is not configured")
	}

	// Commands.
	fixtures := strings.Join(service(t, p, "fixtures").Command, " ")
	for _, want := range []string{
		"kanta-gateway fixtures pki --out /work/pki",
		"kanta-gateway fixtures gen --n 500 --seed 1 --out /work/spool/generated.ndjson",
	} {
		if !strings.Contains(fixtures, want) {
			t.Errorf("fixtures command %q lacks %q", fixtures, want)
		}
	}
	wantMock := []string{"--listen", "0.0.0.0:8443", "--data-dir", "/work/mock", "--trust", "/work/pki/ca.pem",
		"--tls-cert", "/work/pki/server.pem", "--tls-key", "/work/pki/server-key.pem", "--client-ca", "/work/pki/ca.pem"}
	if got := []string(service(t, p, "mock-kanta").Command); !slices.Equal(got, wantMock) {
		t.Errorf("mock-kanta command %q, want %q", got, wantMock)
	}
	for name, file := range map[string]string{"gateway": "deploy/gateway/gateway.yaml", "gateway-postgres": "deploy/gateway/gateway-postgres.yaml"} {
		s := service(t, p, name)
		if got := []string(s.Command); !slices.Equal(got, []string{"run", "--config", "/etc/kanta-gateway/gateway.yaml"}) {
			t.Errorf("%s command %q", name, got)
		}
		src := bindSource(s, "/etc/kanta-gateway/gateway.yaml")
		if want, _ := filepath.Abs(repoPath(file)); src != want {
			t.Errorf("%s: config mounted from %q, want %q", name, src, want)
		}
	}

	// Monitoring mounts: what prometheus.yml and the Grafana provisioning
	// expect to find inside the containers.
	prom := service(t, p, "prometheus")
	if src := bindSource(prom, "/etc/prometheus"); filepath.Base(src) != "prometheus" {
		t.Errorf("prometheus: /etc/prometheus mounted from %q", src)
	}
	if !slices.Contains(prom.Command, "--config.file=/etc/prometheus/prometheus.yml") {
		t.Errorf("prometheus command %q", prom.Command)
	}
	graf := service(t, p, "grafana")
	if src := bindSource(graf, "/etc/grafana/provisioning"); !strings.HasSuffix(src, filepath.Join("deploy", "grafana", "provisioning")) {
		t.Errorf("grafana: provisioning mounted from %q", src)
	}
	dashDir := bindSource(graf, "/etc/grafana/dashboards")
	mustExist(t, "grafana dashboard", filepath.Join(dashDir, "kanta-gateway.json"), false)
	prov := readYAML[struct {
		Providers []struct {
			Options struct{ Path string } `yaml:"options"`
		} `yaml:"providers"`
	}](t, "deploy/grafana/provisioning/dashboards/dashboards.yml")
	if len(prov.Providers) != 1 || prov.Providers[0].Options.Path != "/etc/grafana/dashboards" {
		t.Errorf("dashboard provider %+v does not load /etc/grafana/dashboards", prov.Providers)
	}
}

func volumeTarget(s types.ServiceConfig, volume string) string {
	for _, v := range s.Volumes {
		if v.Type == types.VolumeTypeVolume && v.Source == volume {
			return v.Target
		}
	}
	return ""
}

func bindSource(s types.ServiceConfig, target string) string {
	for _, v := range s.Volumes {
		if v.Type == types.VolumeTypeBind && v.Target == target {
			return v.Source
		}
	}
	return ""
}

func readYAML[T any](t *testing.T, rel string) T {
	t.Helper()
	var v T
	b, err := os.ReadFile(repoPath(rel))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	return v
}

// --- gateway configurations ---------------------------------------------------

func TestGatewayConfigs(t *testing.T) {
	// Environment variables override the file; keep the test independent
	// of the caller's.
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "KANTA_GATEWAY_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	for _, tc := range []struct {
		file, backend string
	}{
		{"deploy/gateway/gateway.yaml", "sqlite"},
		{"deploy/gateway/gateway-postgres.yaml", "postgres"},
	} {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			c, err := config.Load(repoPath(tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if c.Environment != documents.EnvironmentTest {
				t.Errorf("environment %q", c.Environment)
			}
			if c.Queue.Backend != tc.backend {
				t.Errorf("queue.backend %q, want %q", c.Queue.Backend, tc.backend)
			}
			switch tc.backend {
			case "sqlite":
				if c.Queue.SQLitePath != "/work/data/gateway.db" {
					t.Errorf("queue.sqlite_path %q", c.Queue.SQLitePath)
				}
				if c.Spool.Dir != "/work/spool" {
					t.Errorf("spool.dir %q (fixtures write /work/spool/generated.ndjson)", c.Spool.Dir)
				}
			case "postgres":
				if c.Queue.PostgresDSN != "postgres://kanta:kanta@postgres:5432/kanta?sslmode=disable" {
					t.Error("queue.postgres_dsn is not the compose postgres service")
				}
			}
			paths := map[string]string{"spool.dir": c.Spool.Dir, "spool.quarantine_dir": c.Spool.QuarantineDir, "spool.done_dir": c.Spool.DoneDir}
			if c.Queue.Backend == "sqlite" {
				paths["queue.sqlite_path"] = c.Queue.SQLitePath
			}
			for key, path := range paths {
				if !strings.HasPrefix(path, "/work/") {
					t.Errorf("%s %q is not on the work volume", key, path)
				}
			}
			if c.Kanta.ArchiveURL != "https://mock-kanta:8443/archive/v1/messages" || c.Kanta.FHIRURL != "https://mock-kanta:8443/fhir/r4/Bundle" {
				t.Errorf("kanta URLs %q %q", c.Kanta.ArchiveURL, c.Kanta.FHIRURL)
			}
			if c.Kanta.ClientCert != "/work/pki/client.pem" || c.Kanta.ClientKey != "/work/pki/client-key.pem" || c.Kanta.CACert != "/work/pki/ca.pem" {
				t.Errorf("kanta TLS files %q %q %q", c.Kanta.ClientCert, c.Kanta.ClientKey, c.Kanta.CACert)
			}
			if len(c.Organisations) != 1 {
				t.Fatalf("%d organisations", len(c.Organisations))
			}
			o := c.Organisations[0]
			if o.OID != "1.2.246.10.2012566.19.1" || o.Name != "Helsingin kaupunki" || o.DocumentRoot != "1.2.246.10.2012566" {
				t.Errorf("organisation %s %q %s", o.OID, o.Name, o.DocumentRoot)
			}
			// The file `kanta-gateway fixtures pki` writes for this organiser.
			if o.PKCS12 != "/work/pki/signing-"+o.OID+".p12" || o.PKCS12Password != "kanta-test" {
				t.Errorf("organisation signing identity %q", o.PKCS12)
			}
			if c.Metrics.Listen != "0.0.0.0:9464" {
				t.Errorf("metrics.listen %q (Prometheus scrapes gateway:9464)", c.Metrics.Listen)
			}
		})
	}
	// Side by side on one volume: the two gateways must not share a spool
	// (both would ingest and move the same batches) or a data directory.
	a, errA := config.Load(repoPath("deploy/gateway/gateway.yaml"))
	b, errB := config.Load(repoPath("deploy/gateway/gateway-postgres.yaml"))
	if errA != nil || errB != nil {
		t.Fatal(errors.Join(errA, errB))
	}
	if a.Spool.Dir == b.Spool.Dir || a.Spool.DoneDir == b.Spool.DoneDir || a.Spool.QuarantineDir == b.Spool.QuarantineDir {
		t.Errorf("gateway and gateway-postgres share spool %q, done or quarantine directory", a.Spool.Dir)
	}
}

// --- Prometheus -----------------------------------------------------------------

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Record      string            `yaml:"record"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func TestPrometheusConfig(t *testing.T) {
	runPromtool(t, "check", "config", "deploy/prometheus/prometheus.yml")
	cfg := readYAML[struct {
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			MetricsPath   string `yaml:"metrics_path"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}](t, "deploy/prometheus/prometheus.yml")
	if !slices.Equal(cfg.RuleFiles, []string{"alert-rules.yml"}) {
		t.Errorf("rule_files %v", cfg.RuleFiles)
	}
	jobs := map[string][]string{}
	for _, sc := range cfg.ScrapeConfigs {
		for _, s := range sc.StaticConfigs {
			jobs[sc.JobName] = append(jobs[sc.JobName], s.Targets...)
		}
		if sc.JobName == "kanta-gateway" && sc.MetricsPath != "" && sc.MetricsPath != "/metrics" {
			t.Errorf("kanta-gateway metrics_path %q", sc.MetricsPath)
		}
	}
	if len(jobs) != 2 || !slices.Equal(jobs["kanta-gateway"], []string{"gateway:9464"}) || len(jobs["prometheus"]) != 1 {
		t.Errorf("scrape jobs %v, want kanta-gateway [gateway:9464] and prometheus", jobs)
	}
}

func TestAlertRules(t *testing.T) {
	runPromtool(t, "check", "rules", "deploy/prometheus/alert-rules.yml")
	rules := readYAML[ruleFile](t, "deploy/prometheus/alert-rules.yml")
	var got []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				t.Errorf("group %s: recording rule %q; only alerts belong here", g.Name, r.Record)
				continue
			}
			got = append(got, r.Alert)
			switch r.Labels["severity"] {
			case "warning", "critical":
			default:
				t.Errorf("%s: severity %q", r.Alert, r.Labels["severity"])
			}
			if r.Annotations["summary"] == "" || !strings.Contains(r.Annotations["description"], "Runbook:") {
				t.Errorf("%s: needs a summary and a description with a Runbook", r.Alert)
			}
			checkMetricNames(t, "alert "+r.Alert, r.Expr)
		}
	}
	if !slices.Equal(got, alertNames) {
		t.Errorf("alerts %v, want %v", got, alertNames)
	}

	// Every alert is unit tested both firing and not firing.
	tests := readYAML[struct {
		RuleFiles []string `yaml:"rule_files"`
		Tests     []struct {
			AlertRuleTest []struct {
				AlertName string           `yaml:"alertname"`
				ExpAlerts []map[string]any `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}](t, "deploy/prometheus/tests/alert-rules-test.yml")
	if !slices.Equal(tests.RuleFiles, []string{"../alert-rules.yml"}) {
		t.Errorf("test rule_files %v", tests.RuleFiles)
	}
	firing, quiet := map[string]bool{}, map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				firing[a.AlertName] = true
			} else {
				quiet[a.AlertName] = true
			}
		}
	}
	for _, a := range alertNames {
		if !firing[a] || !quiet[a] {
			t.Errorf("%s: unit tests firing %v, not firing %v; want both", a, firing[a], quiet[a])
		}
	}
	out := runPromtool(t, "test", "rules", "deploy/prometheus/tests/alert-rules-test.yml")
	if !strings.Contains(out, "SUCCESS") {
		t.Errorf("promtool test rules: %s", out)
	}
}

// --- metric names -----------------------------------------------------------

// metricRef finds metric names in PromQL: the gateway's namespace, and up
// as a selector (not the word in a label value).
var metricRef = regexp.MustCompile(`\b(kanta_gateway_[a-z0-9_]+)\b|\b(up)\{`)

// checkMetricNames fails when expr names a metric the gateway does not
// export (a histogram's _bucket, _sum and _count included).
func checkMetricNames(t *testing.T, where, expr string) {
	t.Helper()
	found := 0
	for _, m := range metricRef.FindAllStringSubmatch(expr, -1) {
		found++
		name := m[1]
		if name == "" { // up{...}: Prometheus' own per-target metric
			continue
		}
		if _, ok := gatewayMetrics[name]; ok {
			continue
		}
		base := name
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			base = strings.TrimSuffix(base, suffix)
		}
		if typ, ok := gatewayMetrics[base]; ok && typ == dto.MetricType_HISTOGRAM && base != name {
			continue
		}
		t.Errorf("%s: unknown metric %s in %q", where, name, expr)
	}
	if found == 0 {
		t.Errorf("%s: %q names no gateway metric", where, expr)
	}
}

func TestMetricListMatchesRegistry(t *testing.T) {
	stats := func(context.Context) (queue.Stats, error) {
		return queue.Stats{
			Depth:         map[string]int{"available": 2, "dead": 1},
			OldestDue:     90 * time.Second,
			NextScheduled: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC),
		}, nil
	}
	m := metrics.New(stats)
	// One observation of each, so that every vector appears in Gather.
	m.EntryRead(documents.OutcomeSubmit, documents.ReasonDue, documents.RolePsychologist)
	m.Built(documents.ArchivePatient, "cda", time.Millisecond)
	m.Submission(&queue.Delivery{Archive: documents.ArchivePatient, Route: "cda"}, queue.Result{Class: queue.Accepted, Code: "AA", Detail: "ACCEPTED"}, false, 50*time.Millisecond)
	m.BreakerState(0)
	m.CertificateExpiry("signing", "test", time.Now().Add(400*24*time.Hour))

	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]dto.MetricType{}
	for _, f := range families {
		if strings.HasPrefix(f.GetName(), "kanta_gateway_") {
			got[f.GetName()] = f.GetType()
		}
	}
	for name, typ := range gatewayMetrics {
		if g, ok := got[name]; !ok {
			t.Errorf("metric %s is not exported by metrics.New", name)
		} else if g != typ {
			t.Errorf("metric %s is a %s, the dashboard and alerts expect a %s", name, g, typ)
		}
	}
	for name := range got {
		if _, ok := gatewayMetrics[name]; !ok {
			t.Errorf("metric %s is exported but unknown to the deployment assets (add it to the dashboard and this list)", name)
		}
	}
	// Without a queue the queue collector is absent; the rest is there.
	bare, err := metrics.New(nil).Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range bare {
		if strings.HasPrefix(f.GetName(), "kanta_gateway_") {
			if _, ok := gatewayMetrics[f.GetName()]; !ok {
				t.Errorf("metrics.New(nil) exports unknown %s", f.GetName())
			}
		}
	}
}

// TestExpositionLints scrapes the registry the way Prometheus does and
// runs promtool's linter on the result.
func TestExpositionLints(t *testing.T) {
	for _, tc := range []struct {
		name  string
		stats func(context.Context) (queue.Stats, error)
	}{
		{"without queue", nil},
		{"with queue", func(context.Context) (queue.Stats, error) { return queue.Stats{Depth: map[string]int{}}, nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := metrics.New(tc.stats)
			// Every family the gateway sets, so that each is linted.
			m.EntryRead(documents.OutcomeHold, documents.ReasonNotYetDue, documents.RoleSchoolWelfareOfficer)
			m.Built(documents.ArchiveSocial, "fhir", 2*time.Millisecond)
			m.Submission(&queue.Delivery{Archive: documents.ArchiveSocial, Route: "cda"}, queue.Result{Class: queue.Retry, Code: "HTTP_503"}, false, time.Second)
			m.BreakerState(2)
			m.CertificateExpiry("tls_client", "kanta-gateway test client", time.Now().Add(29*24*time.Hour))
			srv := httptest.NewServer(promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
			defer srv.Close()
			resp, err := srv.Client().Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			var body bytes.Buffer
			_, err = body.ReadFrom(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("scrape: %d %v", resp.StatusCode, err)
			}
			if !strings.Contains(body.String(), "kanta_gateway_submissions_total{") {
				t.Fatalf("scrape lacks kanta_gateway_submissions_total:\n%.2000s", body.String())
			}
			cmd := exec.Command(promtool(t), "check", "metrics")
			cmd.Stdin = &body
			out, err := cmd.CombinedOutput() // exit status 3 on lint problems
			var problems []string
			for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				if line = strings.TrimSpace(line); line != "" {
					problems = append(problems, line)
				}
			}
			if err != nil || len(problems) > 0 {
				t.Errorf("promtool check metrics: %v\n%s", err, strings.Join(problems, "\n"))
			}
		})
	}
}

// --- Grafana --------------------------------------------------------------------

type panel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	} `json:"datasource"`
	FieldConfig struct {
		Defaults struct {
			Unit string `json:"unit"`
		} `json:"defaults"`
	} `json:"fieldConfig"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
	Panels []panel `json:"panels"`
}

func TestDashboard(t *testing.T) {
	raw, err := os.ReadFile(repoPath("deploy/grafana/dashboards/kanta-gateway.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID           string  `json:"uid"`
		Title         string  `json:"title"`
		SchemaVersion int     `json:"schemaVersion"`
		Panels        []panel `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	if dash.UID == "" || dash.SchemaVersion < 36 || dash.SchemaVersion > 40 {
		t.Errorf("dashboard uid %q schemaVersion %d", dash.UID, dash.SchemaVersion)
	}
	ds := readYAML[struct {
		Datasources []struct {
			UID  string `yaml:"uid"`
			Type string `yaml:"type"`
			URL  string `yaml:"url"`
		} `yaml:"datasources"`
	}](t, "deploy/grafana/provisioning/datasources/prometheus.yml")
	if len(ds.Datasources) != 1 || ds.Datasources[0].Type != "prometheus" || ds.Datasources[0].URL != "http://prometheus:9090" {
		t.Fatalf("datasources %+v", ds.Datasources)
	}
	uid := ds.Datasources[0].UID

	var all []panel
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			all = append(all, p)
			walk(p.Panels)
		}
	}
	walk(dash.Panels)
	byTitle := map[string]panel{}
	ids := map[int]bool{}
	var exprs []string
	for _, p := range all {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		byTitle[p.Title] = p
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != uid {
			t.Errorf("panel %q does not use the provisioned datasource %q", p.Title, uid)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			checkMetricNames(t, "panel "+p.Title, q.Expr)
			exprs = append(exprs, q.Expr)
		}
	}

	// The panels operators are told about, and what each must show.
	want := map[string]string{ // title -> a fragment its queries must contain
		"Submissions per archive and outcome": "sum by (archive, outcome) (rate(kanta_gateway_submissions_total",
		"Entries read by outcome":             "sum by (outcome) (rate(kanta_gateway_entries_read_total",
		"Queue depth by state":                "sum by (state) (kanta_gateway_queue_jobs",
		"Oldest due delivery":                 "kanta_gateway_queue_oldest_due_job_age_seconds",
		"Kanta acknowledgement codes":         "sum by (ack, code) (rate(kanta_gateway_kanta_acknowledgements_total",
		"Submission latency":                  "histogram_quantile(0.99, sum by (le) (rate(kanta_gateway_submission_duration_seconds_bucket",
		"Dead letters":                        `state="dead"`,
		"Next release":                        "kanta_gateway_queue_next_release_timestamp_seconds",
		"Certificate expiry":                  "(min by (usage, subject) (kanta_gateway_certificate_expiry_timestamp_seconds",
		"Circuit breaker":                     "kanta_gateway_circuit_breaker_state",
		"Signing duration":                    "kanta_gateway_signing_duration_seconds_bucket",
	}
	for title, fragment := range want {
		p, ok := byTitle[title]
		if !ok {
			t.Errorf("no panel %q", title)
			continue
		}
		var qs []string
		for _, q := range p.Targets {
			qs = append(qs, q.Expr)
		}
		if joined := strings.Join(qs, "\n"); !strings.Contains(joined, fragment) {
			t.Errorf("panel %q queries %q lack %q", title, joined, fragment)
		}
	}
	lat := byTitle["Submission latency"]
	for _, q := range []string{"0.5", "0.95", "0.99"} {
		if !slices.ContainsFunc(lat.Targets, func(tg struct {
			RefID string `json:"refId"`
			Expr  string `json:"expr"`
		}) bool {
			return strings.HasPrefix(tg.Expr, "histogram_quantile("+q+",")
		}) {
			t.Errorf("submission latency lacks quantile %s", q)
		}
	}
	next := byTitle["Next release"]
	if next.Type != "stat" || next.FieldConfig.Defaults.Unit != "dateTimeAsIso" || len(next.Targets) != 1 || !strings.HasSuffix(next.Targets[0].Expr, "* 1000") {
		t.Errorf("next release: type %s unit %s targets %v; want a stat of seconds*1000 as dateTimeAsIso", next.Type, next.FieldConfig.Defaults.Unit, next.Targets)
	}

	// Every query parses as PromQL: promtool checks them as recording rules
	// once Grafana's variables are replaced by what they expand to.
	vars := strings.NewReplacer("$__rate_interval", "1m", "$job", "kanta-gateway", "$instance", ".*")
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	for i, e := range exprs {
		expanded := vars.Replace(e)
		if strings.Contains(expanded, "$") {
			t.Errorf("query %q uses an unknown variable", e)
		}
		b, _ := json.Marshal(expanded)
		rules.WriteString("      - record: dashboard:query_" + strconv.Itoa(i) + "\n        expr: " + string(b) + "\n")
	}
	f := filepath.Join(t.TempDir(), "dashboard-rules.yml")
	if err := os.WriteFile(f, []byte(rules.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	runPromtool(t, "check", "rules", f)
}

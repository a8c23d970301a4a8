package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/helsinki-student-welfare/kanta-gateway/fixtures/gen"
)

// promFaults: half of the archive requests answer 503. With two attempts
// per delivery (below) about a quarter of the documents run out of
// attempts and are dead-lettered, and the Kanta error ratio is far above
// the alert's 20%.
const promFaults = `{"error_rate":0.5,"error_status":503,"seed":15}`

// TestPrometheusDashboardAndAlerts runs Debian's prometheus against the
// daemon with the repository's prometheus.yml (targets, interval and the
// rules' for: shortened for the test), drives a batch through a faulty
// mock Kanta, then evaluates every query of the Grafana dashboard through
// the HTTP API — each must return data — and waits for the dead-letter and
// Kanta-error alerts to fire.
func TestPrometheusDashboardAndAlerts(t *testing.T) {
	promBin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatalf("prometheus is not installed (scripts/test.sh installs Debian's prometheus package): %v", err)
	}
	m := startMock(t, t.TempDir(), promFaults)
	s := newSite(t, m, "sqlite", "", "")
	metricsAddr := freePort(t)
	env := []string{
		// The day before the social welfare go-live: welfare officers'
		// entries are held, so the next-release panel has a release to show.
		"KANTA_GATEWAY_NOW=2026-08-31T12:00:00+03:00",
		"KANTA_GATEWAY_METRICS_LISTEN=" + metricsAddr,
		"KANTA_GATEWAY_QUEUE_MAX_ATTEMPTS=2",
		"KANTA_GATEWAY_QUEUE_MAX_RETRY_AGE=0s",
		"KANTA_GATEWAY_KANTA_MAX_UNREADABLE_ANSWERS=1",
		// Half the answers fail: the breaker would pause sending for its
		// open period and only slow the test down.
		"KANTA_GATEWAY_KANTA_BREAKER_FAILURES=1000",
	}
	_, stop := s.daemon(env)

	prom := startPrometheus(t, promBin, metricsAddr)
	// Prometheus sees the gateway before the batch arrives, so the counters'
	// rise is scraped, not only their end values.
	prom.waitFor(t, `up{job="kanta-gateway"} == 1`, 60*time.Second)
	// The dashboard is looked at over the run: queries are evaluated as a
	// panel draws them, over this window (a rate of a burst that ended a
	// minute before the query is 0, its quantile NaN, yet the panel drew it).
	window := time.Now()

	batch := filepath.Join(t.TempDir(), "generated.ndjson")
	f, err := os.Create(batch)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gen.Write(f, gen.Options{N: 80, Seed: 15, Start: time.Date(2026, 8, 20, 8, 0, 0, 0, time.FixedZone("EEST", 3*3600))}); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	for _, src := range append([]string{batch}, scenarioFiles...) {
		s.copyToSpool(src)
	}

	// The batch is through when documents were dead-lettered and nothing
	// due is waiting any more (held deliveries wait for 2026-09-01).
	prom.waitFor(t, `sum(kanta_gateway_queue_jobs{state="dead"}) > 0 and on() sum(kanta_gateway_queue_jobs{state=~"available|running|retryable"}) == 0 and on() sum(kanta_gateway_queue_jobs{state="scheduled"}) > 0`, 3*time.Minute)
	time.Sleep(3 * time.Second) // a few more scrapes of the final counts

	queries := dashboardQueries(t, "../deploy/grafana/dashboards")
	if len(queries) < 10 {
		t.Fatalf("found %d dashboard queries; the dashboard has more", len(queries))
	}
	for _, q := range queries {
		if err := prom.returnsData(q.expr, window); err != nil {
			t.Errorf("dashboard panel %q: %s\n  query: %s\n  (a misspelled metric or a label value that never occurs)", q.panel, err, q.expr)
		}
	}
	t.Logf("%d dashboard queries evaluated through %s/api/v1/query_range", len(queries), prom.base)
	// The instance variable's own query (label_values) lists the gateway.
	if vals := prom.labelValues(t, "instance", `up{job="kanta-gateway"}`); !slices.Contains(vals, metricsAddr) {
		t.Errorf("instance variable offers %v, want %s", vals, metricsAddr)
	}
	// The check itself: a misspelled metric returns nothing and is caught.
	if err := prom.returnsData(strings.Replace(queries[0].expr, "kanta_gateway_", "kanta_gatewy_", 1), window); err == nil {
		t.Errorf("a misspelled copy of %q returned data: the check cannot fail", queries[0].expr)
	}

	firing := prom.waitAlerts(t, []string{"KantaGatewayDeadLetters", "KantaGatewayKantaErrorRatioHigh"}, 90*time.Second)
	t.Logf("alerts firing: %v", firing)

	if code := stop(); code != 0 {
		t.Errorf("daemon exit %d after SIGINT, want 0", code)
	}
	var stats struct {
		Faults map[string]int `json:"faults"`
	}
	m.get("/api/v1/stats", &stats)
	if stats.Faults["error"] == 0 {
		t.Errorf("the mock injected no errors: %v", stats.Faults)
	}
	scanLogs(t, s.logs.String(), personalData(t, append([]string{batch}, scenarioFiles...)...))
}

// promServer is a running prometheus process.
type promServer struct {
	base string
	logs *logBuffer
	hc   *http.Client
}

// startPrometheus runs prometheus with a test copy of deploy/prometheus:
// the gateway target at gatewayAddr, itself at its own port, a 1s scrape
// and evaluation interval, and alert rules whose for: is at most 2s.
func startPrometheus(t *testing.T, bin, gatewayAddr string) *promServer {
	t.Helper()
	dir := t.TempDir()
	addr := freePort(t)

	var cfg map[string]any
	readYAML(t, "../deploy/prometheus/prometheus.yml", &cfg)
	global, _ := cfg["global"].(map[string]any)
	if global == nil {
		t.Fatal("prometheus.yml has no global section")
	}
	global["scrape_interval"], global["evaluation_interval"] = "1s", "1s"
	scrapes, _ := cfg["scrape_configs"].([]any)
	jobs := map[string]bool{}
	for _, sc := range scrapes {
		job := sc.(map[string]any)
		name, _ := job["job_name"].(string)
		jobs[name] = true
		target := map[string]string{"kanta-gateway": gatewayAddr, "prometheus": addr}[name]
		if target == "" {
			t.Fatalf("prometheus.yml scrapes job %q: point it at a test process here", name)
		}
		job["static_configs"] = []any{map[string]any{"targets": []any{target}}}
	}
	if !jobs["kanta-gateway"] {
		t.Fatal(`prometheus.yml has no job "kanta-gateway" (the dashboard and alerts select job="kanta-gateway")`)
	}
	writeYAML(t, filepath.Join(dir, "prometheus.yml"), cfg)

	// The rule files, as prometheus.yml names them (relative to it), with
	// every for: cut to 2s so the test need not wait minutes.
	files, _ := cfg["rule_files"].([]any)
	if len(files) == 0 {
		t.Fatal("prometheus.yml loads no rule files")
	}
	for _, rf := range files {
		name := rf.(string)
		var rules map[string]any
		readYAML(t, filepath.Join("../deploy/prometheus", name), &rules)
		groups, _ := rules["groups"].([]any)
		for _, g := range groups {
			for _, r := range g.(map[string]any)["rules"].([]any) {
				rule := r.(map[string]any)
				if _, ok := rule["for"]; ok {
					rule["for"] = "2s"
				}
			}
		}
		writeYAML(t, filepath.Join(dir, name), rules)
	}

	p := &promServer{base: "http://" + addr, logs: &logBuffer{}, hc: &http.Client{Timeout: 10 * time.Second}}
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("prometheus output:\n%s", tail(p.logs.String()))
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-exited:
			t.Fatalf("prometheus exited at start:\n%s", p.logs.String())
		default:
		}
		resp, err := p.hc.Get(p.base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready after 60s: %v\n%s", err, p.logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// sample is one element of an instant query's vector (or a scalar).
type sample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

func (s sample) float() float64 {
	str, _ := s.Value[1].(string)
	v, err := strconv.ParseFloat(str, 64)
	if err != nil {
		return math.NaN()
	}
	return v
}

// query evaluates expr now through /api/v1/query.
func (p *promServer) query(expr string) ([]sample, error) {
	var out struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := p.api("/api/v1/query?query="+url.QueryEscape(expr), &out); err != nil {
		return nil, err
	}
	if out.Status != "success" {
		return nil, fmt.Errorf("query failed: %s", out.Error)
	}
	switch out.Data.ResultType {
	case "vector":
		var v []sample
		err := json.Unmarshal(out.Data.Result, &v)
		return v, err
	case "scalar":
		var s sample
		err := json.Unmarshal(out.Data.Result, &s.Value)
		return []sample{s}, err
	}
	return nil, fmt.Errorf("result type %s", out.Data.ResultType)
}

// returnsData is the dashboard check: over the window from since to now
// (step 1s, as a panel over the run draws it), the query returns at least
// one series, and at least one of its values is a number (a histogram
// quantile over buckets that never filled is NaN: the panel would draw
// nothing).
func (p *promServer) returnsData(expr string, since time.Time) error {
	var out struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
				Values [][2]any          `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	q := url.Values{
		"query": {expr},
		"start": {strconv.FormatInt(since.Unix(), 10)},
		"end":   {strconv.FormatInt(time.Now().Unix(), 10)},
		"step":  {"1"},
	}
	if err := p.api("/api/v1/query_range?"+q.Encode(), &out); err != nil {
		return err
	}
	if out.Status != "success" {
		return fmt.Errorf("query failed: %s", out.Error)
	}
	if out.Data.ResultType != "matrix" {
		return fmt.Errorf("result type %s", out.Data.ResultType)
	}
	if len(out.Data.Result) == 0 {
		return fmt.Errorf("no data")
	}
	for _, series := range out.Data.Result {
		for _, v := range series.Values {
			if !math.IsNaN((sample{Value: v}).float()) {
				return nil
			}
		}
	}
	return fmt.Errorf("only NaN values over the run (%d series)", len(out.Data.Result))
}

func (p *promServer) api(path string, v any) error {
	resp, err := p.hc.Get(p.base + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", path, resp.Status, body)
	}
	return json.Unmarshal(body, v)
}

// waitFor waits until expr returns data.
func (p *promServer) waitFor(t *testing.T, expr string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		v, err := p.query(expr)
		if err == nil && len(v) > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s, still no data for %s (last error %v)\nprometheus:\n%s", timeout, expr, err, tail(p.logs.String()))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func (p *promServer) labelValues(t *testing.T, label, match string) []string {
	t.Helper()
	var out struct {
		Data []string `json:"data"`
	}
	if err := p.api("/api/v1/label/"+label+"/values?match[]="+url.QueryEscape(match), &out); err != nil {
		t.Fatal(err)
	}
	return out.Data
}

// waitAlerts waits until every named alert is firing in /api/v1/alerts and
// returns every alert's name and state.
func (p *promServer) waitAlerts(t *testing.T, names []string, timeout time.Duration) map[string]string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var out struct {
			Data struct {
				Alerts []struct {
					Labels map[string]string `json:"labels"`
					State  string            `json:"state"`
				} `json:"alerts"`
			} `json:"data"`
		}
		err := p.api("/api/v1/alerts", &out)
		states := map[string]string{}
		for _, a := range out.Data.Alerts {
			if states[a.Labels["alertname"]] != "firing" {
				states[a.Labels["alertname"]] = a.State
			}
		}
		missing := 0
		for _, n := range names {
			if states[n] != "firing" {
				missing++
			}
		}
		if err == nil && missing == 0 {
			return states
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s, alerts are %v (error %v); want %v firing", timeout, states, err, names)
		}
		time.Sleep(time.Second)
	}
}

// dashboardQuery is one panel target's PromQL with the dashboard's
// variables replaced as Grafana would replace them.
type dashboardQuery struct{ panel, expr string }

// grafanaVar matches $name, ${name} and [[name]].
var grafanaVar = regexp.MustCompile(`\$\{(\w+)\}|\$(\w+)|\[\[(\w+)\]\]`)

// dashboardQueries reads every expr of every panel (rows' nested panels
// too) of the dashboards under dir. Dashboard variables take their
// current value (All: the variable's allValue); Grafana's built-in
// intervals take what a dashboard over the last minutes would use.
func dashboardQueries(t *testing.T, dir string) []dashboardQuery {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) == 0 {
		t.Fatalf("no dashboards in %s", dir)
	}
	type panel struct {
		Title   string `json:"title"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
		Panels []json.RawMessage `json:"panels"`
	}
	var out []dashboardQuery
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			Panels     []json.RawMessage `json:"panels"`
			Templating struct {
				List []struct {
					Name     string `json:"name"`
					AllValue string `json:"allValue"`
					Current  struct {
						Value any `json:"value"`
					} `json:"current"`
				} `json:"list"`
			} `json:"templating"`
		}
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		vars := map[string]string{"__rate_interval": "1m", "__interval": "15s", "__range": "5m"}
		for _, v := range d.Templating.List {
			cur := fmt.Sprint(v.Current.Value)
			if cur == "$__all" || cur == "[$__all]" {
				cur = v.AllValue
			}
			vars[v.Name] = cur
		}
		var walk func([]json.RawMessage)
		walk = func(raw []json.RawMessage) {
			for _, r := range raw {
				var p panel
				if err := json.Unmarshal(r, &p); err != nil {
					t.Fatalf("%s: panel: %v", file, err)
				}
				for _, tg := range p.Targets {
					if tg.Expr == "" {
						continue
					}
					expr := grafanaVar.ReplaceAllStringFunc(tg.Expr, func(m string) string {
						g := grafanaVar.FindStringSubmatch(m)
						name := g[1] + g[2] + g[3]
						v, ok := vars[name]
						if !ok {
							t.Errorf("%s: panel %q uses unknown variable %s", file, p.Title, m)
						}
						return v
					})
					out = append(out, dashboardQuery{panel: p.Title, expr: expr})
				}
				walk(p.Panels)
			}
		}
		walk(d.Panels)
	}
	return out
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func writeYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

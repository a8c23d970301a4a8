package metrics

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/queue"
)

func TestSubmissionOutcomesAndAnswerLabels(t *testing.T) {
	m := New(nil)
	d := &queue.Delivery{Archive: documents.ArchivePatient, Route: queue.RouteCDA}
	for _, tc := range []struct {
		r         queue.Result
		dead      bool
		outcome   string
		ack, code string
	}{
		{queue.Result{Class: queue.Accepted, Code: "CA", Detail: "ACCEPTED"}, false, "accepted", "CA", "ACCEPTED"},
		{queue.Result{Class: queue.Duplicate, Code: "AA", Detail: "DUPLICATE"}, false, "duplicate", "AA", "DUPLICATE"},
		{queue.Result{Class: queue.Retry, Code: "CE", Detail: "SERVICE_UNAVAILABLE"}, false, "retry", "CE", "SERVICE_UNAVAILABLE"},
		{queue.Result{Class: queue.Retry, Code: "TRANSPORT"}, false, "retry", "none", "TRANSPORT"},
		{queue.Result{Class: queue.Retry, Code: "HTTP_503"}, true, "dead", "none", "HTTP_503"}, // the last attempt
		{queue.Result{Class: queue.Permanent, Code: "CR", Detail: "SIGNATURE_INVALID"}, false, "dead", "CR", "SIGNATURE_INVALID"},
		{queue.Result{Class: queue.Permanent, Code: "AR"}, false, "dead", "AR", "none"},
		{queue.Result{Class: queue.Permanent, Code: "AR", Detail: "Virhe: <html>"}, false, "dead", "AR", "other"},
	} {
		m.Submission(d, tc.r, tc.dead, 10*time.Millisecond)
		if got := value(t, m.submissions.WithLabelValues("patient", "cda", tc.outcome)); got < 1 {
			t.Errorf("%+v: no submission counted as %s", tc.r, tc.outcome)
		}
		if got := value(t, m.acks.WithLabelValues(tc.ack, tc.code)); got != 1 {
			t.Errorf("%+v: acknowledgements{ack=%s,code=%s} = %v, want 1", tc.r, tc.ack, tc.code, got)
		}
	}
	if n := count(t, m.submitLatency); n != 1 {
		t.Errorf("latency series: %d, want 1 (patient, cda)", n)
	}
	// A zero duration (nothing was sent) is no latency sample.
	before := count(t, m.submitLatency)
	m.Submission(&queue.Delivery{Archive: documents.ArchiveSocial, Route: queue.RouteFHIR}, queue.Result{Class: queue.Retry, Code: "CIRCUIT_OPEN"}, false, 0)
	if after := count(t, m.submitLatency); after != before {
		t.Errorf("a refusal without sending added a latency series (%d → %d)", before, after)
	}
}

// Labels are a bounded set and never carry what an answer may echo: an
// identity code, a name, free text.
func TestBoundCode(t *testing.T) {
	for in, want := range map[string]string{
		"SIGNATURE_INVALID":                "SIGNATURE_INVALID",
		"HTTP_502":                         "HTTP_502",
		"none":                             "other", // lower case is no code of ours
		"010100A998F":                      "other", // an identity code of the 2000s: letters and digits only
		"131052-308T":                      "other",
		"Matti Meikäläinen":                "other",
		strings.Repeat("A", 41):            "other",
		"SIGNER_NOT_SIGNING_CERTIFICATE":   "SIGNER_NOT_SIGNING_CERTIFICATE",
		"STRUCTURED_SERVICE_TASK_MISMATCH": "STRUCTURED_SERVICE_TASK_MISMATCH",
	} {
		if got := boundCode(in); got != want {
			t.Errorf("boundCode(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEntryReadAndGauges(t *testing.T) {
	m := New(nil)
	m.EntryRead(documents.Outcome("submit"), documents.ReasonClass("due"), "")
	if got := value(t, m.entriesRead.WithLabelValues("submit", "due", "unknown")); got != 1 {
		t.Errorf("an entry without a role counted under role=unknown: %v", got)
	}
	m.Built(documents.ArchiveSocial, "cda", 3*time.Millisecond)
	if got := value(t, m.built.WithLabelValues("social", "cda")); got != 1 {
		t.Errorf("documents_built_total = %v", got)
	}
	m.BreakerState(2)
	if got := value(t, m.breaker); got != 2 {
		t.Errorf("breaker gauge %v, want 2", got)
	}
	m.StoreWritable(false)
	if got := value(t, m.writable); got != 0 {
		t.Errorf("store_writable %v after a failed probe", got)
	}
	m.StoreWritable(true)
	if got := value(t, m.writable); got != 1 {
		t.Errorf("store_writable %v after a good probe", got)
	}
	exp := time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)
	m.CertificateExpiry("signing", "1.2.246.10.2012566.10.40", exp)
	if got := value(t, m.certExpiry.WithLabelValues("signing", "1.2.246.10.2012566.10.40")); got != float64(exp.Unix()) {
		t.Errorf("certificate expiry %v, want %d", got, exp.Unix())
	}
}

// The queue's statistics are read at scrape time, at most every 2 s; a
// failing read reports queue_up 0 and keeps the last good values.
func TestQueueCollector(t *testing.T) {
	var calls atomic.Int32
	var fail atomic.Bool
	next := time.Date(2026, 9, 1, 0, 0, 0, 0, time.FixedZone("EEST", 3*3600))
	c := &queueCollector{stats: func(context.Context) (queue.Stats, error) {
		calls.Add(1)
		if fail.Load() {
			return queue.Stats{}, errors.New("database is locked")
		}
		return queue.Stats{Depth: map[string]int{"scheduled": 3, "dead": 1}, OldestDue: 90 * time.Second, NextScheduled: next}, nil
	}}
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	want := func(up float64) map[string]float64 {
		return map[string]float64{
			`kanta_gateway_queue_jobs{state="available"}`: 0, `kanta_gateway_queue_jobs{state="dead"}`: 1,
			`kanta_gateway_queue_jobs{state="retryable"}`: 0, `kanta_gateway_queue_jobs{state="running"}`: 0,
			`kanta_gateway_queue_jobs{state="scheduled"}`:        3,
			"kanta_gateway_queue_next_release_timestamp_seconds": float64(next.Unix()),
			"kanta_gateway_queue_oldest_due_job_age_seconds":     90,
			"kanta_gateway_queue_up":                             up,
		}
	}
	for i := 0; i < 2; i++ {
		compare(t, gather(t, reg), want(1))
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("two scrapes within 2 s read the queue %d times, want once", n)
	}
	// Past the cache the read fails: the last values stay, up is 0.
	fail.Store(true)
	c.mu.Lock()
	c.at = time.Now().Add(-3 * time.Second)
	c.mu.Unlock()
	compare(t, gather(t, reg), want(0))
	if n := calls.Load(); n != 2 {
		t.Fatalf("a scrape after the cache ran out: %d queue reads in all, want 2", n)
	}
}

// New registers the queue collector only when it is given statistics.
func TestNewRegistersTheQueueCollectorWithStatsOnly(t *testing.T) {
	stats := func(context.Context) (queue.Stats, error) { return queue.Stats{}, nil }
	for _, tc := range []struct {
		m    *Metrics
		want int
	}{{New(nil), 0}, {New(stats), 1}} {
		n := 0
		for k := range gather(t, tc.m.Registry) {
			if k == "kanta_gateway_queue_up" {
				n++
			}
		}
		if n != tc.want {
			t.Errorf("queue_up series: %d, want %d", n, tc.want)
		}
	}
}

// value reads the one counter or gauge a collector holds.
func value(t *testing.T, c prometheus.Collector) float64 {
	t.Helper()
	ch := make(chan prometheus.Metric, 1)
	c.Collect(ch)
	close(ch)
	var m dto.Metric
	if err := (<-ch).Write(&m); err != nil {
		t.Fatal(err)
	}
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.Gauge.GetValue()
}

// count is how many series a collector holds.
func count(t *testing.T, c prometheus.Collector) int {
	t.Helper()
	ch := make(chan prometheus.Metric, 64)
	c.Collect(ch)
	close(ch)
	return len(ch)
}

// gather reads a registry's gauges and counters as name{label="value"} → value.
func gather(t *testing.T, g prometheus.Gatherer) map[string]float64 {
	t.Helper()
	fams, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			key := f.GetName()
			if len(m.GetLabel()) > 0 {
				var ls []string
				for _, l := range m.GetLabel() {
					ls = append(ls, l.GetName()+`="`+l.GetValue()+`"`)
				}
				key += "{" + strings.Join(ls, ",") + "}"
			}
			switch {
			case m.Counter != nil:
				out[key] = m.Counter.GetValue()
			case m.Gauge != nil:
				out[key] = m.Gauge.GetValue()
			}
		}
	}
	return out
}

func compare(t *testing.T, got, want map[string]float64) {
	t.Helper()
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d series, want %d: %v", len(got), len(want), got)
	}
}

// Every route's signing histogram and every archive and route's build
// counter exist at zero before anything is signed: Prometheus then scrapes
// the zero, and a batch signed within one scrape interval still shows as a
// rise (rate > 0) instead of a series born at its final count.
func TestSigningAndBuildSeriesStartAtZero(t *testing.T) {
	m := New(nil)
	got := gather(t, m.Registry)
	for _, a := range []string{"patient", "social"} {
		for _, r := range []string{"cda", "fhir"} {
			k := `kanta_gateway_documents_built_total{archive="` + a + `",route="` + r + `"}`
			if v, ok := got[k]; !ok || v != 0 {
				t.Errorf("%s = %v (present %v), want 0 before any build", k, v, ok)
			}
			for _, o := range []string{"accepted", "duplicate", "retry", "dead"} {
				k := `kanta_gateway_submissions_total{archive="` + a + `",outcome="` + o + `",route="` + r + `"}`
				if v, ok := got[k]; !ok || v != 0 {
					t.Errorf("%s = %v (present %v), want 0 before any submission", k, v, ok)
				}
			}
		}
	}
	fams, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	routes := map[string]bool{}
	for _, f := range fams {
		if f.GetName() != "kanta_gateway_signing_duration_seconds" {
			continue
		}
		for _, s := range f.GetMetric() {
			if s.GetHistogram().GetSampleCount() != 0 {
				t.Errorf("signing histogram %v has samples before any signing", s.GetLabel())
			}
			for _, l := range s.GetLabel() {
				routes[l.GetValue()] = true
			}
		}
	}
	if !routes["cda"] || !routes["fhir"] {
		t.Errorf("signing histogram series before any signing: %v, want cda and fhir", routes)
	}
}

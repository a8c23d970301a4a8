// Package metrics is the gateway's Prometheus instrumentation. Labels are
// bounded sets only (archive, role, route, outcome, code, state): never
// identity codes, names, entry or document ids.
package metrics

import (
	"context"
	"runtime/debug"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/queue"
)

const ns = "kanta_gateway"

// Metrics holds the gateway's collectors on its own registry.
type Metrics struct {
	Registry *prometheus.Registry

	entriesRead   *prometheus.CounterVec
	built         *prometheus.CounterVec
	signing       *prometheus.HistogramVec
	submissions   *prometheus.CounterVec
	submitLatency *prometheus.HistogramVec
	acks          *prometheus.CounterVec
	breaker       prometheus.Gauge
	writable      prometheus.Gauge
	certExpiry    *prometheus.GaugeVec
}

// New registers every collector, the Go and process collectors and build
// info. stats may be nil (commands without a queue).
func New(stats func(context.Context) (queue.Stats, error)) *Metrics {
	m := &Metrics{Registry: prometheus.NewRegistry()}
	m.entriesRead = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Name: "entries_read_total",
		Help: "Entry revisions read from export batches, by policy outcome and reason class.",
	}, []string{"outcome", "reason_class", "role"})
	m.built = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Name: "documents_built_total",
		Help: "Documents built and signed, by archive and route (cda, fhir).",
	}, []string{"archive", "route"})
	m.signing = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: ns, Name: "signing_duration_seconds",
		Help:    "Time to sign one document.",
		Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .25},
	}, []string{"route"})
	m.submissions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Name: "submissions_total",
		Help: "Submission attempts to Kanta by archive, route and outcome (accepted, duplicate, retry, dead).",
	}, []string{"archive", "route", "outcome"})
	m.submitLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: ns, Name: "submission_duration_seconds",
		Help:    "Time from sending a document to Kanta's answer.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"archive", "route"})
	m.acks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Name: "kanta_acknowledgements_total",
		Help: "Answers from Kanta by acknowledgement class (AA, AE, AR, or transport/HTTP) and detail code.",
	}, []string{"ack", "code"})
	m.breaker = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: ns, Name: "circuit_breaker_state",
		Help: "Circuit breaker toward Kanta: 0 closed, 1 half-open, 2 open.",
	})
	m.writable = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: ns, Name: "store_writable",
		Help: "Whether the queue store's last write probe committed (1) or failed (0: disk full, database read-only or unreachable).",
	})
	// Expiry as a timestamp, as Prometheus naming wants base units; days
	// left are (metric - time()) / 86400 in rules and dashboards.
	m.certExpiry = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: ns, Name: "certificate_expiry_timestamp_seconds",
		Help: "When a configured certificate expires (Unix time), by usage (signing, tls_client) and the certificate's subject serial number or common name.",
	}, []string{"usage", "subject"})
	info := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: ns, Name: "build_info",
		Help: "Build information of the running gateway (always 1).",
	}, []string{"version", "goversion"})
	version, goversion := "devel", "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		goversion = bi.GoVersion
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
	}
	info.WithLabelValues(version, goversion).Set(1)
	// Series of every route and archive exist from the start, at zero: a
	// batch signed between two scrapes would otherwise appear already at its
	// final count, so rate() would see no increase and the signing and build
	// panels would draw nothing for it.
	for _, route := range []string{queue.RouteCDA, queue.RouteFHIR} {
		m.signing.WithLabelValues(route)
		for _, a := range []documents.Archive{documents.ArchivePatient, documents.ArchiveSocial} {
			m.built.WithLabelValues(string(a), route)
			// Submissions too: an outcome's series that first appears at
			// 30 has lost those 30 to rate(), so the error-ratio alert saw
			// too few failures when a batch's retries came between scrapes.
			for _, outcome := range []string{"accepted", "duplicate", "retry", "dead"} {
				m.submissions.WithLabelValues(string(a), route, outcome)
			}
		}
	}
	m.Registry.MustRegister(m.entriesRead, m.built, m.signing, m.submissions, m.submitLatency, m.acks, m.breaker, m.writable, m.certExpiry, info,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if stats != nil {
		m.Registry.MustRegister(&queueCollector{stats: stats})
	}
	return m
}

// EntryRead counts one policy outcome.
func (m *Metrics) EntryRead(o documents.Outcome, c documents.ReasonClass, r documents.Role) {
	role := string(r)
	if role == "" {
		role = "unknown"
	}
	m.entriesRead.WithLabelValues(string(o), string(c), role).Inc()
}

// Built counts one signed document.
func (m *Metrics) Built(a documents.Archive, route string, signing time.Duration) {
	m.built.WithLabelValues(string(a), route).Inc()
	m.signing.WithLabelValues(route).Observe(signing.Seconds())
}

// Submission records one attempt's outcome and latency.
func (m *Metrics) Submission(d *queue.Delivery, r queue.Result, dead bool, took time.Duration) {
	outcome := "retry"
	switch {
	case r.Class == queue.Accepted:
		outcome = "accepted"
	case r.Class == queue.Duplicate:
		outcome = "duplicate"
	case dead || r.Class == queue.Permanent:
		outcome = "dead"
	}
	m.submissions.WithLabelValues(string(d.Archive), d.Route, outcome).Inc()
	if took > 0 {
		m.submitLatency.WithLabelValues(string(d.Archive), d.Route).Observe(took.Seconds())
	}
	ack, code := "none", r.Code
	switch r.Code {
	case "AA", "AE", "AR", "CA", "CE", "CR": // both acknowledgement families (wire/ack.go)
		ack, code = r.Code, r.Detail
	}
	if code = boundCode(code); code == "" {
		code = "none"
	}
	m.acks.WithLabelValues(ack, code).Inc()
}

// boundCode keeps the code label a bounded set: our detail table, HTTP
// classes and a few transport codes; anything else is "other". An
// identity code of the 2000s (010100A998F) is letters and digits only, so
// its shape is refused whatever its check character: an answer may echo
// one as its detail.
func boundCode(c string) string {
	if len(c) > 40 {
		return "other"
	}
	if looksLikeHetu(c) {
		return "other"
	}
	for _, r := range c {
		if !(r == '_' || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')) {
			return "other"
		}
	}
	return c
}

// looksLikeHetu: DDMMYY, a century sign, three digits, a check character.
func looksLikeHetu(c string) bool {
	if len(c) != 11 {
		return false
	}
	for i, r := range c[:10] {
		digit := r >= '0' && r <= '9'
		if (i == 6) == digit {
			return false
		}
	}
	return true
}

// BreakerState sets the circuit-breaker gauge.
func (m *Metrics) BreakerState(s int) { m.breaker.Set(float64(s)) }

// StoreWritable sets the store-writable gauge.
func (m *Metrics) StoreWritable(ok bool) {
	v := 0.0
	if ok {
		v = 1
	}
	m.writable.Set(v)
}

// CertificateExpiry records when one certificate expires.
func (m *Metrics) CertificateExpiry(usage, subject string, notAfter time.Time) {
	m.certExpiry.WithLabelValues(usage, subject).Set(float64(notAfter.Unix()))
}

// queueCollector reads queue statistics at scrape time (cached briefly,
// so a busy Prometheus cannot load the database).
type queueCollector struct {
	stats func(context.Context) (queue.Stats, error)
	mu    sync.Mutex
	at    time.Time
	last  queue.Stats
	ok    bool
}

var (
	depthDesc  = prometheus.NewDesc(ns+"_queue_jobs", "Deliveries in the queue by state (scheduled, available, running, retryable, dead).", []string{"state"}, nil)
	oldestDesc = prometheus.NewDesc(ns+"_queue_oldest_due_job_age_seconds", "Age of the oldest delivery that is due and not yet done (0 when none).", nil, nil)
	nextDesc   = prometheus.NewDesc(ns+"_queue_next_release_timestamp_seconds", "When the next held delivery becomes due (Unix time; 0 when none is held).", nil, nil)
	upDesc     = prometheus.NewDesc(ns+"_queue_up", "Whether the queue's statistics could be read (1) or not (0).", nil, nil)
)

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- depthDesc
	ch <- oldestDesc
	ch <- nextDesc
	ch <- upDesc
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	if time.Since(c.at) > 2*time.Second {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		s, err := c.stats(ctx)
		cancel()
		c.at, c.ok = time.Now(), err == nil
		if err == nil {
			c.last = s
		}
	}
	s, ok := c.last, c.ok
	c.mu.Unlock()
	up := 0.0
	if ok {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, up)
	for _, st := range []string{"scheduled", "available", "running", "retryable", "dead"} {
		ch <- prometheus.MustNewConstMetric(depthDesc, prometheus.GaugeValue, float64(s.Depth[st]), st)
	}
	ch <- prometheus.MustNewConstMetric(oldestDesc, prometheus.GaugeValue, s.OldestDue.Seconds())
	next := 0.0
	if !s.NextScheduled.IsZero() {
		next = float64(s.NextScheduled.Unix())
	}
	ch <- prometheus.MustNewConstMetric(nextDesc, prometheus.GaugeValue, next)
}

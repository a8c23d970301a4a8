// Package submit sends deliveries to Kanta over HTTPS with client
// certificates, and says what each answer means (classify.go).
package submit

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"golang.org/x/time/rate"

	"github.com/helsinki-student-welfare/kanta-gateway/clock"
	"github.com/helsinki-student-welfare/kanta-gateway/queue"
)

// Routes a delivery can take.
const (
	RouteCDA  = queue.RouteCDA
	RouteFHIR = queue.RouteFHIR
)

// Config of the submitter.
type Config struct {
	ArchiveURL string
	FHIRURL    string
	// ClientCert/ClientKey/CACert are PEM files; empty for plain HTTP.
	ClientCert, ClientKey, CACert string
	Timeout                       time.Duration
	// RateLimit is requests per second toward Kanta (0 = unlimited).
	RateLimit       float64
	BreakerFailures int
	BreakerOpenFor  time.Duration
	// QuickRetries are immediate resends inside one attempt for transport
	// errors only (same bytes); the durable queue owns real retries.
	QuickRetries int
	Clock        clock.Clock
	Logger       *slog.Logger
	// OnBreaker is told about every circuit-breaker state change.
	OnBreaker func(BreakerState)
}

// Submitter implements queue.Submitter.
type Submitter struct {
	cfg     Config
	client  *retryablehttp.Client
	limiter *rate.Limiter
	breaker *breaker
}

// New builds the HTTP client (mutual TLS when certificates are given).
func New(cfg Config) (*Submitter, error) {
	if cfg.Clock == nil {
		cfg.Clock = clock.System{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.BreakerFailures <= 0 {
		cfg.BreakerFailures = 20
	}
	if cfg.BreakerOpenFor <= 0 {
		cfg.BreakerOpenFor = 30 * time.Second
	}
	tlsCfg, err := TLSConfig(cfg.ClientCert, cfg.ClientKey, cfg.CACert)
	if err != nil {
		return nil, err
	}
	transport := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		TLSClientConfig:     tlsCfg,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
	}
	rc := retryablehttp.NewClient()
	rc.HTTPClient = &http.Client{Transport: transport, Timeout: cfg.Timeout}
	rc.Logger = nil
	rc.RetryMax = cfg.QuickRetries
	rc.RetryWaitMin = 50 * time.Millisecond
	rc.RetryWaitMax = 500 * time.Millisecond
	// Only transport failures are retried in place; every HTTP answer goes
	// back to the caller to be classified once, in Classify.
	rc.CheckRetry = func(ctx context.Context, resp *http.Response, err error) (bool, error) {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		return err != nil, nil
	}
	rc.ErrorHandler = retryablehttp.PassthroughErrorHandler
	s := &Submitter{cfg: cfg, client: rc}
	if cfg.RateLimit > 0 {
		burst := int(cfg.RateLimit)
		if burst < 1 {
			burst = 1
		}
		s.limiter = rate.NewLimiter(rate.Limit(cfg.RateLimit), burst)
	}
	s.breaker = &breaker{failures: cfg.BreakerFailures, openFor: cfg.BreakerOpenFor, now: cfg.Clock.Now, onChange: cfg.OnBreaker}
	return s, nil
}

// TLSConfig builds a client TLS configuration: client certificate and trust
// roots from PEM files. All empty → nil (plain HTTP or system roots).
func TLSConfig(certFile, keyFile, caFile string) (*tls.Config, error) {
	if certFile == "" && caFile == "" {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if certFile != "" {
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("kanta client certificate: %w", err)
		}
		c.Certificates = []tls.Certificate{pair}
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("kanta trust roots: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("kanta trust roots %s: no PEM certificates", caFile)
		}
		c.RootCAs = pool
	}
	return c, nil
}

// BreakerState is the circuit breaker's current state.
func (s *Submitter) BreakerState() BreakerState { return s.breaker.State() }

// Submit sends one delivery's payload, byte for byte as built, and
// classifies the answer.
func (s *Submitter) Submit(ctx context.Context, d *queue.Delivery) queue.Result {
	if ok, wait := s.breaker.allow(); !ok {
		return queue.Result{Class: queue.Retry, Code: "CIRCUIT_OPEN", Text: "Kanta is failing everywhere; holding back", RetryAfter: wait}
	}
	if s.limiter != nil {
		if err := s.limiter.Wait(ctx); err != nil {
			s.breaker.record(true) // not Kanta's fault; do not count it
			return queue.Result{Class: queue.Retry, Code: "CANCELLED", Text: "stopped while waiting for the rate limit", Err: err}
		}
	}
	url, contentType := s.cfg.ArchiveURL, "text/xml; charset=UTF-8"
	if d.Route == RouteFHIR {
		url, contentType = s.cfg.FHIRURL, "application/fhir+json"
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(d.Payload))
	if err != nil {
		return queue.Result{Class: queue.Permanent, Code: "BAD_REQUEST", Text: err.Error(), Err: err}
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("X-Document-Id", d.DocumentID)
	sent := time.Now()
	resp, err := s.client.Do(req)
	var body []byte
	if err == nil {
		body, err = io.ReadAll(io.LimitReader(resp.Body, 4<<20))
		resp.Body.Close()
		if err != nil {
			resp = nil
		}
	}
	r := Classify(d.Route, resp, body, err, s.cfg.Clock.Now())
	r.Took = time.Since(sent)
	// Only failures that say Kanta itself is unwell trip the breaker; a
	// rejected document says nothing about Kanta's health.
	s.breaker.record(!(r.Class == queue.Retry && r.Code != "HTTP_429"))
	return r
}

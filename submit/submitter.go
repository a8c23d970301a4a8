// Package submit sends deliveries to Kanta over HTTPS with client
// certificates, and says what each answer means (classify.go).
package submit

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"golang.org/x/time/rate"

	"github.com/helsinki-student-welfare/kanta-gateway/clock"
	"github.com/helsinki-student-welfare/kanta-gateway/queue"
	"github.com/helsinki-student-welfare/kanta-gateway/wire"
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
	// QuickRetries are immediate resends inside one attempt when dialling
	// failed (nothing was sent); the durable queue owns real retries.
	QuickRetries int
	Clock        clock.Clock
	Logger       *slog.Logger
	// OnBreaker is told about every circuit-breaker state change.
	OnBreaker func(BreakerState)

	// Envelope is the transport envelope of archive messages and queries
	// (default none: bare XML). ArchiveAction and QueryAction are their
	// SOAP actions.
	Envelope                   wire.Envelope
	ArchiveAction, QueryAction string
	// QueryInteraction is the stored-document query's interaction id
	// (default wire.DefaultQueryInteraction).
	QueryInteraction string
	// MaxUnreadableAnswers is how many unreadable answers in a row a
	// delivery may get before it is dead-lettered (default 5).
	MaxUnreadableAnswers int
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
	if cfg.Envelope == "" {
		cfg.Envelope = wire.EnvelopeNone
	}
	if cfg.QueryInteraction == "" {
		cfg.QueryInteraction = wire.DefaultQueryInteraction
	}
	if cfg.MaxUnreadableAnswers <= 0 {
		cfg.MaxUnreadableAnswers = 5
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
	// Only a connection that never got as far as sending is retried in
	// place: once a request may have reached Kanta, a resend waits for the
	// durable queue's next attempt, which asks first (NeedsQuery). Every
	// HTTP answer goes back to the caller to be classified once.
	rc.CheckRetry = func(ctx context.Context, resp *http.Response, err error) (bool, error) {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		return err != nil && neverSent(err), nil
	}
	rc.ErrorHandler = retryablehttp.PassthroughErrorHandler
	s := &Submitter{cfg: cfg, client: rc}
	if cfg.RateLimit > 0 {
		// A bucket of one: requests are spaced 1/RateLimit apart, so no
		// window of a second ever holds more than the limit. A bucket of
		// RateLimit tokens let a go-live burst send twice the limit in its
		// first second (the full bucket, then the refill).
		s.limiter = rate.NewLimiter(rate.Limit(cfg.RateLimit), 1)
	}
	s.breaker = &breaker{failures: cfg.BreakerFailures, openFor: cfg.BreakerOpenFor, now: cfg.Clock.Now, onChange: cfg.OnBreaker}
	return s, nil
}

// neverSent reports whether a transport error happened before the request
// could have been written: dialling failed.
func neverSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
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
		if err := checkClientAuth(certFile, pair.Leaf); err != nil {
			return nil, err
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

// checkClientAuth refuses a client certificate that does not name
// clientAuth among its extended key usages: Kanta's mutual TLS (and the
// mock's) requires it, and a certificate without any EKU is what a system
// signing certificate looks like, configured here by mistake. The error
// names the certificate file and the usages found, never the key.
func checkClientAuth(certFile string, leaf *x509.Certificate) error {
	if leaf == nil {
		return fmt.Errorf("kanta.client_cert %s: no certificate", certFile)
	}
	if slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageClientAuth) {
		return nil
	}
	found := "none (a system signing certificate has none)"
	if len(leaf.ExtKeyUsage) > 0 || len(leaf.UnknownExtKeyUsage) > 0 {
		var names []string
		for _, u := range leaf.ExtKeyUsage {
			names = append(names, extKeyUsageName(u))
		}
		for _, oid := range leaf.UnknownExtKeyUsage {
			names = append(names, oid.String())
		}
		found = strings.Join(names, ", ")
	}
	return fmt.Errorf("kanta.client_cert %s: not a TLS client certificate: extended key usage clientAuth is required, found %s", certFile, found)
}

func extKeyUsageName(u x509.ExtKeyUsage) string {
	switch u {
	case x509.ExtKeyUsageServerAuth:
		return "serverAuth"
	case x509.ExtKeyUsageClientAuth:
		return "clientAuth"
	case x509.ExtKeyUsageCodeSigning:
		return "codeSigning"
	case x509.ExtKeyUsageEmailProtection:
		return "emailProtection"
	case x509.ExtKeyUsageTimeStamping:
		return "timeStamping"
	case x509.ExtKeyUsageOCSPSigning:
		return "OCSPSigning"
	case x509.ExtKeyUsageAny:
		return "anyExtendedKeyUsage"
	}
	return fmt.Sprintf("usage %d", u)
}

// BreakerState is the circuit breaker's current state.
func (s *Submitter) BreakerState() BreakerState { return s.breaker.State() }

// Submit sends one delivery's payload, byte for byte as built, and
// classifies the answer. An archive message whose earlier attempt may have
// reached Kanta unanswered (queue.Attempt in ctx, NeedsQuery) is first
// asked about: stored → done without sending; not stored → sent; the query
// failing → retried later, never sent blind.
func (s *Submitter) Submit(ctx context.Context, d *queue.Delivery) queue.Result {
	if ok, wait := s.breaker.allow(); !ok {
		// Nothing is sent: not an attempt at Kanta (Refused), so an outage
		// held back here never uses up queue.max_attempts.
		return queue.Result{Class: queue.Retry, Code: CodeCircuit, Text: "Kanta is failing everywhere; holding back", RetryAfter: wait, Refused: true}
	}
	sent := time.Now()
	var r queue.Result
	if d.Route == RouteFHIR {
		resp, body, err := s.post(ctx, s.cfg.FHIRURL, d, nil, func(h http.Header) { h.Set("Content-Type", "application/fhir+json") })
		if r = s.cancelled(err); r.Class == 0 {
			r = Classify(d.Route, resp, body, err, s.cfg.Clock.Now())
		}
	} else {
		r = s.submitArchive(ctx, d)
	}
	r.Took = time.Since(sent)
	if r.Refused {
		// Held back by the rate limiter: says nothing about Kanta; a
		// half-open trial that never went lets the next one through.
		s.breaker.abandon()
		return r
	}
	// Only failures that say Kanta itself is unwell trip the breaker; a
	// rejected document says nothing about Kanta's health.
	s.breaker.record(!(r.Class == queue.Retry && r.Code != "HTTP_429" && r.Code != CodeCancelled))
	return r
}

func (s *Submitter) submitArchive(ctx context.Context, d *queue.Delivery) queue.Result {
	hdr, err := wire.ReadHeader(d.Payload)
	if err != nil {
		return queue.Result{Class: queue.Permanent, Code: CodeBadPayload, Text: "the stored archive message has no readable HL7 V3 header", Err: err}
	}
	att := queue.AttemptFrom(ctx)
	if NeedsQuery(att) {
		ext := "query-" + strconv.Itoa(att.Number)
		q := wire.BuildStoredQuery(wire.StoredQuery{Interaction: s.cfg.QueryInteraction, MessageID: hdr.MessageID, Extension: ext,
			ProcessingCode: hdr.ProcessingCode, SenderOID: hdr.SenderOID, ReceiverOID: hdr.ReceiverOID, DocumentID: d.DocumentID})
		resp, body, err := s.post(ctx, s.cfg.ArchiveURL, d, q, func(h http.Header) { s.cfg.Envelope.SetHeaders(h, s.cfg.QueryAction) })
		if r := s.cancelled(err); r.Class != 0 {
			return r
		}
		r, found := classifyQuery(resp, body, err, s.cfg.Clock.Now(), d.DocumentID, hdr.MessageID, ext)
		s.cfg.Logger.Info("asked Kanta before resending", "document_id", d.DocumentID, "attempt", att.Number,
			"stored", found == queryStored, "not_stored", found == queryNotStored, "code", r.Code)
		if found != queryNotStored {
			return s.capUnreadable(r, att)
		}
	}
	resp, body, err := s.post(ctx, s.cfg.ArchiveURL, d, d.Payload, func(h http.Header) { s.cfg.Envelope.SetHeaders(h, s.cfg.ArchiveAction) })
	if r := s.cancelled(err); r.Class != 0 {
		return r
	}
	return s.capUnreadable(classify(d.Route, resp, body, err, s.cfg.Clock.Now(), hdr.MessageID), att)
}

// capUnreadable dead-letters a delivery whose answers were unreadable
// kanta.max_unreadable_answers times in a row, rather than resending it
// until queue.max_attempts on answers nobody can read.
func (s *Submitter) capUnreadable(r queue.Result, att queue.Attempt) queue.Result {
	if r.Code != CodeUnreadable {
		return r
	}
	if n := trailingUnreadable(att) + 1; n >= s.cfg.MaxUnreadableAnswers {
		r.Class, r.Code = queue.Permanent, CodeUnreadableCap
		r.Text = fmt.Sprintf("%d unreadable answers in a row (kanta.max_unreadable_answers); dead-lettered, not resent. Last: %s", n, r.Text)
	}
	return r
}

var errRateWait = errors.New("stopped while waiting for the rate limit")

// rateLimited is a request the rate limiter held back: its turn comes
// after the attempt's deadline. Nothing was sent.
type rateLimited struct{ wait time.Duration }

func (e *rateLimited) Error() string {
	return fmt.Sprintf("rate limit (kanta.rate_limit): next turn in %s, after this attempt's deadline", e.wait.Round(time.Millisecond))
}

// cancelled is the result of a request that was never sent; zero otherwise.
func (s *Submitter) cancelled(err error) queue.Result {
	var rl *rateLimited
	if errors.As(err, &rl) {
		return queue.Result{Class: queue.Retry, Code: CodeRateLimited, Text: rl.Error(), RetryAfter: rl.wait, Refused: true}
	}
	if errors.Is(err, errRateWait) {
		return queue.Result{Class: queue.Retry, Code: CodeCancelled, Text: errRateWait.Error(), Err: err}
	}
	return queue.Result{}
}

// waitTurn waits for the rate limiter. A turn that would come after ctx's
// deadline is not waited for: the delivery is refused (rateLimited) and
// the queue snoozes it without spending an attempt.
func (s *Submitter) waitTurn(ctx context.Context) error {
	res := s.limiter.Reserve()
	wait := res.Delay()
	if dl, ok := ctx.Deadline(); ok && wait > time.Until(dl) {
		res.Cancel()
		return &rateLimited{wait: wait}
	}
	if wait <= 0 {
		return nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		res.Cancel()
		return fmt.Errorf("%w: %w", errRateWait, ctx.Err())
	}
}

// post sends one message (msg; d's payload when nil is passed for the
// FHIR route) in the configured envelope and reads the answer.
func (s *Submitter) post(ctx context.Context, url string, d *queue.Delivery, msg []byte, headers func(http.Header)) (*http.Response, []byte, error) {
	if s.limiter != nil {
		if err := s.waitTurn(ctx); err != nil {
			return nil, nil, err
		}
	}
	var body []byte
	if d.Route == RouteFHIR {
		body = d.Payload
	} else {
		body = s.cfg.Envelope.Wrap(msg)
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodPost, url, body)
	if err != nil {
		return nil, nil, err
	}
	headers(req.Header)
	// Ours, for logs at a proxy; nothing at Kanta is known to need it.
	req.Header.Set("X-Document-Id", d.DocumentID)
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, nil, err
	}
	return resp, answer, nil
}

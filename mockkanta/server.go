// Package mockkanta is a stand-in for Kanta's two archives (patient data
// repository and social welfare client data repository) for integration
// testing: it checks archive request messages (HL7 V3 with CDA, and FHIR R4
// document Bundles) as Kanta would, answers with HL7 acknowledgements or
// FHIR OperationOutcomes, keeps what it accepted in SQLite, shows what a client,
// a guardian or a professional would see, and injects transport faults on
// request.
package mockkanta

import (
	"bytes"
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
	"sync"
	"sync/atomic"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/clock"
	"github.com/helsinki-student-welfare/kanta-gateway/hl7"
	"github.com/helsinki-student-welfare/kanta-gateway/serverlimits"
	"github.com/helsinki-student-welfare/kanta-gateway/signing"
	"github.com/helsinki-student-welfare/kanta-gateway/wire"
)

// Environment is the Kanta environment the mock plays.
type Environment string

const (
	EnvironmentTest       Environment = "test"
	EnvironmentProduction Environment = "production"
)

// processingCode is the frame processingCode the environment expects.
func (e Environment) processingCode() string {
	if e == EnvironmentProduction {
		return "P"
	}
	return "D"
}

// Profile selects the document profile check.
type Profile string

const (
	// ProfileGateway requires everything the gateway's builders write
	// (cda.CheckProfile): the check for testing our own output.
	ProfileGateway Profile = "gateway"
	// ProfileMinimal skips cda.CheckProfile and keeps only what the archive
	// itself needs: readable header (ids, version, client, local header),
	// matching frame, verified signatures over the body, signer fit,
	// interaction, identity code and version order. Documents made by other
	// systems, like the real archived sample in Kanta's test data (which has
	// no tableOfContents and an empty section), pass it.
	ProfileMinimal Profile = "minimal"
)

// Config configures a mock Kanta.
type Config struct {
	// DataDir holds the SQLite archive; empty keeps it in memory.
	DataDir     string
	Environment Environment // default test
	// Profile is how strictly documents are checked against the Finnish CDA
	// profile (default ProfileGateway).
	Profile Profile
	// TrustRoots verify document signatures; TrustRootFiles (PEM) are added.
	TrustRoots     *x509.CertPool
	TrustRootFiles []string
	// Listen is the address for ListenAndServe (default 127.0.0.1:8089).
	Listen string
	// TLS: server certificate and key, and the CA client certificates must
	// chain to. When set, every connection must present a client
	// certificate (Kanta's transport is mutual TLS). Without TLS the mock
	// listens only on loopback addresses.
	TLSCertFile, TLSKeyFile, ClientCAFile string
	Faults                                Faults // initial faults
	Seed                                  int64  // fault generator seed (default 1)
	Clock                                 clock.Clock
	Logger                                *slog.Logger
	// MaxMessageBytes bounds a request body (default 16 MiB).
	MaxMessageBytes int64
	// Limits are the HTTP server's timeouts, body and connection limits
	// (defaults DefaultLimits; MaxBodyBytes defaults to MaxMessageBytes).
	Limits serverlimits.Limits
	// MaxSignatureSkew is how far a signature timestamp may lie after the
	// receipt time (Clock) before the document is refused as signed in the
	// future (default 5 minutes). Kanta's own tolerance is not public.
	MaxSignatureSkew time.Duration
	// Schema validates health care documents against CDA_Fi.xsd. Default:
	// an xmllint subprocess per document (New fails without xmllint);
	// cmd/mock-kanta passes the in-process mockkanta/libxml2 validator.
	// The caller closes a validator it passes.
	Schema SchemaValidator

	// AckFamily is the acknowledgement family the archive interface
	// answers with: accept (MCCI_IN000002UV01 CA/CE/CR, the default, what
	// kanta-domain.md 8.1 names) or application (AA/AE/AR).
	AckFamily wire.AckFamily
	// Envelope is the transport the archive interface speaks: none (bare
	// XML, default), soap11 or soap12. A request in another envelope, or a
	// SOAP request it cannot open, is answered with a SOAP Fault.
	Envelope wire.Envelope
	// QueryInteraction is the root element of the stored-document query
	// (default wire.DefaultQueryInteraction); QueryAnswerInteraction that
	// of its answer (default wire.DefaultQueryAnswerInteraction).
	QueryInteraction, QueryAnswerInteraction string
}

// inspection is the outcome of checking one archive message: either a
// document ready for the store, or the detail code it is refused with.
type inspection struct {
	messageID string // the request's id, for the ack's targetMessage
	doc       *Document
	detail    string // empty when doc is ready for the store
}

// inspector checks an archive request message. An interface so the checks
// of the CDA route can be told apart from the store and transport.
type inspector interface {
	inspect(raw []byte) inspection
}

// DefaultLimits are the mock's server limits unless configured: room for
// a 16 MiB message on a slow link, and for the latency fault's delays.
var DefaultLimits = serverlimits.Limits{
	ReadHeaderTimeout: 10 * time.Second,
	ReadTimeout:       60 * time.Second,
	WriteTimeout:      120 * time.Second,
	IdleTimeout:       120 * time.Second,
	MaxBodyBytes:      16 << 20,
	MaxConnections:    512,
}

// DefaultMaxSignatureSkew is the default Config.MaxSignatureSkew.
const DefaultMaxSignatureSkew = 5 * time.Minute

// Server is a running mock Kanta.
type Server struct {
	cfg       Config
	store     *store
	inspector inspector
	fhir      *fhirInspector
	faults    *injector
	stats     *stats
	log       *slog.Logger
	ackSeq    atomic.Uint64
	closing   chan struct{}
	closeOnce sync.Once
	handler   http.Handler
	ownSchema *XmllintValidator // the default validator, made by New
}

// New opens (or creates) the archive in cfg.DataDir and prepares the server.
func New(cfg Config) (*Server, error) {
	if cfg.Environment == "" {
		cfg.Environment = EnvironmentTest
	}
	if cfg.Environment != EnvironmentTest && cfg.Environment != EnvironmentProduction {
		return nil, fmt.Errorf("mockkanta: environment %q: want test or production", cfg.Environment)
	}
	if cfg.Profile == "" {
		cfg.Profile = ProfileGateway
	}
	if cfg.Profile != ProfileGateway && cfg.Profile != ProfileMinimal {
		return nil, fmt.Errorf("mockkanta: profile %q: want gateway or minimal", cfg.Profile)
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:8089"
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.System{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	if cfg.MaxMessageBytes == 0 {
		cfg.MaxMessageBytes = 16 << 20
	}
	lim := DefaultLimits
	lim.MaxBodyBytes = cfg.MaxMessageBytes
	cfg.Limits = cfg.Limits.WithDefaults(lim)
	if err := cfg.Limits.Validate(); err != nil {
		return nil, fmt.Errorf("mockkanta: limits: %w", err)
	}
	if cfg.MaxSignatureSkew == 0 {
		cfg.MaxSignatureSkew = DefaultMaxSignatureSkew
	}
	if cfg.MaxSignatureSkew < 0 {
		return nil, fmt.Errorf("mockkanta: max signature skew %s is negative", cfg.MaxSignatureSkew)
	}
	if cfg.AckFamily == "" {
		cfg.AckFamily = wire.FamilyAccept
	}
	if _, err := wire.ParseAckFamily(string(cfg.AckFamily)); err != nil {
		return nil, fmt.Errorf("mockkanta: %w", err)
	}
	env, err := wire.ParseEnvelope(string(cfg.Envelope))
	if err != nil {
		return nil, fmt.Errorf("mockkanta: %w", err)
	}
	cfg.Envelope = env
	if cfg.QueryInteraction == "" {
		cfg.QueryInteraction = wire.DefaultQueryInteraction
	}
	if cfg.QueryAnswerInteraction == "" {
		cfg.QueryAnswerInteraction = wire.DefaultQueryAnswerInteraction
	}
	if err := cfg.Faults.Validate(); err != nil {
		return nil, fmt.Errorf("mockkanta: faults: %w", err)
	}
	roots := cfg.TrustRoots
	if roots == nil {
		roots = x509.NewCertPool()
	}
	for _, path := range cfg.TrustRootFiles {
		pem, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("mockkanta: trust root: %w", err)
		}
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("mockkanta: trust root %s holds no PEM certificate", path)
		}
	}
	var ownSchema *XmllintValidator
	if cfg.Schema == nil {
		x, err := NewXmllintValidator()
		if err != nil {
			return nil, fmt.Errorf("mockkanta: %w", err)
		}
		cfg.Schema, ownSchema = x, x
	}
	st, err := openStore(cfg.DataDir, cfg.Logger)
	if err != nil {
		if ownSchema != nil {
			ownSchema.Close()
		}
		return nil, err
	}
	s := &Server{
		cfg:   cfg,
		store: st,
		inspector: &cdaInspector{env: cfg.Environment, roots: roots, chains: signing.NewChainCache(), profile: cfg.Profile, schema: cfg.Schema,
			now: cfg.Clock.Now, skew: cfg.MaxSignatureSkew},
		fhir:      newFHIRInspector(cfg, roots),
		faults:    newInjector(cfg.Faults, cfg.Seed),
		stats:     newStats(),
		log:       cfg.Logger,
		closing:   make(chan struct{}),
		ownSchema: ownSchema,
	}
	s.handler = s.routes()
	return s, nil
}

// Handler serves the archive interface and the tester API.
func (s *Server) Handler() http.Handler { return s.handler }

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /archive/v1/messages", s.handleArchive)
	mux.HandleFunc("POST /fhir/r4/Bundle", s.handleFHIRBundle)
	mux.HandleFunc("GET /fhir/r4/Bundle/{id}", s.handleGetFHIRBundle)
	mux.HandleFunc("GET /api/v1/documents", s.handleListDocuments)
	mux.HandleFunc("GET /api/v1/documents/{id}", s.handleGetDocument)
	mux.HandleFunc("GET /api/v1/documents/{id}/cda", s.handleGetCDA)
	mux.HandleFunc("GET /api/v1/documents/{id}/content", s.handleGetContent)
	mux.HandleFunc("GET /api/v1/mykanta/{hetu}", s.handleMyKanta)
	mux.HandleFunc("GET /api/v1/professional/{hetu}", s.handleProfessional)
	mux.HandleFunc("GET /api/v1/relationships", s.handleRelationships)
	mux.HandleFunc("GET /api/v1/stats", s.handleStats)
	mux.HandleFunc("GET /api/v1/faults", s.handleGetFaults)
	mux.HandleFunc("PUT /api/v1/faults", s.handlePutFaults)
	mux.HandleFunc("POST /api/v1/reset", s.handleReset)
	return mux
}

// TLSConfig is the server's TLS configuration (nil without TLS): the
// server certificate, and client certificates required and verified against
// the client CA.
func (s *Server) TLSConfig() (*tls.Config, error) {
	c := s.cfg
	if c.TLSCertFile == "" && c.TLSKeyFile == "" && c.ClientCAFile == "" {
		return nil, nil
	}
	if c.TLSCertFile == "" || c.TLSKeyFile == "" || c.ClientCAFile == "" {
		return nil, errors.New("mockkanta: TLS needs a server certificate, its key and a client CA (mutual TLS)")
	}
	cert, err := tls.LoadX509KeyPair(c.TLSCertFile, c.TLSKeyFile)
	if err != nil {
		return nil, fmt.Errorf("mockkanta: server certificate: %w", err)
	}
	pem, err := os.ReadFile(c.ClientCAFile)
	if err != nil {
		return nil, fmt.Errorf("mockkanta: client CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("mockkanta: client CA %s holds no PEM certificate", c.ClientCAFile)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		MinVersion:   tls.VersionTLS12,
		// Go takes a certificate without extended key usage for any use,
		// a signing certificate included; the transport wants one made
		// for TLS clients.
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 || !slices.Contains(cs.PeerCertificates[0].ExtKeyUsage, x509.ExtKeyUsageClientAuth) {
				return errors.New("mockkanta: client certificate is not a TLS client certificate (extended key usage clientAuth)")
			}
			return nil
		},
	}, nil
}

// ListenAndServe serves until ctx ends, then shuts down gracefully.
func (s *Server) ListenAndServe(ctx context.Context) error {
	tlsCfg, err := s.TLSConfig()
	if err != nil {
		return err
	}
	if tlsCfg == nil {
		if err := requireLoopback(s.cfg.Listen); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("mockkanta: listen: %w", err)
	}
	return s.Serve(ctx, ln, tlsCfg)
}

// Serve serves on ln (with tlsCfg unless nil) under the configured limits
// until ctx ends, then shuts down gracefully.
func (s *Server) Serve(ctx context.Context, ln net.Listener, tlsCfg *tls.Config) error {
	ln = s.cfg.Limits.Listener(ln)
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
	}
	srv := s.cfg.Limits.Server(s.handler)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	s.log.Info("mock Kanta listening", "addr", ln.Addr().String(), "tls", tlsCfg != nil, "environment", s.cfg.Environment)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.shutdown()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	s.log.Info("mock Kanta stopped", "err", err)
	return err
}

// requireLoopback refuses plain HTTP on anything but a loopback address.
func requireLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("mockkanta: listen address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("mockkanta: plain HTTP only on a loopback address, not %q; configure TLS with client certificates", addr)
}

// shutdown releases requests held by the timeout fault.
func (s *Server) shutdown() { s.closeOnce.Do(func() { close(s.closing) }) }

// Close releases held requests and closes the archive.
func (s *Server) Close() error {
	s.shutdown()
	if s.ownSchema != nil {
		s.ownSchema.Close()
	}
	return s.store.close()
}

func (s *Server) now() time.Time { return s.cfg.Clock.Now() }

// nextAckID mints the acknowledgement's own message id under Kanta's device.
func (s *Server) nextAckID() string {
	return hl7.OIDKantaDevice + ".1." + strconv.FormatInt(s.now().Unix(), 10) + "." + strconv.FormatUint(s.ackSeq.Add(1), 10)
}

// handleArchive is the archive interface: faults first (they model the
// network and Kanta's availability), then the checks, then the store.
// archive stores a document that passed its route's checks (detail "")
// and counts the outcome; the returned detail code is the answer.
func (s *Server) archive(ctx context.Context, format Format, doc *Document, detail string) string {
	if detail == "" {
		var err error
		if detail, err = s.store.submit(ctx, doc, s.now()); err != nil {
			s.log.Error("archive store failed", "err", err)
			detail = wire.DetailInternalError
		}
	}
	s.stats.count(format, detail)
	return detail
}

func (s *Server) handleArchive(w http.ResponseWriter, r *http.Request) {
	raw, err := s.readBody(w, r)
	if err != nil {
		s.stats.count(FormatCDA, wire.DetailMalformedFrame)
		s.refuse(w, wire.Header{}, "request body unreadable or too large")
		return
	}
	msg, hdr, ok := s.openRequest(w, r, raw)
	if !ok {
		return
	}
	plan := s.faults.plan(s.now())
	if s.answerFault(w, r, plan, func(status int, detail string) {
		s.stats.count(FormatCDA, detail)
		s.writeAck(w, status, wire.NewAck(detail, s.nextAckID(), hdr.MessageID), hdr)
	}) {
		return
	}
	if hdr.Interaction == s.cfg.QueryInteraction {
		s.answerQuery(w, r, msg, hdr, plan)
		return
	}

	insp := s.inspector.inspect(msg)
	detail := s.archive(r.Context(), FormatCDA, insp.doc, insp.detail)
	ack := wire.NewAck(detail, s.nextAckID(), insp.messageID)
	s.log.Info("archive request", "message_id", insp.messageID, "ack", ack.Code.In(s.cfg.AckFamily), "detail", detail)

	if plan.ackLost {
		s.stats.fault(faultAckLost)
		dropConnection(w)
		return
	}
	s.writeAck(w, http.StatusOK, ack, hdr)
}

// openRequest takes the HL7 message out of the envelope the mock speaks
// and reads its transmission wrapper (best effort: a message too broken to
// have one is refused by the checks that follow). A SOAP request it cannot
// open (wrong content type, no SOAPAction, not this SOAP version) is
// answered here with a SOAP Fault; ok is false then.
func (s *Server) openRequest(w http.ResponseWriter, r *http.Request, raw []byte) (msg []byte, hdr wire.Header, ok bool) {
	env := s.cfg.Envelope
	if env == wire.EnvelopeNone {
		// Bare XML: whatever came is the message (a SOAP envelope sent
		// here is refused as a malformed frame by the checks).
		hdr, _ = wire.ReadHeader(raw)
		return raw, hdr, true
	}
	fail := func(reason string) ([]byte, wire.Header, bool) {
		s.stats.count(FormatCDA, wire.DetailMalformedFrame)
		s.stats.fault(faultSOAP)
		s.writeFault(w, true, reason)
		return nil, wire.Header{}, false
	}
	if _, err := env.CheckHeaders(r.Header); err != nil {
		return fail(err.Error())
	}
	o, err := wire.Open(raw)
	switch {
	case err != nil:
		return fail("request is not XML")
	case o.Envelope != env:
		return fail(fmt.Sprintf("request is not a %s envelope", env))
	case o.Fault != nil:
		return fail("a request cannot be a Fault")
	}
	hdr, _ = wire.ReadHeader(o.Body)
	return o.Body, hdr, true
}

// answerQuery answers the stored-document query from the archive store.
func (s *Server) answerQuery(w http.ResponseWriter, r *http.Request, msg []byte, hdr wire.Header, plan faultPlan) {
	q, err := wire.ParseStoredQuery(msg, s.cfg.QueryInteraction)
	refuse := func(detail string) {
		s.stats.query(queryRefused)
		s.writeAck(w, http.StatusOK, wire.NewAck(detail, s.nextAckID(), hdr.MessageID), hdr)
	}
	if err != nil {
		refuse(wire.DetailMalformedFrame)
		return
	}
	if q.ProcessingCode != s.cfg.Environment.processingCode() {
		refuse(wire.DetailProcessingCode)
		return
	}
	code, outcome := wire.QueryNotFound, queryNotStored
	doc, err := s.store.get(r.Context(), q.DocumentID)
	switch {
	case err == nil && doc.Format == FormatCDA:
		code, outcome = wire.QueryFound, queryStored
	case err != nil && !errors.Is(err, errNotFound):
		s.log.Error("archive store failed", "err", err)
		code, outcome = wire.QueryAppError, queryRefused
	}
	s.stats.query(outcome)
	s.log.Info("stored-document query", "message_id", q.MessageID, "answer", code)
	if plan.ackLost {
		s.stats.fault(faultAckLost)
		dropConnection(w)
		return
	}
	answer := wire.StoredAnswer{Interaction: s.cfg.QueryAnswerInteraction, MessageID: s.nextAckID(),
		TargetMessageID: q.MessageID, TargetExtension: q.Extension, ProcessingCode: s.cfg.Environment.processingCode(),
		SenderOID: q.ReceiverOID, ReceiverOID: q.SenderOID, ResponseCode: code}
	if code == wire.QueryFound {
		answer.DocumentID = q.DocumentID
	}
	w.Header().Set("Content-Type", s.cfg.Envelope.ResponseContentType())
	w.WriteHeader(http.StatusOK)
	w.Write(s.cfg.Envelope.Wrap(wire.BuildStoredAnswer(answer)))
}

// refuse answers a request that could not be read at all: a SOAP Fault
// when the mock speaks SOAP, else an AR/CR MALFORMED_FRAME.
func (s *Server) refuse(w http.ResponseWriter, hdr wire.Header, reason string) {
	if s.cfg.Envelope != wire.EnvelopeNone {
		s.writeFault(w, true, reason)
		return
	}
	s.writeAck(w, http.StatusOK, wire.NewAck(wire.DetailMalformedFrame, s.nextAckID(), ""), hdr)
}

func (s *Server) writeFault(w http.ResponseWriter, sender bool, reason string) {
	body, status := wire.BuildFault(s.cfg.Envelope, sender, reason)
	w.Header().Set("Content-Type", s.cfg.Envelope.ResponseContentType())
	w.WriteHeader(status)
	w.Write(body)
}

// answerFault applies the faults of a plan that come before any check
// (outage, latency, timeout, rate limit, server error), the same on every
// archive interface; answer writes a refusal in the interface's own form
// (Retry-After is already set). It reports whether the request is done.
func (s *Server) answerFault(w http.ResponseWriter, r *http.Request, plan faultPlan, answer func(status int, detail string)) bool {
	if !plan.outageUntil.IsZero() {
		s.stats.fault(faultOutage)
		retry := int(plan.outageUntil.Sub(s.now()).Seconds()) + 1
		w.Header().Set("Retry-After", strconv.Itoa(retry))
		answer(http.StatusServiceUnavailable, wire.DetailServiceUnavailable)
		return true
	}
	if plan.latency > 0 {
		s.stats.fault(faultLatency)
		select {
		case <-time.After(plan.latency):
		case <-r.Context().Done():
			return true
		case <-s.closing:
			return true
		}
	}
	if plan.timeout {
		s.stats.fault(faultTimeout)
		select {
		case <-r.Context().Done():
		case <-s.closing:
		}
		return true
	}
	if plan.rateLimit {
		s.stats.fault(faultRateLimit)
		w.Header().Set("Retry-After", strconv.Itoa(plan.retryAfter))
		answer(http.StatusTooManyRequests, wire.DetailRateLimited)
		return true
	}
	if plan.errorStatus != 0 {
		s.stats.fault(faultError)
		detail := wire.DetailInternalError
		if plan.errorStatus == http.StatusServiceUnavailable {
			detail = wire.DetailServiceUnavailable
		}
		answer(plan.errorStatus, detail)
		return true
	}
	return false
}

// readBody reads a request body up to the configured limit, in one
// allocation when the client states its length.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body := http.MaxBytesReader(w, r.Body, s.cfg.MaxMessageBytes)
	var buf bytes.Buffer
	if n := r.ContentLength; n > 0 && n <= s.cfg.MaxMessageBytes {
		// ReadFrom grows only when less than MinRead is free.
		buf.Grow(int(n) + bytes.MinRead)
	}
	_, err := buf.ReadFrom(body)
	return buf.Bytes(), err
}

// writeAck answers in the configured family and envelope, addressed to the
// request's sender from its receiver (the request's devices swapped).
func (s *Server) writeAck(w http.ResponseWriter, status int, a wire.Ack, req wire.Header) {
	a.ProcessingCode = s.cfg.Environment.processingCode()
	a.Code = a.Code.In(s.cfg.AckFamily)
	a.SenderOID, a.ReceiverOID = req.ReceiverOID, req.SenderOID
	w.Header().Set("Content-Type", s.cfg.Envelope.ResponseContentType())
	w.WriteHeader(status)
	w.Write(s.cfg.Envelope.Wrap(wire.BuildAck(a)))
}

// dropConnection closes the connection without an answer: the document is
// archived but the client never learns it.
func dropConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
			return
		}
	}
	// HTTP/2 (or a wrapped writer): aborting the handler resets the stream.
	panic(http.ErrAbortHandler)
}

// stats counts outcomes since start (not persisted: a restart starts a new
// test run's figures, while the archive itself survives).
type stats struct {
	mu      sync.Mutex
	details map[Format]map[string]int
	faults  map[string]int
	queries map[string]int
}

func newStats() *stats {
	return &stats{details: map[Format]map[string]int{}, faults: map[string]int{}, queries: map[string]int{}}
}

// Stored-document query answers as counted in stats.
const (
	queryStored    = "stored"
	queryNotStored = "not_stored"
	queryRefused   = "refused"
)

func (st *stats) query(outcome string) {
	st.mu.Lock()
	st.queries[outcome]++
	st.mu.Unlock()
}

func (st *stats) count(f Format, detail string) {
	st.mu.Lock()
	if st.details[f] == nil {
		st.details[f] = map[string]int{}
	}
	st.details[f][detail]++
	st.mu.Unlock()
}

func (st *stats) fault(kind string) {
	st.mu.Lock()
	st.faults[kind]++
	st.mu.Unlock()
}

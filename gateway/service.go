package gateway

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/clock"
	"github.com/helsinki-student-welfare/kanta-gateway/config"
	"github.com/helsinki-student-welfare/kanta-gateway/metrics"
	"github.com/helsinki-student-welfare/kanta-gateway/queue"
	"github.com/helsinki-student-welfare/kanta-gateway/submit"
	"github.com/helsinki-student-welfare/kanta-gateway/wire"
)

// Service is the assembled gateway: queue, builder, ingester, submitter
// and metrics, from one configuration.
type Service struct {
	Cfg       *config.Config
	Clock     clock.Clock
	Log       *slog.Logger
	Queue     queue.Queue
	Builder   *Builder
	Ingester  *Ingester
	Submitter *submit.Submitter
	Metrics   *metrics.Metrics
}

// Mode says how much of the gateway a command needs.
type Mode int

const (
	// ModeInspect opens the queue only (queue and audit commands).
	ModeInspect Mode = iota
	// ModeIngest adds the builder (signing identities) but submits nothing.
	ModeIngest
	// ModeSubmit is the whole gateway: ingest and submit.
	ModeSubmit
)

// OpenQueue opens the configured queue backend.
func OpenQueue(ctx context.Context, cfg *config.Config, o queue.Options) (queue.Queue, error) {
	o.Workers = cfg.Queue.Workers
	o.RetryBase, o.RetryCap, o.MaxAttempts, o.MaxRetryAge = cfg.Queue.RetryBase, cfg.Queue.RetryCap, cfg.Queue.MaxAttempts, cfg.Queue.MaxRetryAge
	o.RescueAfter = 2 * cfg.Kanta.Timeout
	switch cfg.Queue.Backend {
	case "postgres":
		return queue.OpenPostgres(ctx, cfg.Queue.PostgresDSN, o)
	default:
		if err := os.MkdirAll(filepath.Dir(cfg.Queue.SQLitePath), 0o700); err != nil {
			return nil, queue.Unavailable(err)
		}
		return queue.OpenSQLite(ctx, cfg.Queue.SQLitePath, o)
	}
}

// Open assembles the gateway for a command.
func Open(ctx context.Context, cfg *config.Config, c clock.Clock, log *slog.Logger, mode Mode) (*Service, error) {
	s := &Service{Cfg: cfg, Clock: c, Log: log}
	var stats func(context.Context) (queue.Stats, error)
	s.Metrics = metrics.New(func(ctx context.Context) (queue.Stats, error) {
		if stats == nil {
			return queue.Stats{}, errors.New("queue not open")
		}
		return stats(ctx)
	})
	o := queue.Options{Clock: c, Logger: log}
	if mode == ModeSubmit {
		sub, err := submit.New(submit.Config{
			ArchiveURL: cfg.Kanta.ArchiveURL, FHIRURL: cfg.Kanta.FHIRURL,
			ClientCert: cfg.Kanta.ClientCert, ClientKey: cfg.Kanta.ClientKey, CACert: cfg.Kanta.CACert,
			Timeout: cfg.Kanta.Timeout, RateLimit: cfg.Kanta.RateLimit,
			BreakerFailures: cfg.Kanta.BreakerFailures, BreakerOpenFor: cfg.Kanta.BreakerOpenFor,
			QuickRetries: 1, Clock: c, Logger: log,
			Envelope: wire.Envelope(cfg.Kanta.Envelope), ArchiveAction: cfg.Kanta.SOAPAction, QueryAction: cfg.Kanta.QuerySOAPAction,
			QueryInteraction: cfg.Kanta.QueryInteraction, MaxUnreadableAnswers: cfg.Kanta.MaxUnreadableAnswers,
			OnBreaker: func(st submit.BreakerState) {
				s.Metrics.BreakerState(int(st))
				log.Warn("circuit breaker toward Kanta", "state", st.String())
			},
		})
		if err != nil {
			return nil, err
		}
		s.Submitter = sub
		o.Submitter = sub
		o.OnResult = func(d *queue.Delivery, r queue.Result, attempt int) {
			if r.Refused {
				// Held back by our breaker or rate limiter: no attempt at
				// Kanta, so no submission to count; the breaker's own
				// gauge and log line tell of the outage.
				log.Debug("submission held back", "document_id", d.DocumentID, "code", r.Code)
				return
			}
			dead := r.Class == queue.Permanent || r.Exhausted
			s.Metrics.Submission(d, r, dead, r.Took)
			lvl := slog.LevelInfo
			if r.Class == queue.Retry || r.Class == queue.Permanent {
				lvl = slog.LevelWarn
			}
			log.Log(context.Background(), lvl, "submission", "entry_id", d.EntryID, "revision", d.Revision, "document_id", d.DocumentID,
				"route", d.Route, "archive", d.Archive, "attempt", attempt, "outcome", r.Class.String(), "code", r.Code, "detail", r.Detail)
		}
	}
	if mode >= ModeIngest {
		if err := CheckPrivateDirs(cfg, log); err != nil {
			return nil, err
		}
	}
	q, err := OpenQueue(ctx, cfg, o)
	if err != nil {
		return nil, fmt.Errorf("queue (%s): %w", cfg.Queue.Backend, err)
	}
	s.Queue = q
	stats = q.Stats
	if mode >= ModeIngest {
		b, err := NewBuilder(cfg, time.Now())
		if err != nil {
			q.Close()
			return nil, err
		}
		s.Builder = b
		if err := WarnUnconfirmedCodes(log, cfg); err != nil {
			q.Close()
			return nil, err
		}
		s.Ingester = NewIngester(cfg, b, q, c, log, Hooks{EntryRead: s.Metrics.EntryRead, Built: s.Metrics.Built})
		s.reportCertificates()
	}
	return s, nil
}

// Reschedule moves held deliveries to the configured go-live dates, so a
// changed date in configuration takes effect for what is still held.
func (s *Service) Reschedule(ctx context.Context) error {
	for role, rule := range s.Cfg.Policy.Roles {
		if rule.GoLive.IsZero() {
			continue
		}
		n, err := s.Queue.Reschedule(ctx, role, rule.GoLive.Start(s.Cfg.Location()))
		if err != nil {
			return err
		}
		if n > 0 {
			s.Log.Info("held deliveries rescheduled to the configured go-live", "role", role, "go_live", rule.GoLive.String(), "count", n)
		}
	}
	return nil
}

// Certificate is one certificate the gateway uses and when it expires.
type Certificate struct {
	Usage    string // signing or tls_client
	Subject  string // the organiser's OID (signing) or the common name
	NotAfter time.Time
}

// Certificates lists the signing certificates (ModeIngest and up) and the
// TLS client certificate toward Kanta.
func (s *Service) Certificates() []Certificate {
	var out []Certificate
	if s.Builder != nil {
		for oid, id := range s.Builder.Identities() {
			out = append(out, Certificate{Usage: "signing", Subject: oid, NotAfter: id.Cert.NotAfter})
		}
	}
	if s.Cfg.Kanta.ClientCert != "" {
		if cert, err := readCert(s.Cfg.Kanta.ClientCert); err == nil {
			out = append(out, Certificate{Usage: "tls_client", Subject: cert.Subject.CommonName, NotAfter: cert.NotAfter})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].NotAfter.Before(out[j].NotAfter) })
	return out
}

// reportCertificates sets the certificate expiry gauges and warns early.
func (s *Service) reportCertificates() {
	now := time.Now()
	for _, c := range s.Certificates() {
		s.Metrics.CertificateExpiry(c.Usage, c.Subject, c.NotAfter)
		if days := c.NotAfter.Sub(now).Hours() / 24; days < 30 {
			if c.Usage == "signing" {
				s.Log.Warn("signing certificate expires soon", "organiser", c.Subject, "days", int(days))
			} else {
				s.Log.Warn("TLS client certificate expires soon", "days", int(days))
			}
		}
	}
}

func readCert(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%s: no PEM certificate", path)
	}
	return x509.ParseCertificate(blk.Bytes)
}

// Close stops and closes the queue.
func (s *Service) Close(ctx context.Context) error {
	if s.Queue == nil {
		return nil
	}
	return s.Queue.Close()
}

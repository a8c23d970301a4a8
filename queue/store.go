package queue

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
)

// backend is what a database brings: its transactions and its way of
// running our SQL. Everything else is written once in store.
type backend[TTx any] struct {
	dialect dialect
	pool    execer
	// reports runs the read-only statements of reports (Stats, Held,
	// Replicas, Audit, a job's delivery row); reportDriver is River's
	// driver over the same connections, for River UI and Replicas.
	// SQLite's pool holds one connection, which River's fetches and
	// completions share: a count over a go-live backlog of 100,000 jobs
	// held it for most of a second per scrape or console page, and the
	// drain waited behind it. WAL lets readers run beside the writer, so
	// reports get connections of their own (query_only). Nil: the pool
	// (PostgreSQL's pool has many connections).
	reports      execer
	reportDriver riverdriver.Driver[TTx]
	// begin starts a transaction and returns an execer on it.
	begin    func(ctx context.Context) (TTx, execer, error)
	commit   func(ctx context.Context, tx TTx) error
	rollback func(ctx context.Context, tx TTx) error
	close    func()
}

// store implements Queue over one River client.
type store[TTx any] struct {
	b      backend[TTx]
	o      Options
	client *river.Client[TTx]
	// reportClient is River's client over the report connections where
	// there are some (SQLite), else client.
	reportClient *river.Client[TTx]
	policy       *retryPolicy

	mu      sync.Mutex
	started bool
	closed  bool

	records recordGroup
}

func newStore[TTx any](b backend[TTx], driver riverdriver.Driver[TTx], o Options) (*store[TTx], error) {
	s := &store[TTx]{b: b, o: o, policy: &retryPolicy{base: o.RetryBase, maxDelay: o.RetryCap}}
	cfg := &river.Config{
		Logger:               o.Logger,
		MaxAttempts:          riverAttemptCeiling,
		RetryPolicy:          s.policy,
		RescueStuckJobsAfter: o.RescueAfter,
		// A submission that outlives half the rescue window is cancelled,
		// so the rescuer never re-runs a job that is still in flight.
		JobTimeout:        o.RescueAfter / 2,
		FetchPollInterval: o.PollInterval,
		// A short cooldown lets freed workers take the next due jobs at once:
		// with River's default (100 ms) a batch run is fetch-bound.
		FetchCooldown: min(10*time.Millisecond, o.PollInterval),
		// Dead and cancelled jobs stay until an operator acts on them.
		CancelledJobRetentionPeriod: -1,
		DiscardedJobRetentionPeriod: -1,
		CompletedJobRetentionPeriod: 7 * 24 * time.Hour,
	}
	if o.Submitter != nil {
		workers := river.NewWorkers()
		if err := river.AddWorkerSafely(workers, &deliveryWorker[TTx]{s: s}); err != nil {
			return nil, err
		}
		cfg.Workers = workers
		cfg.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: o.Workers}}
	}
	client, err := river.NewClient(driver, cfg)
	if err != nil {
		return nil, fmt.Errorf("queue: river client: %w", err)
	}
	s.client = client
	if s.b.reports == nil {
		s.b.reports = s.b.pool
	}
	s.reportClient = client
	if b.reportDriver != nil {
		// An insert-only client (no queues, no workers) over the report
		// connections; query_only refuses any write through it.
		rc, err := river.NewClient(b.reportDriver, &river.Config{Logger: o.Logger})
		if err != nil {
			return nil, fmt.Errorf("queue: river report client: %w", err)
		}
		s.reportClient = rc
	}
	return s, nil
}

func (s *store[TTx]) inTx(ctx context.Context, fn func(tx TTx, x execer) error) (err error) {
	tx, x, err := s.b.begin(ctx)
	if err != nil {
		return fmt.Errorf("queue: begin: %w", err)
	}
	defer func() {
		if err != nil {
			_ = s.b.rollback(context.WithoutCancel(ctx), tx)
		}
	}()
	if err = fn(tx, x); err != nil {
		return err
	}
	if err = s.b.commit(ctx, tx); err != nil {
		return fmt.Errorf("queue: commit: %w", err)
	}
	return nil
}

// wall translates a time on the gateway's clock to the wall clock River
// schedules by.
func (s *store[TTx]) wall(t time.Time) time.Time {
	return time.Now().Add(t.Sub(s.o.Clock.Now()))
}

func (s *store[TTx]) now() any { return s.b.dialect.t(s.o.Clock.Now()) }

func (s *store[TTx]) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := s.stopLocked(ctx)
	s.closed = true
	s.b.close()
	return err
}

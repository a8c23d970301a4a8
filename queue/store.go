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
	policy *retryPolicy

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

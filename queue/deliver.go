package queue

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/riverqueue/river"
)

// The statements run for every attempt (kept compiled, as ingestion's).
const (
	qDeliveryState   = `SELECT state, wait_reason, payload FROM deliveries WHERE document_id = ?`
	qDeliveryWait    = `UPDATE deliveries SET wait_reason = ?, updated_at = ? WHERE document_id = ?`
	qDeliveryAttempt = `UPDATE deliveries SET ack_code = ?, ack_detail = ?, ack_text = ?, wait_reason = '', updated_at = ? WHERE document_id = ?`
)

// riverSchedulerInterval is River's fixed interval for moving scheduled
// and retryable jobs to available; shorter waits stay available with a
// future scheduled_at and are fetched when due.
const riverSchedulerInterval = 5 * time.Second

func (s *store[TTx]) Start(ctx context.Context) error {
	if s.o.Submitter == nil {
		return errors.New("queue: opened without a Submitter (insert-only); cannot start")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("queue: closed")
	}
	if err := s.client.Start(ctx); err != nil {
		return fmt.Errorf("queue: start: %w", err)
	}
	s.started = true
	return nil
}

func (s *store[TTx]) Stop(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopLocked(ctx)
}

func (s *store[TTx]) stopLocked(ctx context.Context) error {
	if !s.started {
		return nil
	}
	err := s.client.Stop(ctx)
	if err != nil && ctx.Err() != nil {
		// Out of patience: cancel in-flight submissions; River returns them
		// to the queue (a soft-stopped job is made available again).
		hard, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		err = s.client.StopAndCancel(hard)
	}
	if err != nil {
		return fmt.Errorf("queue: stop: %w", err)
	}
	s.started = false
	return nil
}

func (s *store[TTx]) WaitIdle(ctx context.Context) error {
	s.mu.Lock()
	started := s.started
	s.mu.Unlock()
	if !started {
		return errors.New("queue: WaitIdle needs a started queue")
	}
	tick := min(s.o.PollInterval, 100*time.Millisecond)
	for {
		busy, err := s.busy(ctx)
		if err != nil {
			return err
		}
		if busy == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(tick):
		}
	}
}

// probeSpaceBytes is how much room SQLite's write probe takes and gives
// back: about one chunk's documents.
const probeSpaceBytes = 64 << 10

func (s *store[TTx]) ProbeWrite(ctx context.Context) error {
	return s.inTx(ctx, func(_ TTx, x execer) error {
		if _, err := x.exec(ctx, `INSERT INTO gateway_write_probe (id, at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET at = excluded.at`, s.now()); err != nil {
			return fmt.Errorf("queue: write probe: %w", err)
		}
		if s.b.dialect.name != "sqlite" {
			// PostgreSQL writes a new row version (and WAL) for every
			// update: a read-only or full database refuses the upsert.
			return nil
		}
		// SQLite updates the row in place, and reuses its WAL from the
		// start after a checkpoint: a full database (or disk) still takes
		// that update. The probe must need pages, as ingestion does: it
		// takes room for a blob (free pages first, then new ones) and gives
		// it back in the same transaction, so nothing stays. SQLite keeps
		// a blob in any column; the row never outlives the transaction.
		if _, err := x.exec(ctx, `INSERT INTO gateway_write_probe (id, at) VALUES (2, zeroblob(?))`, probeSpaceBytes); err != nil {
			return fmt.Errorf("queue: write probe (%d KiB of room): %w", probeSpaceBytes>>10, err)
		}
		if _, err := x.exec(ctx, `DELETE FROM gateway_write_probe WHERE id = 2`); err != nil {
			return fmt.Errorf("queue: write probe: %w", err)
		}
		return nil
	})
}

// busy is 1 when a job is running or due, else 0. A short retry (under
// River's scheduler interval) counts as due. A job waiting for an earlier version does not:
// it is woken (and its wait reason cleared) when that version is
// delivered, and one blocked by a dead version must not keep WaitIdle
// waiting forever.
func (s *store[TTx]) busy(ctx context.Context) (int, error) {
	dl := s.b.dialect
	now := time.Now()
	var n int
	err := s.b.pool.queryRow(ctx, qBusy,
		dl.t(now.Add(riverSchedulerInterval)), dl.t(now)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("queue: idle check: %w", err)
	}
	return n, nil
}

type deliveryWorker[TTx any] struct {
	river.WorkerDefaults[Delivery]
	s *store[TTx]
}

func (w *deliveryWorker[TTx]) Work(ctx context.Context, job *river.Job[Delivery]) error {
	return w.s.work(ctx, job)
}

func (s *store[TTx]) work(ctx context.Context, job *river.Job[Delivery]) error {
	d := &job.Args
	var state, waitReason string
	var payload []byte
	err := s.b.pool.queryRow(ctx, qDeliveryState, d.DocumentID).Scan(&state, &waitReason, &payload)
	if err != nil {
		return fmt.Errorf("queue: delivery %s: %w", d.DocumentID, err)
	}
	switch state {
	case DeliveryDelivered:
		// Delivered, then the process died before River recorded it.
		return nil
	case DeliveryDead, DeliveryCancelled:
		return river.JobCancel(fmt.Errorf("delivery %s is %s", d.DocumentID, state))
	}

	// The order check and the wait it records are one transaction, and
	// the check holds the predecessor's row (see predecessor): the
	// predecessor's delivery either came first, or comes after and wakes
	// this version. Never in between, where the wake would find nothing to
	// wake and the version would sit out its snooze. A first check outside
	// a transaction settles the usual case: a delivered predecessor stays
	// delivered.
	_, blocked, err := s.blocked(ctx, s.b.pool, d, nil)
	if err != nil {
		return err
	}
	if blocked {
		err = s.inTx(ctx, func(_ TTx, x execer) error {
			var reason string
			var err error
			if reason, blocked, err = s.blocked(ctx, x, d, nil); err != nil || !blocked || reason == waitReason {
				return err
			}
			if _, err := x.exec(ctx, qDeliveryWait, reason, s.now(), d.DocumentID); err != nil {
				return fmt.Errorf("queue: record wait reason: %w", err)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if blocked {
		return river.JobSnooze(s.o.OrderWait)
	}

	if len(d.Payload) == 0 {
		d.Payload = payload
	}
	if sum := sha256.Sum256(d.Payload); d.PayloadSHA256 != "" && hex.EncodeToString(sum[:]) != d.PayloadSHA256 {
		// The stored bytes are not the ones built: never send them.
		r := Result{Class: Permanent, Detail: "PAYLOAD_MISMATCH", Text: "the stored payload does not match the SHA-256 recorded in the job"}
		if err := s.dead(ctx, d, r); err != nil {
			return err
		}
		return river.JobCancel(resultError(r))
	}
	r := s.o.Submitter.Submit(WithAttempt(ctx, attemptOf(job.JobRow)), d)
	if r.Refused && r.Class == Retry && ctx.Err() == nil {
		// Held back by our own breaker or rate limiter: nothing reached
		// Kanta. A snooze gives the attempt back (River decrements it)
		// and records no error, so the next attempt's history is the
		// one of real attempts.
		if s.o.OnResult != nil {
			s.o.OnResult(d, r, job.Attempt)
		}
		return river.JobSnooze(s.o.refusalSnooze(r))
	}
	r.Refused = false
	if r.Class != Accepted && r.Class != Duplicate && r.Class != Permanent && ctx.Err() == nil {
		r.Exhausted = s.o.exhausted(job.JobRow, time.Now())
	}
	if s.o.OnResult != nil {
		s.o.OnResult(d, r, job.Attempt)
	}
	switch r.Class {
	case Accepted, Duplicate:
		return s.delivered(ctx, d, r)
	case Permanent:
		if err := s.dead(ctx, d, r); err != nil {
			return err
		}
		return river.JobCancel(resultError(r))
	}
	// Retry, or a Result nobody filled in.
	if ctx.Err() != nil {
		// Stopping or timed out: River returns an interrupted job to the
		// queue without spending an attempt.
		return fmt.Errorf("submission interrupted: %w", ctx.Err())
	}
	if r.Exhausted {
		// Kanta's last answer stays the code; the text says why the
		// gateway gave up, so `queue show` needs no arithmetic.
		r.Text = strings.TrimSpace(r.Text + " " + s.o.exhaustedReason(job.JobRow, time.Now()))
		if err := s.dead(ctx, d, r); err != nil {
			return err
		}
		// Cancelled, not discarded by River: River's own bound
		// (riverAttemptCeiling) is not the one that counts.
		return river.JobCancel(resultError(r))
	}
	if _, err := s.b.pool.exec(ctx, qDeliveryAttempt,
		r.Code, r.Detail, r.Text, s.now(), d.DocumentID); err != nil {
		return fmt.Errorf("queue: record attempt: %w", err)
	}
	if r.RetryAfter > 0 {
		s.policy.hint(job.ID, time.Now().Add(r.RetryAfter))
	}
	return resultError(r)
}

func resultError(r Result) error {
	msg := "kanta " + r.Class.String()
	if r.Code != "" || r.Detail != "" {
		msg += ": " + strings.TrimSpace(r.Code+" "+r.Detail)
	}
	if r.Err != nil {
		return fmt.Errorf("%s: %w", msg, r.Err)
	}
	return errors.New(msg)
}

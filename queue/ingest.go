package queue

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
)

// Ingestion is one entry revision to ingest: its ledger record and its
// deliveries (none for a skip).
type Ingestion struct {
	Record     LedgerRecord
	Deliveries []Delivery
}

// ErrAlreadyRead is returned by Ingest for an entry revision already in the
// ledger; nothing was inserted.
var ErrAlreadyRead = errors.New("entry revision already read")

// The statements run for every entry (each connection keeps them
// compiled: sqlitestmt.go on SQLite, pgx's own cache on PostgreSQL).
const (
	qLedgerInsert = `INSERT INTO ledger (entry_id, revision, file, line, outcome, reason_class, reason, archive, register, role, document_id, set_id, version, hetu, decided_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (entry_id, revision) DO NOTHING`
	qDeliveryInsert = `INSERT INTO deliveries (document_id, set_id, version, route, entry_id, revision, role, held, state, job_id, updated_at, payload, wait_reason, after_set)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?)`
	// A shared document's row is claimed before its job exists (job id 0,
	// set once the job is inserted): a copy already stored, or one another
	// replica is inserting, makes the claim insert nothing.
	qDeliveryClaim = `INSERT INTO deliveries (document_id, set_id, version, route, entry_id, revision, role, held, state, job_id, updated_at, payload, wait_reason, after_set)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'queued', 0, ?, ?, '', ?) ON CONFLICT DO NOTHING`
	qDeliveryClaimed = `UPDATE deliveries SET job_id = ?, wait_reason = ? WHERE document_id = ?`
	// A rejection or skip read again from the same batch line (a batch
	// re-read after a crash) is already recorded: nothing is inserted.
	qAuditEvent = `INSERT INTO audit (time, event, entry_id, revision, document_id, version, archive, register, author_role, hetu, source)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`
)

// prepare checks a ledger record and fills in its deliveries.
func (s *store[TTx]) prepare(rec LedgerRecord, deliveries []Delivery) ([]Delivery, time.Time, error) {
	if rec.EntryID == "" || rec.Revision < 1 {
		return nil, time.Time{}, errors.New("queue: ledger record needs an entry id and a revision >= 1")
	}
	if rec.Outcome == "" {
		return nil, time.Time{}, errors.New("queue: ledger record needs an outcome")
	}
	deliveries = append([]Delivery(nil), deliveries...) // filled in below; the caller's stay as they were
	for i := range deliveries {
		d := &deliveries[i]
		if d.EntryID == "" {
			d.EntryID = rec.EntryID
		}
		if d.Revision == 0 {
			d.Revision = rec.Revision
		}
		switch {
		case d.DocumentID == "" || d.SetID == "" || d.Version < 1:
			return nil, time.Time{}, fmt.Errorf("queue: delivery %d of %s#%d needs a document id, a set id and a version >= 1", i, rec.EntryID, rec.Revision)
		case d.Route != RouteCDA && d.Route != RouteFHIR:
			return nil, time.Time{}, fmt.Errorf("queue: delivery %s: unknown route %q", d.DocumentID, d.Route)
		case d.EntryID != rec.EntryID || d.Revision != rec.Revision:
			return nil, time.Time{}, fmt.Errorf("queue: delivery %s belongs to another entry revision", d.DocumentID)
		}
	}
	decided := rec.DecidedAt
	if decided.IsZero() {
		decided = s.o.Clock.Now()
	}
	return deliveries, decided, nil
}

// ingestMany is the body of Ingest and IngestBatch inside a transaction:
// the ledger rows first (a revision already there is reported, not enqueued
// again), then one River insert for every delivery of the revisions that
// are new, then their delivery rows and audit events. results[i] is nil or
// ErrAlreadyRead.
func (s *store[TTx]) ingestMany(ctx context.Context, tx TTx, x execer, items []Ingestion, ps []prepared) ([]error, error) {
	dl := s.b.dialect
	results := make([]error, len(items))
	fresh := make([]int, 0, len(items))
	for i, it := range items {
		rec := it.Record
		n, err := x.exec(ctx, qLedgerInsert,
			rec.EntryID, rec.Revision, rec.File, rec.Line, string(rec.Outcome), string(rec.ReasonClass), rec.Reason,
			string(rec.Archive), string(rec.Register), string(rec.Role), rec.DocumentID, rec.SetID, rec.Version, rec.Hetu, dl.t(ps[i].decided))
		if err != nil {
			return nil, fmt.Errorf("queue: ledger insert: %w", err)
		}
		if n == 0 {
			results[i] = ErrAlreadyRead
			continue
		}
		fresh = append(fresh, i)
	}

	now := s.o.Clock.Now()
	// The deliveries to insert: every one of a fresh revision, except a
	// shared document already stored (or claimed earlier in this chunk).
	// A shared document's row is claimed first, so a replica inserting the
	// same document at the same time waits for this transaction and then
	// inserts nothing.
	type pendingDelivery struct {
		d       Delivery
		item    int
		claimed bool
	}
	var todo []pendingDelivery
	claimed := map[string]bool{}
	for _, i := range fresh {
		for _, d := range ps[i].deliveries {
			if !d.Shared {
				todo = append(todo, pendingDelivery{d: d, item: i})
				continue
			}
			if claimed[d.DocumentID] {
				continue
			}
			claimed[d.DocumentID] = true
			n, err := x.exec(ctx, qDeliveryClaim,
				d.DocumentID, d.SetID, d.Version, d.Route, d.EntryID, d.Revision, string(d.Role), boolInt(d.HeldUntilGoLive), dl.t(now), d.Payload, d.After)
			if err != nil {
				return nil, fmt.Errorf("queue: delivery insert for %s: %w", d.DocumentID, err)
			}
			if n > 0 {
				todo = append(todo, pendingDelivery{d: d, item: i, claimed: true})
			}
		}
	}

	var params []river.InsertManyParams
	var waits []string
	// A later version whose predecessor is not delivered yet is queued
	// waiting: the predecessor's delivery wakes it (same transaction as
	// recording that delivery), so it never runs just to find it must wait.
	// Were it queued due, it would run beside its predecessor, snooze, and
	// the wake could pass it by while River had not yet recorded the snooze.
	// The same holds for a delivery whose prerequisite set is not delivered.
	lowest := map[setRoute]Delivery{} // lowest version of each set in this chunk
	for _, p := range todo {
		k := setRoute{p.d.SetID, p.d.Route}
		if l, ok := lowest[k]; !ok || p.d.Version < l.Version {
			lowest[k] = p.d
		}
	}
	for _, p := range todo {
		args := p.d
		opts := &river.InsertOpts{MaxAttempts: riverAttemptCeiling}
		wait := ""
		if args.NotBefore.After(now) {
			opts.ScheduledAt = s.wall(args.NotBefore)
		} else {
			// Due now (a held version is checked when it comes due).
			if l := lowest[setRoute{args.SetID, args.Route}]; l.Version < args.Version {
				wait = fmt.Sprintf("waiting for version %d (queued)", l.Version)
			} else {
				reason, blocked, err := s.blocked(ctx, x, &args, lowest)
				if err != nil {
					return nil, err
				}
				if blocked {
					wait = reason
				}
			}
			if wait != "" {
				// Only a wake missed between two replicas' transactions
				// leaves it to this re-check.
				opts.ScheduledAt = time.Now().Add(orderFallbackWaits * s.o.OrderWait)
			}
		}
		waits = append(waits, wait)
		sum := sha256.Sum256(args.Payload)
		args.Payload, args.PayloadSHA256 = nil, hex.EncodeToString(sum[:])
		params = append(params, river.InsertManyParams{Args: args, InsertOpts: opts})
	}
	var jobs []*rivertype.JobInsertResult
	if len(params) > 0 {
		var err error
		// One insert for the chunk: River's SQL is compiled once, not per job.
		if jobs, err = s.client.InsertManyTx(ctx, tx, params); err != nil {
			return nil, fmt.Errorf("queue: insert jobs: %w", err)
		}
		if len(jobs) != len(params) {
			return nil, fmt.Errorf("queue: River inserted %d jobs of %d", len(jobs), len(params))
		}
	}
	for k, p := range todo {
		d := p.d
		var err error
		if p.claimed {
			_, err = x.exec(ctx, qDeliveryClaimed, jobs[k].Job.ID, waits[k], d.DocumentID)
		} else {
			_, err = x.exec(ctx, qDeliveryInsert,
				d.DocumentID, d.SetID, d.Version, d.Route, d.EntryID, d.Revision, string(d.Role), boolInt(d.HeldUntilGoLive), jobs[k].Job.ID, dl.t(now), d.Payload, waits[k], d.After)
		}
		if err != nil {
			return nil, fmt.Errorf("queue: delivery insert for %s: %w", d.DocumentID, err)
		}
	}
	for _, i := range fresh {
		if _, err := s.recordEvent(ctx, x, items[i].Record, now); err != nil {
			return nil, err
		}
	}
	return results, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// prepared is an ingestion checked and filled in by prepare.
type prepared struct {
	deliveries []Delivery
	decided    time.Time
}

func (s *store[TTx]) Ingest(ctx context.Context, rec LedgerRecord, deliveries []Delivery) error {
	results, err := s.IngestBatch(ctx, []Ingestion{{Record: rec, Deliveries: deliveries}})
	if err != nil {
		return err
	}
	return results[0]
}

// IngestBatch ingests many revisions in one transaction (one commit
// instead of one per entry). results[i] is nil or ErrAlreadyRead; any other
// failure rolls the whole batch back and is returned as err.
func (s *store[TTx]) IngestBatch(ctx context.Context, items []Ingestion) ([]error, error) {
	ps := make([]prepared, len(items))
	for i, it := range items {
		d, t, err := s.prepare(it.Record, it.Deliveries)
		if err != nil {
			return nil, err
		}
		ps[i] = prepared{d, t}
	}
	var results []error
	err := s.inTx(ctx, func(tx TTx, x execer) error {
		var err error
		results, err = s.ingestMany(ctx, tx, x, items, ps)
		return err
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

// RecordEvent writes the audit row of a rejected or skipped revision
// without recording it as read: a corrected re-export (or the final
// version of a draft) must still be taken in.
func (s *store[TTx]) RecordEvent(ctx context.Context, rec LedgerRecord) error {
	return s.RecordEventWith(ctx, rec, func() error { return nil })
}

func (s *store[TTx]) RecordEventWith(ctx context.Context, rec LedgerRecord, also func() error) error {
	if rec.EntryID == "" && rec.Source == "" {
		return errors.New("queue: audit event needs an entry id or a source")
	}
	fresh := true
	err := s.inTx(ctx, func(tx TTx, x execer) error {
		var err error
		if fresh, err = s.recordEvent(ctx, x, rec, s.o.Clock.Now()); err != nil || !fresh {
			return err
		}
		return also()
	})
	if err == nil && !fresh {
		return ErrAlreadyRead
	}
	return err
}

// recordEvent writes a rejection's or skip's audit row; false when the
// same event of the same batch line is already recorded.
func (s *store[TTx]) recordEvent(ctx context.Context, x execer, rec LedgerRecord, now time.Time) (bool, error) {
	var event string
	switch rec.Outcome {
	case documents.OutcomeReject:
		event = EventRejected
	case documents.OutcomeSkip:
		event = EventSkipped
	default:
		return true, nil
	}
	source := rec.Source
	if source == "" && rec.File != "" {
		source = fmt.Sprintf("%s:%d", rec.File, rec.Line)
	}
	n, err := x.exec(ctx, qAuditEvent,
		s.b.dialect.t(now), event, rec.EntryID, rec.Revision, rec.DocumentID, rec.Version, string(rec.Archive), string(rec.Register), string(rec.Role), rec.Hetu, source)
	if err != nil {
		return false, fmt.Errorf("queue: audit insert: %w", err)
	}
	return n > 0, nil
}

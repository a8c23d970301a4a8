package queue

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivertype"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
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

// riverSchedulerInterval is River's fixed interval for moving scheduled
// and retryable jobs to available; shorter waits stay available with a
// future scheduled_at and are fetched when due.
const riverSchedulerInterval = 5 * time.Second

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

// The statements run for every entry or delivery (each connection keeps
// them compiled: sqlitestmt.go on SQLite, pgx's own cache on PostgreSQL).
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
	qDeliveryState   = `SELECT state, wait_reason, payload FROM deliveries WHERE document_id = ?`
	qDeliveryWait    = `UPDATE deliveries SET wait_reason = ?, updated_at = ? WHERE document_id = ?`
	qDeliveryAttempt = `UPDATE deliveries SET ack_code = ?, ack_detail = ?, ack_text = ?, wait_reason = '', updated_at = ? WHERE document_id = ?`
	qPredecessor     = `SELECT version, state, ack_code, ack_detail FROM deliveries
		WHERE set_id = ? AND route = ? AND version < ? AND state <> 'delivered' ORDER BY version LIMIT 1`
	// An acknowledged payload is dropped: Kanta has it, and the gateway
	// keeps no personal data it no longer needs.
	qDelivered     = `UPDATE deliveries SET state = 'delivered', ack_code = ?, ack_detail = ?, ack_text = ?, wait_reason = '', updated_at = ?, payload = NULL WHERE document_id = ?`
	qLedgerOutcome = `SELECT coalesce(max(outcome), '') FROM ledger WHERE entry_id = ? AND revision = ?`
	// The wake releases the next version of the set (versions may skip a
	// number), which waits for nothing else now; a later one waits on.
	// (id = the next version's job, so SQLite looks the job up by its key
	// instead of walking every available job.)
	qWakeJobs = `UPDATE river_job SET state = 'available', scheduled_at = ?
		WHERE id = (SELECT job_id FROM deliveries WHERE set_id = ? AND route = ? AND state = 'queued' AND wait_reason <> ''
		AND version = (SELECT min(version) FROM deliveries WHERE set_id = ? AND route = ? AND version > ?))
		AND state IN ('available', 'scheduled')`
	qWakeDeliveries = `UPDATE deliveries SET wait_reason = '' WHERE set_id = ? AND route = ? AND state = 'queued' AND wait_reason <> ''
		AND version = (SELECT min(version) FROM deliveries WHERE set_id = ? AND route = ? AND version > ?)`
	// A set's delivery also releases the deliveries that name it as their
	// prerequisite (Delivery.After). One that still waits for its own
	// earlier version finds that when it runs, and waits on. (after_set <>
	// '' lets SQLite use the partial index.)
	qPrerequisite = `SELECT document_id, state, ack_code, ack_detail FROM deliveries
		WHERE set_id = ? AND route = ? ORDER BY version`
	// The dependants' jobs are looked up first and woken one by one by their
	// key: as one UPDATE ... WHERE id IN (subquery) AND state IN (...),
	// SQLite walked River's state index, i.e. every available and scheduled
	// job, for every delivery (1.6 ms a document at 10,000 queued, and
	// worse in a burst of 100,000).
	qDependantJobs  = `SELECT job_id FROM deliveries WHERE after_set = ? AND after_set <> '' AND route = ? AND state = 'queued' AND wait_reason <> ''`
	qWakeJob        = `UPDATE river_job SET state = 'available', scheduled_at = ? WHERE id = ? AND state IN ('available', 'scheduled')`
	qWakeDependants = `UPDATE deliveries SET wait_reason = '' WHERE after_set = ? AND after_set <> '' AND route = ? AND state = 'queued' AND wait_reason <> ''`
	qDead           = `UPDATE deliveries SET state = 'dead', ack_code = ?, ack_detail = ?, ack_text = ?, wait_reason = '', updated_at = ? WHERE document_id = ?`
	qAuditDelivery  = `INSERT INTO audit (time, event, entry_id, revision, document_id, version, archive, register, author_role, ack_code, hetu)
		SELECT ?, ?, entry_id, revision, ?, ?, archive, register, role, ?, hetu FROM ledger WHERE entry_id = ? AND revision = ?`
	// qBusy answers 1 when a job is running or due: three lookups on River's
	// state index that stop at the first row, since WaitIdle asks it every
	// 100 ms while thousands of finished jobs accumulate. (No kind filter:
	// every job in the queue's database is a delivery, and filtering on kind
	// made SQLite walk the kind index, i.e. every job.)
	qBusy = `SELECT CASE WHEN
		EXISTS (SELECT 1 FROM river_job WHERE state = 'running')
		OR EXISTS (SELECT 1 FROM river_job j LEFT JOIN deliveries d ON d.job_id = j.id
			WHERE j.state IN ('available', 'retryable') AND j.scheduled_at <= ? AND coalesce(d.wait_reason, '') = '')
		OR EXISTS (SELECT 1 FROM river_job j LEFT JOIN deliveries d ON d.job_id = j.id
			WHERE j.state IN ('scheduled', 'pending') AND j.scheduled_at <= ? AND coalesce(d.wait_reason, '') = '')
		THEN 1 ELSE 0 END`
)

// orderFallbackWaits: a version queued behind its predecessor re-checks
// after this many OrderWaits if no delivery woke it.
const orderFallbackWaits = 15

// --- ingestion ---------------------------------------------------------

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

func afterWhat(d *Delivery) string {
	if d.AfterWhat != "" {
		return d.AfterWhat
	}
	return "prerequisite document"
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

// SeenBatch answers Seen for many revisions with one query.
func (s *store[TTx]) SeenBatch(ctx context.Context, keys []EntryKey) (map[EntryKey]bool, error) {
	out := make(map[EntryKey]bool, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	var q strings.Builder
	args := make([]any, 0, 2*len(keys))
	q.WriteString(`SELECT entry_id, revision FROM ledger WHERE `)
	for i, k := range keys {
		if i > 0 {
			q.WriteString(" OR ")
		}
		q.WriteString("(entry_id = ? AND revision = ?)")
		args = append(args, k.EntryID, k.Revision)
	}
	rows, err := s.b.pool.query(ctx, q.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("queue: ledger lookup: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k EntryKey
		if err := rows.Scan(&k.EntryID, &k.Revision); err != nil {
			return nil, fmt.Errorf("queue: ledger lookup: %w", err)
		}
		out[k] = true
	}
	return out, rows.Err()
}

// StoredDocuments reports which document ids have a delivery row.
func (s *store[TTx]) StoredDocuments(ctx context.Context, documentIDs []string) (map[string]bool, error) {
	out := make(map[string]bool, len(documentIDs))
	if len(documentIDs) == 0 {
		return out, nil
	}
	q := `SELECT document_id FROM deliveries WHERE document_id IN (?` + strings.Repeat(", ?", len(documentIDs)-1) + `)`
	args := make([]any, len(documentIDs))
	for i, id := range documentIDs {
		args[i] = id
	}
	rows, err := s.b.pool.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("queue: delivery lookup: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("queue: delivery lookup: %w", err)
		}
		out[id] = true
	}
	return out, rows.Err()
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

func (s *store[TTx]) Seen(ctx context.Context, entryID string, revision int) (bool, error) {
	var n int
	if err := s.b.pool.queryRow(ctx, `SELECT count(*) FROM ledger WHERE entry_id = ? AND revision = ?`, entryID, revision).Scan(&n); err != nil {
		return false, fmt.Errorf("queue: ledger lookup: %w", err)
	}
	return n > 0, nil
}

// LatestAccepted implements documents.History for callers that cannot
// handle an error (tests, tools). The interface has no error, so a failed
// lookup answers "nothing accepted" after logging it: ingestion must not use
// it, and uses AcceptedRevisions, which returns the error.
func (s *store[TTx]) LatestAccepted(entryID string) (int, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	revs, err := s.AcceptedRevisions(ctx, []string{entryID})
	if err != nil {
		s.o.Logger.Error("queue: ledger history lookup failed", "entry_id", entryID, "error", err)
		return 0, false
	}
	rev, ok := revs[entryID]
	return rev, ok
}

// AcceptedRevisions answers LatestAccepted for many entries with one query.
// An entry with no accepted revision is absent from the map; a database
// failure is an error, never "nothing accepted".
func (s *store[TTx]) AcceptedRevisions(ctx context.Context, entryIDs []string) (map[string]int, error) {
	out := make(map[string]int, len(entryIDs))
	if len(entryIDs) == 0 {
		return out, nil
	}
	var q strings.Builder
	args := make([]any, 0, len(entryIDs))
	q.WriteString(`SELECT entry_id, max(revision) FROM ledger WHERE outcome IN ('submit', 'hold', 'invalidate') AND entry_id IN (`)
	for i, id := range entryIDs {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("?")
		args = append(args, id)
	}
	q.WriteString(`) GROUP BY entry_id`)
	rows, err := s.b.pool.query(ctx, q.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("queue: ledger history lookup: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var rev int
		if err := rows.Scan(&id, &rev); err != nil {
			return nil, fmt.Errorf("queue: ledger history lookup: %w", err)
		}
		if rev > 0 {
			out[id] = rev
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("queue: ledger history lookup: %w", err)
	}
	return out, nil
}

// --- running -----------------------------------------------------------

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

// --- the worker --------------------------------------------------------

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

// setRoute is one document set on one route.
type setRoute struct{ set, route string }

// blocked reports whether a delivery must wait: for an earlier version of
// its set (predecessor), or for its prerequisite set (prerequisite), and
// says why. pending are the sets being inserted in the caller's
// transaction and not yet written (nil outside ingestion).
func (s *store[TTx]) blocked(ctx context.Context, x execer, d *Delivery, pending map[setRoute]Delivery) (string, bool, error) {
	if reason, blocked, err := s.predecessor(ctx, x, d); err != nil || blocked {
		return reason, blocked, err
	}
	return s.prerequisite(ctx, x, d, pending)
}

// prerequisite reports whether the delivery's prerequisite set (After) has
// no delivered version on the delivery's route yet, and names the version
// it waits for. Like predecessor, the rows read are share-locked on
// PostgreSQL until x's transaction ends, so a delivery of the prerequisite
// either is seen here or comes after the wait is recorded, and wakes it.
func (s *store[TTx]) prerequisite(ctx context.Context, x execer, d *Delivery, pending map[setRoute]Delivery) (string, bool, error) {
	if d.After == "" {
		return "", false, nil
	}
	rows, err := x.query(ctx, qPrerequisite+s.b.dialect.shareLock, d.After, d.Route)
	if err != nil {
		return "", false, fmt.Errorf("queue: prerequisite check: %w", err)
	}
	defer rows.Close()
	var first struct{ id, state, code, detail string }
	found := false
	for rows.Next() {
		var id, state, code, detail string
		if err := rows.Scan(&id, &state, &code, &detail); err != nil {
			return "", false, fmt.Errorf("queue: prerequisite check: %w", err)
		}
		if state == DeliveryDelivered {
			return "", false, nil
		}
		if !found {
			first.id, first.state, first.code, first.detail = id, state, code, detail
			found = true
		}
	}
	if err := rows.Err(); err != nil {
		return "", false, fmt.Errorf("queue: prerequisite check: %w", err)
	}
	what := afterWhat(d)
	switch {
	case found:
		reason := fmt.Sprintf("waiting for %s %s (%s", what, first.id, first.state)
		if first.state == DeliveryDead && (first.code != "" || first.detail != "") {
			reason += ": " + strings.TrimSpace(first.code+" code "+first.detail)
		}
		return reason + ")", true, nil
	default:
		if p, ok := pending[setRoute{d.After, d.Route}]; ok {
			return fmt.Sprintf("waiting for %s %s (queued)", what, p.DocumentID), true, nil
		}
		return fmt.Sprintf("waiting for %s %s (not queued)", what, d.After), true, nil
	}
}

// predecessor reports whether an earlier version of the same set and route
// is not yet delivered, and says which and why.
//
// On PostgreSQL the row found is share-locked until x's transaction ends,
// so a concurrent delivery of it (which updates the row) waits for that
// transaction, and a check that waited sees the delivery. SQLite runs one
// writing transaction at a time anyway.
func (s *store[TTx]) predecessor(ctx context.Context, x execer, d *Delivery) (string, bool, error) {
	if d.Version <= 1 {
		return "", false, nil // a first version has none
	}
	rows, err := x.query(ctx, qPredecessor+s.b.dialect.shareLock, d.SetID, d.Route, d.Version)
	if err != nil {
		return "", false, fmt.Errorf("queue: order check: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		return "", false, rows.Err()
	}
	var version int
	var state, code, detail string
	if err := rows.Scan(&version, &state, &code, &detail); err != nil {
		return "", false, fmt.Errorf("queue: order check: %w", err)
	}
	reason := fmt.Sprintf("waiting for version %d (%s", version, state)
	if state == DeliveryDead && (code != "" || detail != "") {
		reason += ": " + strings.TrimSpace(code+" code "+detail)
	}
	return reason + ")", true, nil
}

// writeDelivered writes the record of an acknowledged delivery: its state,
// the audit row, and the wake of the set's next version. River's completer
// then marks the job completed, in batches; if the process dies in between,
// the job runs again, finds the delivery recorded and ends without sending.
func (s *store[TTx]) writeDelivered(ctx context.Context, x execer, d *Delivery, r Result) error {
	dl := s.b.dialect
	if _, err := x.exec(ctx, qDelivered,
		r.Code, r.Detail, r.Text, s.now(), d.DocumentID); err != nil {
		return fmt.Errorf("queue: record delivery: %w", err)
	}
	var outcome string
	if err := x.queryRow(ctx, qLedgerOutcome, d.EntryID, d.Revision).Scan(&outcome); err != nil {
		return fmt.Errorf("queue: ledger lookup: %w", err)
	}
	event := EventAccepted
	// A shared document (a client relationship's) is not a version of the
	// entry that carried it: an invalidating revision does not make it one.
	if outcome == string(documents.OutcomeInvalidate) && !d.Shared {
		event = EventInvalidated
	}
	if err := s.audit(ctx, x, event, d, r.Code); err != nil {
		return err
	}
	if _, err := x.exec(ctx, qWakeJobs,
		dl.t(time.Now()), d.SetID, d.Route, d.SetID, d.Route, d.Version); err != nil {
		return fmt.Errorf("queue: wake next version: %w", err)
	}
	if _, err := x.exec(ctx, qWakeDeliveries,
		d.SetID, d.Route, d.SetID, d.Route, d.Version); err != nil {
		return fmt.Errorf("queue: wake next version: %w", err)
	}
	if err := s.wakeDependantJobs(ctx, x, d); err != nil {
		return err
	}
	if _, err := x.exec(ctx, qWakeDependants, d.SetID, d.Route); err != nil {
		return fmt.Errorf("queue: wake dependants: %w", err)
	}
	return nil
}

// wakeDependantJobs makes the jobs of the deliveries waiting for d's set
// (Delivery.After) available now.
func (s *store[TTx]) wakeDependantJobs(ctx context.Context, x execer, d *Delivery) error {
	rows, err := x.query(ctx, qDependantJobs, d.SetID, d.Route)
	if err != nil {
		return fmt.Errorf("queue: wake dependants: %w", err)
	}
	var jobs []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return fmt.Errorf("queue: wake dependants: %w", err)
		}
		jobs = append(jobs, id)
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return fmt.Errorf("queue: wake dependants: %w", err)
	}
	for _, id := range jobs {
		if _, err := x.exec(ctx, qWakeJob, s.b.dialect.t(time.Now()), id); err != nil {
			return fmt.Errorf("queue: wake dependants: %w", err)
		}
	}
	return nil
}

// dead records a delivery that will not be sent again without an operator.
func (s *store[TTx]) dead(ctx context.Context, d *Delivery, r Result) error {
	return s.inTx(ctx, func(_ TTx, x execer) error {
		if _, err := x.exec(ctx, qDead,
			r.Code, r.Detail, r.Text, s.now(), d.DocumentID); err != nil {
			return fmt.Errorf("queue: record dead delivery: %w", err)
		}
		return s.audit(ctx, x, EventDead, d, r.Code)
	})
}

// audit writes an event of a delivery; identity and author come from the
// ledger so the job's arguments need not carry the identity code.
func (s *store[TTx]) audit(ctx context.Context, x execer, event string, d *Delivery, ackCode string) error {
	_, err := x.exec(ctx, qAuditDelivery,
		s.now(), event, d.DocumentID, d.Version, ackCode, d.EntryID, d.Revision)
	if err != nil {
		return fmt.Errorf("queue: audit insert: %w", err)
	}
	return nil
}

// --- operator views and actions ------------------------------------------

func riverStates(state string) ([]rivertype.JobState, error) {
	switch state {
	case "":
		return nil, nil
	case StateScheduled:
		return []rivertype.JobState{rivertype.JobStateScheduled, rivertype.JobStatePending}, nil
	case StateAvailable:
		return []rivertype.JobState{rivertype.JobStateAvailable}, nil
	case StateRunning:
		return []rivertype.JobState{rivertype.JobStateRunning}, nil
	case StateRetryable:
		return []rivertype.JobState{rivertype.JobStateRetryable}, nil
	case StateDead:
		return []rivertype.JobState{rivertype.JobStateDiscarded, rivertype.JobStateCancelled}, nil
	case StateDone:
		return []rivertype.JobState{rivertype.JobStateCompleted}, nil
	case StateCancelled:
		return []rivertype.JobState{rivertype.JobStateCancelled}, nil
	}
	return nil, fmt.Errorf("queue: unknown job state %q (want one of %s)", state, strings.Join(States, ", "))
}

// jobState maps River's state to ours: a job cancelled because Kanta
// refused it is dead, one an operator cancelled is cancelled.
func jobState(rs rivertype.JobState, deliveryState string) string {
	switch rs {
	case rivertype.JobStateScheduled, rivertype.JobStatePending:
		return StateScheduled
	case rivertype.JobStateAvailable:
		return StateAvailable
	case rivertype.JobStateRunning:
		return StateRunning
	case rivertype.JobStateRetryable:
		return StateRetryable
	case rivertype.JobStateDiscarded:
		return StateDead
	case rivertype.JobStateCompleted:
		return StateDone
	case rivertype.JobStateCancelled:
		if deliveryState == DeliveryDead {
			return StateDead
		}
		return StateCancelled
	}
	return string(rs)
}

func (s *store[TTx]) Jobs(ctx context.Context, f JobFilter) ([]JobInfo, error) {
	states, err := riverStates(f.State)
	if err != nil {
		return nil, err
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 10000)
	params := river.NewJobListParams().Kinds(JobKind).First(limit).OrderBy(river.JobListOrderByID, river.SortOrderAsc)
	if len(states) > 0 {
		params = params.States(states...)
	}
	if f.EntryID != "" {
		ids, err := s.jobIDsOfEntry(ctx, f.EntryID)
		if err != nil {
			return nil, err
		}
		if len(ids) == 0 {
			return nil, nil
		}
		params = params.IDs(ids...)
	}
	res, err := s.client.JobList(ctx, params)
	if err != nil {
		return nil, fmt.Errorf("queue: list jobs: %w", err)
	}
	out := make([]JobInfo, 0, len(res.Jobs))
	for _, row := range res.Jobs {
		info, err := s.jobInfo(ctx, row)
		if err != nil {
			return nil, err
		}
		if f.State != "" && info.State != f.State {
			continue
		}
		out = append(out, *info)
	}
	return out, nil
}

func (s *store[TTx]) jobIDsOfEntry(ctx context.Context, entryID string) ([]int64, error) {
	rows, err := s.b.pool.query(ctx, `SELECT job_id FROM deliveries WHERE entry_id = ? ORDER BY job_id`, entryID)
	if err != nil {
		return nil, fmt.Errorf("queue: jobs of entry: %w", err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

func (s *store[TTx]) Job(ctx context.Context, id int64) (*JobInfo, error) {
	row, err := s.client.JobGet(ctx, id)
	if errors.Is(err, river.ErrNotFound) {
		return nil, fmt.Errorf("queue: job %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("queue: job %d: %w", id, err)
	}
	if row.Kind != JobKind {
		return nil, fmt.Errorf("queue: job %d: %w", id, ErrNotFound)
	}
	return s.jobInfo(ctx, row)
}

func (s *store[TTx]) jobInfo(ctx context.Context, row *rivertype.JobRow) (*JobInfo, error) {
	info := &JobInfo{
		ID:          row.ID,
		Attempt:     row.Attempt,
		MaxAttempts: s.o.MaxAttempts,
		CreatedAt:   row.CreatedAt,
		ScheduledAt: row.ScheduledAt,
	}
	if err := json.Unmarshal(row.EncodedArgs, &info.Delivery); err != nil {
		return nil, fmt.Errorf("queue: job %d arguments: %w", row.ID, err)
	}
	info.PayloadBytes = len(info.Delivery.Payload) // a job of an earlier release
	info.Delivery.Payload = nil
	if row.AttemptedAt != nil {
		info.AttemptedAt = *row.AttemptedAt
	}
	if row.FinalizedAt != nil {
		info.FinalizedAt = *row.FinalizedAt
	}
	for _, e := range row.Errors {
		info.Errors = append(info.Errors, AttemptError{At: e.At, Attempt: e.Attempt, Error: e.Error})
	}
	rows, err := s.b.pool.query(ctx, `SELECT state, ack_code, ack_detail, ack_text, wait_reason, coalesce(length(payload), 0) FROM deliveries WHERE document_id = ?`, info.Delivery.DocumentID)
	if err != nil {
		return nil, fmt.Errorf("queue: delivery of job %d: %w", row.ID, err)
	}
	defer rows.Close()
	var stored int
	if rows.Next() {
		if err := rows.Scan(&info.DeliveryState, &info.AckCode, &info.AckDetail, &info.AckText, &info.WaitReason, &stored); err != nil {
			return nil, fmt.Errorf("queue: delivery of job %d: %w", row.ID, err)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	info.PayloadBytes = max(info.PayloadBytes, stored)
	info.State = jobState(row.State, info.DeliveryState)
	return info, nil
}

func (s *store[TTx]) Retry(ctx context.Context, id int64) error {
	return s.inTx(ctx, func(tx TTx, x execer) error {
		row, err := s.client.JobGetTx(ctx, tx, id)
		if errors.Is(err, river.ErrNotFound) || (err == nil && row.Kind != JobKind) {
			return fmt.Errorf("queue: retry job %d: %w", id, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("queue: retry job %d: %w", id, err)
		}
		// River would also run a completed job again, or a held one now,
		// before its date; neither is what an operator's retry means.
		switch row.State {
		case rivertype.JobStateDiscarded, rivertype.JobStateCancelled, rivertype.JobStateRetryable, rivertype.JobStateAvailable:
		case rivertype.JobStateCompleted:
			return fmt.Errorf("queue: job %d is already done", id)
		case rivertype.JobStateScheduled, rivertype.JobStatePending:
			return fmt.Errorf("queue: job %d is held until %s; reschedule it instead", id, row.ScheduledAt.Format(time.RFC3339))
		default:
			return fmt.Errorf("queue: job %d is %s", id, row.State)
		}
		if _, err := s.client.JobRetryTx(ctx, tx, id); err != nil {
			return fmt.Errorf("queue: retry job %d: %w", id, err)
		}
		if _, err := x.exec(ctx, `UPDATE deliveries SET state = 'queued', wait_reason = '', updated_at = ? WHERE job_id = ? AND state IN ('dead', 'cancelled')`, s.now(), id); err != nil {
			return fmt.Errorf("queue: requeue delivery of job %d: %w", id, err)
		}
		return s.auditOperator(ctx, x, EventOperatorRetry, id)
	})
}

func (s *store[TTx]) RetryAllDead(ctx context.Context) (int, error) {
	jobs, err := s.Jobs(ctx, JobFilter{State: StateDead, Limit: 10000})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, j := range jobs {
		if err := s.Retry(ctx, j.ID); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func (s *store[TTx]) Cancel(ctx context.Context, id int64) error {
	return s.inTx(ctx, func(tx TTx, x execer) error {
		row, err := s.client.JobCancelTx(ctx, tx, id)
		if errors.Is(err, river.ErrNotFound) {
			return fmt.Errorf("queue: cancel job %d: %w", id, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("queue: cancel job %d: %w", id, err)
		}
		if row.State == rivertype.JobStateCompleted {
			return fmt.Errorf("queue: job %d is already done", id)
		}
		if _, err := x.exec(ctx, `UPDATE deliveries SET state = 'cancelled', updated_at = ? WHERE job_id = ? AND state = 'queued'`, s.now(), id); err != nil {
			return fmt.Errorf("queue: cancel delivery of job %d: %w", id, err)
		}
		return s.auditOperator(ctx, x, EventOperatorCancel, id)
	})
}

func (s *store[TTx]) Reschedule(ctx context.Context, role documents.Role, notBefore time.Time) (int, error) {
	n, err := s.b.pool.exec(ctx, `UPDATE river_job SET scheduled_at = ?
		WHERE state = 'scheduled' AND kind = ? AND id IN (SELECT job_id FROM deliveries WHERE role = ? AND held = 1 AND state = 'queued')`,
		s.b.dialect.t(s.wall(notBefore)), JobKind, string(role))
	if err != nil {
		return 0, fmt.Errorf("queue: reschedule %s: %w", role, err)
	}
	return int(n), nil
}

func (s *store[TTx]) Stats(ctx context.Context) (Stats, error) {
	st := Stats{Depth: make(map[string]int, len(States))}
	for _, name := range States {
		st.Depth[name] = 0
	}
	rows, err := s.b.pool.query(ctx, `SELECT j.state, coalesce(d.state, ''), count(*) FROM river_job j LEFT JOIN deliveries d ON d.job_id = j.id
		WHERE j.kind = ? GROUP BY j.state, d.state`, JobKind)
	if err != nil {
		return st, fmt.Errorf("queue: stats: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var rs, ds string
		var n int
		if err := rows.Scan(&rs, &ds, &n); err != nil {
			return st, fmt.Errorf("queue: stats: %w", err)
		}
		st.Depth[jobState(rivertype.JobState(rs), ds)] += n
	}
	if err := rows.Err(); err != nil {
		return st, fmt.Errorf("queue: stats: %w", err)
	}
	st.Dead = st.Depth[StateDead]
	now := time.Now()
	dl := s.b.dialect
	var oldest, next dbTime
	if err := s.b.pool.queryRow(ctx, `SELECT min(scheduled_at) FROM river_job WHERE kind = ? AND state IN ('available', 'retryable', 'scheduled', 'pending') AND scheduled_at <= ?`,
		JobKind, dl.t(now)).Scan(&oldest); err != nil {
		return st, fmt.Errorf("queue: stats: %w", err)
	}
	if err := s.b.pool.queryRow(ctx, `SELECT min(scheduled_at) FROM river_job WHERE kind = ? AND state IN ('available', 'retryable', 'scheduled', 'pending') AND scheduled_at > ? AND attempted_at IS NULL`,
		JobKind, dl.t(now)).Scan(&next); err != nil {
		return st, fmt.Errorf("queue: stats: %w", err)
	}
	// Attempted and not finished: a retry is due later (a refusal by the
	// breaker snoozes, which leaves attempted_at set). The next retry is
	// the earliest of those not waiting for another document.
	var retry dbTime
	if err := s.b.pool.queryRow(ctx, `SELECT count(*), min(CASE WHEN coalesce(d.wait_reason, '') = '' THEN j.scheduled_at END)
		FROM river_job j LEFT JOIN deliveries d ON d.job_id = j.id
		WHERE j.kind = ? AND j.state IN ('available', 'retryable', 'scheduled', 'pending', 'running') AND j.attempted_at IS NOT NULL
		AND coalesce(d.state, 'queued') = 'queued'`,
		JobKind).Scan(&st.Retrying, &retry); err != nil {
		return st, fmt.Errorf("queue: stats: %w", err)
	}
	if !retry.IsZero() {
		st.NextRetry = s.o.Clock.Now().Add(retry.Sub(now))
	}
	if !oldest.IsZero() {
		st.OldestDue = max(now.Sub(oldest.Time), 0)
	}
	if !next.IsZero() {
		// Back on the gateway's clock.
		st.NextScheduled = s.o.Clock.Now().Add(next.Sub(now))
	}
	return st, nil
}

func (s *store[TTx]) Audit(ctx context.Context, q AuditQuery) ([]AuditEvent, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 1000
	}
	where, order := "", "id"
	var args []any
	switch {
	case q.Hetu != "":
		where, args = "hetu = ?", []any{q.Hetu}
	case q.EntryID != "":
		where, args = "entry_id = ?", []any{q.EntryID}
	case q.Operator:
		// The latest first: what operators did lately.
		where, args, order = "event IN (?, ?)", []any{EventOperatorRetry, EventOperatorCancel}, "id DESC"
	default:
		return nil, errors.New("queue: audit query needs an identity code, an entry id or operator events")
	}
	rows, err := s.b.pool.query(ctx, `SELECT time, event, entry_id, revision, document_id, version, archive, register, author_role, ack_code, hetu, actor
		FROM audit WHERE `+where+` ORDER BY `+order+` LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("queue: audit: %w", err)
	}
	defer rows.Close()
	var out []AuditEvent
	for rows.Next() {
		var e AuditEvent
		var at dbTime
		var archive, register, role string
		if err := rows.Scan(&at, &e.Event, &e.EntryID, &e.Revision, &e.DocumentID, &e.Version, &archive, &register, &role, &e.AckCode, &e.Hetu, &e.Actor); err != nil {
			return nil, fmt.Errorf("queue: audit: %w", err)
		}
		e.Time = at.Time
		e.Archive, e.Register, e.AuthorRole = documents.Archive(archive), documents.Register(register), documents.Role(role)
		out = append(out, e)
	}
	return out, rows.Err()
}

package queue

import (
	"context"
	"fmt"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
)

// The statements that record a delivery's outcome, run for every
// delivery (the wakes of River's jobs are in river_tables.go).
const (
	// An acknowledged payload is dropped: Kanta has it, and the gateway
	// keeps no personal data it no longer needs.
	qDelivered      = `UPDATE deliveries SET state = 'delivered', ack_code = ?, ack_detail = ?, ack_text = ?, wait_reason = '', updated_at = ?, payload = NULL WHERE document_id = ?`
	qLedgerOutcome  = `SELECT coalesce(max(outcome), '') FROM ledger WHERE entry_id = ? AND revision = ?`
	qWakeDeliveries = `UPDATE deliveries SET wait_reason = '' WHERE set_id = ? AND route = ? AND state = 'queued' AND wait_reason <> ''
		AND version = (SELECT min(version) FROM deliveries WHERE set_id = ? AND route = ? AND version > ?)`
	// The dependants' jobs are looked up first and woken one by one by their
	// key: as one UPDATE ... WHERE id IN (subquery) AND state IN (...),
	// SQLite walked River's state index, i.e. every available and scheduled
	// job, for every delivery (1.6 ms a document at 10,000 queued, and
	// worse in a burst of 100,000).
	qDependantJobs  = `SELECT job_id FROM deliveries WHERE after_set = ? AND after_set <> '' AND route = ? AND state = 'queued' AND wait_reason <> ''`
	qWakeDependants = `UPDATE deliveries SET wait_reason = '' WHERE after_set = ? AND after_set <> '' AND route = ? AND state = 'queued' AND wait_reason <> ''`
	qDead           = `UPDATE deliveries SET state = 'dead', ack_code = ?, ack_detail = ?, ack_text = ?, wait_reason = '', updated_at = ? WHERE document_id = ?`
	qAuditDelivery  = `INSERT INTO audit (time, event, entry_id, revision, document_id, version, archive, register, author_role, ack_code, hetu)
		SELECT ?, ?, entry_id, revision, ?, ?, archive, register, role, ?, hetu FROM ledger WHERE entry_id = ? AND revision = ?`
)

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

package queue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
)

// AuditQuery selects audit events by identity code, by entry id or
// operators' actions (one of them is required).
type AuditQuery struct {
	Hetu    string
	EntryID string
	// Operator selects operators' retries and cancels (any entry), the
	// latest first.
	Operator bool
	Limit    int // default 1000
}

// Audit events.
const (
	EventAccepted    = "accepted"
	EventRejected    = "rejected"
	EventSkipped     = "skipped"
	EventDead        = "dead"
	EventInvalidated = "invalidated"
)

// AuditEvent is one row of the audit trail.
type AuditEvent struct {
	Time       time.Time
	Event      string
	EntryID    string
	Revision   int
	DocumentID string
	Version    int
	Archive    documents.Archive
	Register   documents.Register
	AuthorRole documents.Role
	AckCode    string
	Hetu       string
	// Actor is who acted, for operator events (WithActor).
	Actor string
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
	rows, err := s.b.reports.query(ctx, `SELECT time, event, entry_id, revision, document_id, version, archive, register, author_role, ack_code, hetu, actor
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

// actorKey carries who acts (WithActor) to Retry and Cancel.
type actorKey struct{}

// WithActor names who acts for the audit trail: Retry and Cancel on a
// context carrying an actor write an operator event naming it ("console:
// alice", "cli:root"), in the same transaction as the action.
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// ActorOf is the actor WithActor put in ctx ("" when none).
func ActorOf(ctx context.Context) string {
	s, _ := ctx.Value(actorKey{}).(string)
	return s
}

// Operator events in the audit trail (AuditEvent.Actor says who).
const (
	EventOperatorRetry  = "operator_retry"
	EventOperatorCancel = "operator_cancel"
)

// qAuditOperator writes an operator's action on one job: the delivery's
// entry and document, the ledger's register and author role (and identity
// code, so `audit --hetu` shows it too), and who acted.
const qAuditOperator = `INSERT INTO audit (time, event, entry_id, revision, document_id, version, archive, register, author_role, ack_code, hetu, actor)
	SELECT ?, ?, d.entry_id, d.revision, d.document_id, d.version, coalesce(l.archive, ''), coalesce(l.register, ''), coalesce(l.role, ''), '', coalesce(l.hetu, ''), ?
	FROM deliveries d LEFT JOIN ledger l ON l.entry_id = d.entry_id AND l.revision = d.revision WHERE d.job_id = ?`

// auditOperator records an operator action on job id when ctx names an
// actor.
func (s *store[TTx]) auditOperator(ctx context.Context, x execer, event string, id int64) error {
	actor := ActorOf(ctx)
	if actor == "" {
		return nil
	}
	if _, err := x.exec(ctx, qAuditOperator, s.now(), event, actor, id); err != nil {
		return fmt.Errorf("queue: audit %s of job %d: %w", event, id, err)
	}
	return nil
}

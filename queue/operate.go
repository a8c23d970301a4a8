package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"riverqueue.com/riverui"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
)

// ErrNotFound is returned for an unknown job id.
var ErrNotFound = errors.New("job not found")

// Job states as shown to operators. StateDead covers both a permanent
// rejection and exhausted attempts; StateCancelled is an operator's cancel.
const (
	StateScheduled = "scheduled"
	StateAvailable = "available"
	StateRunning   = "running"
	StateRetryable = "retryable"
	StateDead      = "dead"
	StateDone      = "done"
	StateCancelled = "cancelled"
)

// States lists every job state in display order.
var States = []string{StateScheduled, StateAvailable, StateRunning, StateRetryable, StateDead, StateDone, StateCancelled}

// JobFilter selects jobs to list.
type JobFilter struct {
	State   string // one of States; empty = all
	EntryID string // empty = all
	Limit   int    // default 100, at most 10000
}

// AttemptError is one failed attempt.
type AttemptError struct {
	At      time.Time
	Attempt int
	Error   string
}

// JobInfo is a delivery job as an operator sees it. The payload is left
// out (it carries personal data); PayloadBytes tells its size while it is
// kept (until the delivery is acknowledged).
type JobInfo struct {
	ID            int64
	State         string
	Delivery      Delivery
	PayloadBytes  int
	Attempt       int
	MaxAttempts   int
	CreatedAt     time.Time
	ScheduledAt   time.Time
	AttemptedAt   time.Time // zero before the first attempt
	FinalizedAt   time.Time // zero until done, dead or cancelled
	Errors        []AttemptError
	DeliveryState string
	AckCode       string
	AckDetail     string
	AckText       string
	// WaitReason says why the job is waiting for an earlier version or
	// its prerequisite, e.g. "waiting for version 1 (dead: AR code 123)"
	// or "waiting for client relationship document <id> (queued)".
	WaitReason string
}

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
	rows, err := s.b.reports.query(ctx, `SELECT job_id FROM deliveries WHERE entry_id = ? ORDER BY job_id`, entryID)
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
	rows, err := s.b.reports.query(ctx, `SELECT state, ack_code, ack_detail, ack_text, wait_reason, coalesce(length(payload), 0) FROM deliveries WHERE document_id = ?`, info.Delivery.DocumentID)
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
	n, err := s.b.pool.exec(ctx, qReschedule,
		s.b.dialect.t(s.wall(notBefore)), JobKind, string(role))
	if err != nil {
		return 0, fmt.Errorf("queue: reschedule %s: %w", role, err)
	}
	return int(n), nil
}

// riverUIProvider is implemented by every Queue this package opens.
type riverUIProvider interface {
	riverUI(prefix string, log *slog.Logger) (*riverui.Handler, error)
}

func (s *store[TTx]) riverUI(prefix string, log *slog.Logger) (*riverui.Handler, error) {
	return riverui.NewHandler(&riverui.HandlerOpts{
		Endpoints: riverui.NewEndpoints(s.reportClient, nil),
		Logger:    log,
		Prefix:    prefix,
		// The list shows a delivery's ids and state; its arguments carry
		// no personal data (only ids and codes), but an old job may still
		// hold its payload inline, so the list does not show arguments
		// unless a user asks for them.
		JobListHideArgsByDefault: true,
	})
}

// RiverUI is River's own web UI over q's River client, served under
// prefix. It must be started (Handler.Start) before it serves. It takes
// the Operator role (River's UI retries, cancels and deletes jobs) of a
// queue this package opened.
func RiverUI(q Operator, prefix string, log *slog.Logger) (*riverui.Handler, error) {
	p, ok := q.(riverUIProvider)
	if !ok {
		return nil, fmt.Errorf("queue: %T has no River client", q)
	}
	return p.riverUI(prefix, log)
}

package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivertype"
	"riverqueue.com/riverui"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
)

// What the operators' console asks of the queue beyond the queue
// commands: the held backlog at a glance, the replicas seen, operator
// actions with who did them, and River's own UI over the same client.

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

// HeldCount is how many deliveries are held until one instant, per
// archive: the 2026-09-01 backlog is one row per archive.
type HeldCount struct {
	Archive documents.Archive
	// Until is when they become due, on the gateway's clock, to the
	// second (the translation from River's wall time is not exact to the
	// millisecond, and a go-live at midnight must not show the day before).
	Until time.Time
	// GoLive: held by their role's go-live date (Reschedule moves them),
	// not by a submit delay.
	GoLive bool
	Count  int
}

// Held counts the deliveries never attempted and held until a later date,
// by archive and date, earliest first.
func (s *store[TTx]) Held(ctx context.Context) ([]HeldCount, error) {
	rows, err := s.b.pool.query(ctx, `SELECT coalesce(l.archive, ''), j.scheduled_at, d.held, count(*)
		FROM river_job j JOIN deliveries d ON d.job_id = j.id LEFT JOIN ledger l ON l.entry_id = d.entry_id AND l.revision = d.revision
		WHERE j.kind = ? AND j.state = 'scheduled' AND j.attempted_at IS NULL AND d.state = 'queued'
		GROUP BY coalesce(l.archive, ''), j.scheduled_at, d.held`, JobKind)
	if err != nil {
		return nil, fmt.Errorf("queue: held: %w", err)
	}
	defer rows.Close()
	now := time.Now()
	var out []HeldCount
	for rows.Next() {
		var archive string
		var at dbTime
		var held, n int
		if err := rows.Scan(&archive, &at, &held, &n); err != nil {
			return nil, fmt.Errorf("queue: held: %w", err)
		}
		out = append(out, HeldCount{Archive: documents.Archive(archive), Until: s.o.Clock.Now().Add(at.Sub(now)).Round(time.Second), GoLive: held == 1, Count: n})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("queue: held: %w", err)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Until.Equal(out[j].Until) {
			return out[i].Until.Before(out[j].Until)
		}
		return out[i].Archive < out[j].Archive
	})
	return out, nil
}

// Replica is one gateway process (River client) seen working the queue.
type Replica struct {
	ID string // River's client id: host name and start time
	// LastSeen is its latest attempt among the recent jobs (zero for this
	// process before its first attempt).
	LastSeen time.Time
	Leader   bool // holds River's leadership (maintenance, scheduling)
	This     bool // this process
}

// replicaJobs is how many recent jobs Replicas reads.
const replicaJobs = 500

// Replicas lists the River clients that attempted the most recent jobs,
// the elected leader and this process, most recently seen first.
func (s *store[TTx]) Replicas(ctx context.Context) ([]Replica, error) {
	seen := map[string]*Replica{}
	get := func(id string) *Replica {
		r, ok := seen[id]
		if !ok {
			r = &Replica{ID: id}
			seen[id] = r
		}
		return r
	}
	get(s.client.ID()).This = true
	res, err := s.client.JobList(ctx, river.NewJobListParams().Kinds(JobKind).First(replicaJobs).
		OrderBy(river.JobListOrderByID, river.SortOrderDesc).
		States(rivertype.JobStateCompleted, rivertype.JobStateRunning, rivertype.JobStateRetryable, rivertype.JobStateDiscarded, rivertype.JobStateCancelled, rivertype.JobStateAvailable))
	if err != nil {
		return nil, fmt.Errorf("queue: replicas: %w", err)
	}
	for _, j := range res.Jobs {
		if len(j.AttemptedBy) == 0 {
			continue
		}
		r := get(j.AttemptedBy[len(j.AttemptedBy)-1])
		if j.AttemptedAt != nil && j.AttemptedAt.After(r.LastSeen) {
			r.LastSeen = *j.AttemptedAt
		}
	}
	leader, err := s.client.Driver().GetExecutor().LeaderGetElectedLeader(ctx, &riverdriver.LeaderGetElectedLeaderParams{})
	switch {
	case err == nil && leader != nil:
		get(leader.LeaderID).Leader = true
	case err != nil && !errors.Is(err, rivertype.ErrNotFound):
		return nil, fmt.Errorf("queue: replicas: leader: %w", err)
	}
	out := make([]Replica, 0, len(seen))
	for _, r := range seen {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].LastSeen.Equal(out[j].LastSeen) {
			return out[i].LastSeen.After(out[j].LastSeen)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// riverUIProvider is implemented by every Queue this package opens.
type riverUIProvider interface {
	riverUI(prefix string, log *slog.Logger) (*riverui.Handler, error)
}

func (s *store[TTx]) riverUI(prefix string, log *slog.Logger) (*riverui.Handler, error) {
	return riverui.NewHandler(&riverui.HandlerOpts{
		Endpoints: riverui.NewEndpoints(s.client, nil),
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
// prefix. It must be started (Handler.Start) before it serves.
func RiverUI(q Queue, prefix string, log *slog.Logger) (*riverui.Handler, error) {
	p, ok := q.(riverUIProvider)
	if !ok {
		return nil, fmt.Errorf("queue: %T has no River client", q)
	}
	return p.riverUI(prefix, log)
}

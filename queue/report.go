package queue

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivertype"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
)

// Stats summarise the queue.
type Stats struct {
	Depth map[string]int // by job state (States)
	// OldestDue is how long the oldest due job (available or retryable) has
	// waited; zero when none.
	OldestDue time.Duration
	// NextScheduled is the earliest future run of a held job (one never
	// attempted, e.g. waiting for its go-live); zero when none.
	NextScheduled time.Time
	Dead          int
	// Retrying counts deliveries that were attempted and are neither
	// acknowledged nor dead: due, left for a later retry (or waiting
	// behind one). NextRetry is the earliest of their next attempts (on
	// the gateway's clock); zero when none is scheduled.
	Retrying  int
	NextRetry time.Time
}

func (s *store[TTx]) Stats(ctx context.Context) (Stats, error) {
	st := Stats{Depth: make(map[string]int, len(States))}
	for _, name := range States {
		st.Depth[name] = 0
	}
	rows, err := s.b.reports.query(ctx, qStatsDepth)
	if err != nil {
		return st, fmt.Errorf("queue: stats: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var rs string
		var n int
		if err := rows.Scan(&rs, &n); err != nil {
			return st, fmt.Errorf("queue: stats: %w", err)
		}
		st.Depth[jobState(rivertype.JobState(rs), "")] += n
	}
	if err := rows.Err(); err != nil {
		return st, fmt.Errorf("queue: stats: %w", err)
	}
	var deadCancelled int
	if err := s.b.reports.queryRow(ctx, qStatsDeadCancelled, DeliveryDead).Scan(&deadCancelled); err != nil {
		return st, fmt.Errorf("queue: stats: %w", err)
	}
	st.Depth[StateCancelled] -= deadCancelled
	st.Depth[StateDead] += deadCancelled
	st.Dead = st.Depth[StateDead]
	now := time.Now()
	dl := s.b.dialect
	var oldest, next dbTime
	if err := s.b.reports.queryRow(ctx, qStatsOldestDue,
		dl.t(now)).Scan(&oldest); err != nil {
		return st, fmt.Errorf("queue: stats: %w", err)
	}
	if err := s.b.reports.queryRow(ctx, qStatsNextHeld,
		dl.t(now)).Scan(&next); err != nil {
		return st, fmt.Errorf("queue: stats: %w", err)
	}
	// Attempted and not finished: a retry is due later (a refusal by the
	// breaker snoozes, which leaves attempted_at set). The next retry is
	// the earliest of those not waiting for another document.
	var retry dbTime
	if err := s.b.reports.queryRow(ctx, qStatsRetrying).Scan(&st.Retrying, &retry); err != nil {
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
	rows, err := s.b.reports.query(ctx, qHeld, JobKind)
	if err != nil {
		return nil, fmt.Errorf("queue: held: %w", err)
	}
	defer rows.Close()
	now := time.Now()
	// The database groups by River's exact scheduled_at, which for one
	// go-live instant differs by microseconds between jobs (each was
	// translated from the gateway's clock at its own ingest, see wall);
	// rows that round to the same second are one group.
	type key struct {
		archive documents.Archive
		until   time.Time
		goLive  bool
	}
	group := map[key]int{}
	var out []HeldCount
	for rows.Next() {
		var archive string
		var at dbTime
		var held, n int
		if err := rows.Scan(&archive, &at, &held, &n); err != nil {
			return nil, fmt.Errorf("queue: held: %w", err)
		}
		k := key{documents.Archive(archive), s.o.Clock.Now().Add(at.Sub(now)).Round(time.Second), held == 1}
		if i, ok := group[k]; ok {
			out[i].Count += n
			continue
		}
		group[k] = len(out)
		out = append(out, HeldCount{Archive: k.archive, Until: k.until, GoLive: k.goLive, Count: n})
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
	res, err := s.reportClient.JobList(ctx, river.NewJobListParams().Kinds(JobKind).First(replicaJobs).
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
	leader, err := s.reportClient.Driver().GetExecutor().LeaderGetElectedLeader(ctx, &riverdriver.LeaderGetElectedLeaderParams{})
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

package queue

import (
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Records of acknowledged deliveries are group-committed: a worker whose
// record arrives while another worker's commit is running waits, and the
// next commit writes every record that arrived meanwhile. One fsync then
// covers several deliveries. On SQLite every transaction shares one
// connection, so a commit per delivery (and its fsync) held up the other
// workers and River as well. Each record is still durable before its job
// is completed, as before.
type recordGroup struct {
	mu      sync.Mutex
	leading bool // a worker is committing (or about to)
	pending []*pendingRecord
	commits atomic.Int64 // group commits so far (tests read it)
}

type pendingRecord struct {
	d    *Delivery
	r    Result
	done chan recordOutcome // buffered: the lead, then the outcome
}

// recordOutcome is what a waiting worker receives: its record's commit
// error, or the lead (commit what is pending now, its own record included).
type recordOutcome struct {
	err  error
	lead bool
}

// delivered records an acknowledged delivery, committed together with the
// records of other workers that arrive meanwhile.
func (s *store[TTx]) delivered(ctx context.Context, d *Delivery, r Result) error {
	g := &s.records
	p := &pendingRecord{d: d, r: r, done: make(chan recordOutcome, 1)}
	g.mu.Lock()
	g.pending = append(g.pending, p)
	lead := !g.leading
	g.leading = true
	g.mu.Unlock()
	if !lead {
		o := <-p.done
		if !o.lead {
			return o.err
		}
	}
	g.mu.Lock()
	batch := g.pending
	g.pending = nil
	g.mu.Unlock()
	// Kanta has acknowledged these documents: their records are written
	// even when this worker is being stopped.
	s.commitRecords(context.WithoutCancel(ctx), batch)
	// Pass the lead to the first worker that arrived during the commit,
	// so no worker stays leading (and its job unfinished) under load.
	g.mu.Lock()
	if len(g.pending) > 0 {
		next := g.pending[0]
		g.mu.Unlock()
		next.done <- recordOutcome{lead: true}
	} else {
		g.leading = false
		g.mu.Unlock()
	}
	return (<-p.done).err
}

// commitRecords writes a group of records in one transaction; when that
// fails, each record is written on its own, so one record's error is not
// every record's.
func (s *store[TTx]) commitRecords(ctx context.Context, batch []*pendingRecord) {
	// One order for every group: concurrent transactions (another
	// replica's group, River's completer) then take row locks in the same
	// order.
	slices.SortFunc(batch, func(a, b *pendingRecord) int {
		if c := strings.Compare(a.d.SetID, b.d.SetID); c != 0 {
			return c
		}
		return a.d.Version - b.d.Version
	})
	write := func(ps []*pendingRecord) error {
		return s.inTx(ctx, func(_ TTx, x execer) error {
			for _, p := range ps {
				if err := s.writeDelivered(ctx, x, p.d, p.r); err != nil {
					return err
				}
			}
			return nil
		})
	}
	s.records.commits.Add(1)
	err := write(batch)
	if err == nil || len(batch) == 1 {
		for _, p := range batch {
			p.done <- recordOutcome{err: err}
		}
		return
	}
	for _, p := range batch {
		p.done <- recordOutcome{err: write([]*pendingRecord{p})}
	}
}

func (s *store[TTx]) groupCommits() int64 { return s.records.commits.Load() }

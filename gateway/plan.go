package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"

	"github.com/helsinki-student-welfare/kanta-gateway/adapter"
	"github.com/helsinki-student-welfare/kanta-gateway/clock"
	"github.com/helsinki-student-welfare/kanta-gateway/config"
	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/queue"
)

// Planner is a dry run of ingestion: it decides batches with the
// ingestion's own decide step (Ingester.prepare: the repeated-revision
// check, the policy, the document build and the client relationship
// documents), against a memory of its own input instead of the queue.
// Nothing is written. Batches are read in the order given and remembered
// across files, as a spool would ingest them one after another.
type Planner struct {
	in  *Ingester
	mem *memoryLedger
}

// PlannedLine is the decision on one batch line.
type PlannedLine struct {
	File string
	Line int
	// Entry is nil when the adapter refused the line.
	Entry *documents.Entry
	// Decision is the policy's; for every rejection (adapter, policy or
	// build) its Outcome is reject with the reason of the rejection.
	Decision documents.Decision
	// Rejection names file, line, field and reason of a rejected line.
	Rejection *adapter.Rejection
	// AlreadyRead: the revision was read before (earlier in the input);
	// ingestion records nothing for this line.
	AlreadyRead bool
	// BuildFailed: the policy took the entry but its document could not
	// be built (the rejection says why).
	BuildFailed bool
	// Built are the entry's own documents (unsigned from an unsigned
	// builder); relationship documents are not included.
	Built []BuiltDocument
}

// NewPlanner plans with b; an unsigned builder (NewUnsignedBuilder) needs no
// signing keys and decides the same.
func NewPlanner(cfg *config.Config, b *Builder, c clock.Clock) *Planner {
	mem := &memoryLedger{seen: map[queue.EntryKey]bool{}, accepted: map[string]int{}, stored: map[string]bool{}}
	in := &Ingester{cfg: cfg, policy: cfg.PolicyEngine(), builder: b, ledger: mem, clock: c, log: slog.New(slog.DiscardHandler)}
	return &Planner{in: in, mem: mem}
}

// PlanFile decides one batch and calls fn for each line in line order. It
// returns fn's error, or the error that stopped reading the file (every
// line before it was planned).
func (p *Planner) PlanFile(ctx context.Context, path string, fn func(PlannedLine) error) error {
	r, err := adapter.Open(path, p.in.readerOptions())
	if err != nil {
		return err
	}
	defer r.Close()
	var chunk []adapter.Item
	flush := func() error {
		if len(chunk) == 0 {
			return nil
		}
		// Each chunk is "committed" to memory before the next is decided,
		// so no chunk before it is pending (prev is nil).
		c, err := p.in.prepare(ctx, chunk, nil)
		if err != nil {
			return err
		}
		chunk = nil
		p.mem.commit(c)
		for _, l := range c.plannedLines() {
			if err := fn(l); err != nil {
				return err
			}
		}
		return nil
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		it, err := r.Next()
		if errors.Is(err, io.EOF) {
			return flush()
		}
		if err != nil {
			if ferr := flush(); ferr != nil {
				return ferr
			}
			return fmt.Errorf("%s: %w", path, err)
		}
		chunk = append(chunk, it)
		if len(chunk) == chunkSize {
			if err := flush(); err != nil {
				return err
			}
		}
	}
}

// plannedLines lists the chunk's lines with their decisions, in line order.
func (c *preparedChunk) plannedLines() []PlannedLine {
	var out []PlannedLine
	for _, r := range c.rejections {
		l := PlannedLine{File: r.rj.File, Line: r.rj.Line, Rejection: r.rj}
		if r.decision != nil {
			l.Decision = *r.decision
			l.BuildFailed = r.decision.Outcome != documents.OutcomeReject
		}
		class := r.class
		if class == "" {
			class = documents.ReasonInvalidInput
		}
		l.Decision.Outcome, l.Decision.ReasonClass, l.Decision.Reason = documents.OutcomeReject, class, r.rj.Reason
		out = append(out, l)
	}
	for _, it := range c.repeated {
		out = append(out, PlannedLine{File: it.File, Line: it.Line, Entry: it.Entry, AlreadyRead: true})
	}
	for _, e := range c.drafts {
		out = append(out, PlannedLine{File: e.item.File, Line: e.item.Line, Entry: e.item.Entry, Decision: e.decision})
	}
	for _, e := range c.ingested {
		out = append(out, PlannedLine{File: e.item.File, Line: e.item.Line, Entry: e.item.Entry, Decision: e.decision, Built: e.built})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Line < out[j].Line })
	return out
}

// memoryLedger is plan's stand-in for the queue: what its input took in so
// far, kept as the queue keeps it (read revisions, accepted revisions,
// stored shared documents). Rejections and drafts are not read, as in the
// queue.
type memoryLedger struct {
	seen     map[queue.EntryKey]bool
	accepted map[string]int
	stored   map[string]bool
}

func (m *memoryLedger) SeenBatch(_ context.Context, keys []queue.EntryKey) (map[queue.EntryKey]bool, error) {
	out := make(map[queue.EntryKey]bool, len(keys))
	for _, k := range keys {
		if m.seen[k] {
			out[k] = true
		}
	}
	return out, nil
}

func (m *memoryLedger) StoredDocuments(_ context.Context, ids []string) (map[string]bool, error) {
	out := make(map[string]bool, len(ids))
	for _, id := range ids {
		if m.stored[id] {
			out[id] = true
		}
	}
	return out, nil
}

func (m *memoryLedger) AcceptedRevisions(_ context.Context, ids []string) (map[string]int, error) {
	out := make(map[string]int, len(ids))
	for _, id := range ids {
		if r, ok := m.accepted[id]; ok {
			out[id] = r
		}
	}
	return out, nil
}

// commit takes in what the queue's IngestBatch would: the chunk's ingested
// revisions and the shared documents queued with them.
func (m *memoryLedger) commit(c *preparedChunk) {
	for _, it := range c.items {
		rec := it.Record
		m.seen[queue.EntryKey{EntryID: rec.EntryID, Revision: rec.Revision}] = true
		switch rec.Outcome {
		case documents.OutcomeSubmit, documents.OutcomeHold, documents.OutcomeInvalidate:
			if r, ok := m.accepted[rec.EntryID]; !ok || rec.Revision > r {
				m.accepted[rec.EntryID] = rec.Revision
			}
		}
	}
	for id := range c.relationshipDocs {
		m.stored[id] = true
	}
}

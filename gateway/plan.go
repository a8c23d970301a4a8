package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"time"

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

// DecisionAlreadyRead is the decision named for a revision the input
// repeats: ingestion reads it once and counts the repeat as "already read".
const DecisionAlreadyRead = "already_read"

// DecisionName is the line's decision as plan names it: the policy's
// outcome, reject for every rejection, DecisionAlreadyRead for a repeat.
func (l PlannedLine) DecisionName() string {
	switch {
	case l.AlreadyRead:
		return DecisionAlreadyRead
	case l.Entry == nil:
		return string(documents.OutcomeReject)
	}
	return string(l.Decision.Outcome)
}

// PlanSummary counts a dry run's lines by decision and, for the lines an
// archive was decided for, by archive and decision.
type PlanSummary struct {
	Lines      int
	ByDecision map[string]int
	ByArchive  map[string]map[string]int
	// NextHold is the earliest not-before time of a held line (zero: none).
	NextHold time.Time
	// ReadErr names the files that could not be read to their end (every
	// line before the failure was planned); nil when all were.
	ReadErr error
}

// NewPlanSummary is an empty summary.
func NewPlanSummary() *PlanSummary {
	return &PlanSummary{ByDecision: map[string]int{}, ByArchive: map[string]map[string]int{}}
}

// Add counts one line.
func (s *PlanSummary) Add(l PlannedLine) {
	decision := l.DecisionName()
	s.Lines++
	s.ByDecision[decision]++
	if l.AlreadyRead || l.Entry == nil {
		return // no archive decided: a repeat or a rejection
	}
	if a := string(l.Decision.Archive); a != "" {
		if s.ByArchive[a] == nil {
			s.ByArchive[a] = map[string]int{}
		}
		s.ByArchive[a][decision]++
	}
	if l.Decision.Outcome == documents.OutcomeHold && (s.NextHold.IsZero() || l.Decision.NotBefore.Before(s.NextHold)) {
		s.NextHold = l.Decision.NotBefore
	}
}

// DryRun reads the batches in the order given and decides every line at
// the clock's now with the ingestion's own decide step (Planner), built by
// b, remembering in memory what it took in so that a later line of the
// input sees it as ingestion would see the queue. fn gets each line with
// its decision, after the summary has counted it. Files that could not be
// read to their end are in the summary's ReadErr; the error is fn's (or
// the planner's), and stops the run.
func DryRun(ctx context.Context, cfg *config.Config, b *Builder, c clock.Clock, files []string, fn func(PlannedLine) error) (*PlanSummary, error) {
	p := NewPlanner(cfg, b, c)
	sum := NewPlanSummary()
	var readErrs []error
	var fnErr error
	for _, f := range files {
		err := p.PlanFile(ctx, f, func(l PlannedLine) error {
			sum.Add(l)
			if fnErr = fn(l); fnErr != nil {
				return fnErr
			}
			return nil
		})
		if fnErr != nil {
			return nil, fnErr
		}
		if err != nil {
			readErrs = append(readErrs, err)
		}
	}
	sum.ReadErr = errors.Join(readErrs...)
	return sum, nil
}

// Plan is the `plan` command's dry run: DryRun with an unsigned builder,
// which needs no signing keys and decides the same. An error building the
// builder is the configuration's.
func Plan(ctx context.Context, cfg *config.Config, c clock.Clock, files []string, fn func(PlannedLine) error) (*PlanSummary, error) {
	b, err := NewUnsignedBuilder(cfg)
	if err != nil {
		return nil, err
	}
	return DryRun(ctx, cfg, b, c, files, fn)
}

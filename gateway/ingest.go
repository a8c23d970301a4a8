package gateway

import (
	"compress/flate"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/adapter"
	"github.com/helsinki-student-welfare/kanta-gateway/clock"
	"github.com/helsinki-student-welfare/kanta-gateway/config"
	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/documents/fhir"
	"github.com/helsinki-student-welfare/kanta-gateway/documents/sosmeta"
	"github.com/helsinki-student-welfare/kanta-gateway/queue"
)

// Hooks let the metrics package watch the pipeline without the pipeline
// knowing about Prometheus.
type Hooks struct {
	EntryRead func(outcome documents.Outcome, class documents.ReasonClass, role documents.Role)
	Built     func(archive documents.Archive, route string, signing time.Duration)
}

// Ingester reads batches into the durable queue.
type Ingester struct {
	cfg     *config.Config
	policy  *documents.Policy
	builder *Builder
	queue   queue.Ingester
	// ledger is what the decide step reads: the queue when ingesting,
	// plan's memory of its own input in a dry run (see Planner).
	ledger decideLedger
	clock  clock.Clock
	log    *slog.Logger
	hooks  Hooks

	mu      sync.Mutex
	refused map[RefusedEntry]bool // spool entries already reported
	// hookClaimed, for tests, runs when a claimed batch is open, before
	// it is read; name is the batch's name in the spool.
	hookClaimed func(name string)
	// openQuarantine, for tests, replaces os.OpenFile for quarantine files.
	openQuarantine func(name string, flag int, perm os.FileMode) (*os.File, error)
}

func NewIngester(cfg *config.Config, b *Builder, q queue.Ingester, c clock.Clock, log *slog.Logger, h Hooks) *Ingester {
	b.onBuilt = h.Built
	return &Ingester{cfg: cfg, policy: cfg.PolicyEngine(), builder: b, queue: q, ledger: q, clock: c, log: log, hooks: h}
}

// decideLedger is what deciding a chunk needs to know of what was taken in
// before: which revisions were read, the latest accepted revision of an
// entry, which shared documents are stored.
type decideLedger interface {
	SeenBatch(ctx context.Context, keys []queue.EntryKey) (map[queue.EntryKey]bool, error)
	StoredDocuments(ctx context.Context, documentIDs []string) (map[string]bool, error)
	AcceptedRevisions(ctx context.Context, entryIDs []string) (map[string]int, error)
}

// BatchSummary counts what one batch did.
type BatchSummary struct {
	File        string
	Lines       int
	ByOutcome   map[documents.Outcome]int
	AlreadyRead int // revisions seen before (re-exports, restarts)
	Rejected    int // input errors and policy rejections
	Deliveries  int
	// QuarantineFailed counts rejected lines that could not be written to
	// the quarantine; the batch then stays claimed and is read again.
	QuarantineFailed int
	// Corrupt is the reason a batch's stream could not be read to its end
	// (a corrupt gzip stream): the batch is quarantined whole.
	Corrupt string
	// FirstRejections are the first MaxRejectionsKept rejections (file,
	// line, entry id, field, reason; never the line itself): what the
	// operators' console shows of a batch. The rest are in the quarantine.
	FirstRejections []adapter.Rejection
}

// MaxRejectionsKept bounds BatchSummary.FirstRejections.
const MaxRejectionsKept = 20

func newSummary(file string) *BatchSummary {
	return &BatchSummary{File: file, ByOutcome: map[documents.Outcome]int{}}
}

// IngestFile reads one batch to its end. A bad line is quarantined and the
// batch goes on; only an I/O failure of the whole file stops it, and then
// everything read so far is already durable, so a rerun continues safely.
//
// Chunks flow through two stages: this goroutine reads, decides, builds and
// signs chunk k+1 while a committer writes chunk k to the queue, so the
// cores keep signing during a commit. Chunks are committed in order and the
// committer stops at its first error; nothing after a failed chunk is
// committed.
// readerOptions are how ingestion (and plan, which shares it) reads a
// batch: at the ingestion's clock, so a finalized_at too far ahead of it is
// rejected.
func (in *Ingester) readerOptions() adapter.Options {
	return adapter.Options{
		MaxLineBytes:      in.cfg.Spool.MaxLineBytes,
		Now:               in.clock.Now,
		MaxFinalizedAhead: in.cfg.Spool.MaxFinalizedAhead,
	}
}

func (in *Ingester) IngestFile(ctx context.Context, path string) (*BatchSummary, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return in.ingestStream(ctx, f, path)
}

// ingestStream reads one batch from an open file; name is the batch's
// name in rejections, the ledger and the quarantine.
func (in *Ingester) ingestStream(ctx context.Context, f io.Reader, name string) (*BatchSummary, error) {
	path := name
	// KeepRaw: a policy or build rejection is quarantined with its line.
	opts := in.readerOptions()
	opts.KeepRaw = true
	r := adapter.NewReader(f, path, opts)
	defer r.Close()
	q := in.newQuarantine(path)
	q.batch = batchIdentity(f)
	sum := newSummary(path)

	commits := make(chan *preparedChunk) // unbuffered: see prepare's history
	failed := make(chan struct{})
	committed := make(chan error, 1)
	go func() {
		var err error
		for c := range commits {
			if err == nil {
				if err = in.commit(ctx, q, sum, c); err != nil {
					close(failed)
				}
			}
		}
		committed <- err
	}()

	lines, readErr := in.readChunks(ctx, r, path, commits, failed)
	close(commits)
	commitErr := <-committed
	q.close()
	sum.Lines = lines
	switch {
	case commitErr != nil:
		return sum, commitErr
	case q.err != nil:
		// Not a silent drop: the lines stay in the batch, which is read
		// again (its good entries are in the ledger by now).
		return sum, fmt.Errorf("quarantine of %d rejected lines of %s failed: %w", sum.QuarantineFailed, filepath.Base(path), q.err)
	case readErr != nil:
		return sum, readErr
	}
	return sum, nil
}

// corruptBatchError is a batch stream that cannot be read to its end
// (a corrupt or truncated gzip stream): reading again gives the same.
type corruptBatchError struct {
	line int // the last line read before the failure
	err  error
}

func (e *corruptBatchError) Error() string { return e.err.Error() }
func (e *corruptBatchError) Unwrap() error { return e.err }

func isCorruptStream(err error) bool {
	var ce flate.CorruptInputError
	return errors.Is(err, gzip.ErrHeader) || errors.Is(err, gzip.ErrChecksum) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &ce)
}

// readChunks reads the batch in chunks, prepares each and hands it to the
// committer. It returns the number of lines read and the first error of
// reading or preparing.
func (in *Ingester) readChunks(ctx context.Context, r *adapter.Reader, path string, commits chan<- *preparedChunk, failed <-chan struct{}) (int, error) {
	var (
		chunk []adapter.Item
		lines int
		prev  *preparedChunk
	)
	// hand prepares the chunk read so far and passes it on; false when the
	// committer has failed (its error is the one reported).
	hand := func() (bool, error) {
		if len(chunk) == 0 {
			return true, nil
		}
		c, err := in.prepare(ctx, chunk, prev)
		if err != nil {
			return false, err
		}
		select {
		case commits <- c:
		case <-failed:
			return false, nil
		}
		prev, chunk = c, nil
		return true, nil
	}
	for {
		if err := ctx.Err(); err != nil {
			return lines, err
		}
		it, err := r.Next()
		if errors.Is(err, io.EOF) {
			_, err := hand()
			return lines, err
		}
		if err != nil {
			if ok, herr := hand(); !ok {
				return lines, herr
			}
			if isCorruptStream(err) {
				return lines, &corruptBatchError{line: lines, err: err}
			}
			return lines, fmt.Errorf("%s: %w", path, err)
		}
		lines++
		chunk = append(chunk, it)
		if len(chunk) == chunkSize {
			if ok, err := hand(); !ok {
				return lines, err
			}
		}
	}
}

// chunkSize lines are decided, built and committed together: one ledger
// lookup and one transaction per chunk instead of two round trips per
// entry. A crash loses at most the uncommitted chunks' work, which the
// rerun redoes (nothing of it was queued).
const chunkSize = 64

// chunkHistory lets an entered-in-error line see an earlier revision taken
// in earlier in the same chunk, or in the chunk before it, neither of which
// need be committed yet. base is what the queue had accepted, looked up
// before deciding: a failed lookup fails the chunk instead of answering
// "nothing accepted" (which would skip the line for good).
type chunkHistory struct {
	base     map[string]int
	prev     map[string]int
	accepted map[string]int
}

func (h *chunkHistory) LatestAccepted(id string) (int, bool) {
	if r, ok := h.accepted[id]; ok {
		return r, true
	}
	if r, ok := h.prev[id]; ok {
		return r, true
	}
	r, ok := h.base[id]
	return r, ok
}

// pendingEntry is one entry of a chunk on its way to the queue.
type pendingEntry struct {
	item     adapter.Item
	decision documents.Decision
	record   queue.LedgerRecord
	built    []BuiltDocument
	err      error
	// relIDs are the client relationship documents the entry calls for;
	// rel those of them it carries to the queue (built for it, being the
	// chunk's first entry that needs them and is not stored yet).
	relIDs []string
	rel    []BuiltDocument
}

// relationshipTask is a client relationship document to build for a chunk.
type relationshipTask struct {
	id    string
	doc   documents.RelationshipDocument
	from  *pendingEntry // the entry whose data it is built from
	built BuiltDocument
	err   error
}

// chunkRejection is a line to quarantine, with what the audit trail needs.
type chunkRejection struct {
	rj    *adapter.Rejection
	hetu  string
	class documents.ReasonClass
	// decision is the policy's, for a policy or build rejection (plan
	// shows its archive and role); nil for a line the adapter refused.
	decision *documents.Decision
	role     documents.Role // the author's, when the entry was read
}

// preparedChunk is a chunk decided, built and signed, waiting for its
// commit. Its maps are not changed after prepare returns.
type preparedChunk struct {
	rejections  []chunkRejection
	alreadyRead int            // revisions the queue, or the chunk before, holds
	repeated    []adapter.Item // those lines, for plan
	drafts      []*pendingEntry
	items       []queue.Ingestion
	ingested    []*pendingEntry
	// accepted holds the entries' accepted revisions. The next chunk is
	// prepared before this one is committed: it needs them for its
	// decisions, and takes items' revisions as read so that a revision
	// repeated across the boundary is not decided and signed again (the
	// ledger would refuse it all the same).
	accepted map[string]int
	// relationshipDocs are the client relationship documents this chunk
	// queues: the next chunk, prepared before this one commits, does not
	// build them again.
	relationshipDocs map[string]bool
}

// prepare decides and builds one chunk, in order; it writes nothing. prev is
// the chunk handed to the committer before this one. Because the hand-over
// is unbuffered, every chunk before prev is committed by now, so the queue
// plus prev's maps are the whole history this chunk's decisions need.
func (in *Ingester) prepare(ctx context.Context, chunk []adapter.Item, prev *preparedChunk) (*preparedChunk, error) {
	c := &preparedChunk{}
	keys := make([]queue.EntryKey, 0, len(chunk))
	var invalidated []string // entered-in-error lines need the history
	for _, it := range chunk {
		if it.Rejection == nil {
			keys = append(keys, queue.EntryKey{EntryID: it.Entry.ID, Revision: it.Entry.Revision})
			if it.Entry.Status == documents.StatusEnteredInError {
				invalidated = append(invalidated, it.Entry.ID)
			}
		}
	}
	seen, err := in.ledger.SeenBatch(ctx, keys)
	if err != nil {
		return nil, err
	}
	// A failed lookup fails the chunk: "nothing accepted" would be a
	// decision (an entered-in-error line skipped for good).
	base, err := in.ledger.AcceptedRevisions(ctx, invalidated)
	if err != nil {
		return nil, err
	}
	history := &chunkHistory{base: base, accepted: map[string]int{}}
	if prev != nil {
		history.prev = prev.accepted
		for _, it := range prev.items {
			seen[queue.EntryKey{EntryID: it.Record.EntryID, Revision: it.Record.Revision}] = true
		}
	}
	now := in.clock.Now()
	var work []*pendingEntry
	for _, it := range chunk {
		if it.Rejection != nil {
			c.rejections = append(c.rejections, chunkRejection{rj: it.Rejection})
			continue
		}
		e := it.Entry
		key := queue.EntryKey{EntryID: e.ID, Revision: e.Revision}
		if seen[key] {
			c.alreadyRead++
			c.repeated = append(c.repeated, it)
			continue
		}
		seen[key] = true // the same revision twice in one chunk
		d := in.policy.Decide(e, now, history)
		if d.Outcome == documents.OutcomeReject {
			// Counted by reject, once, like every other rejection.
			c.rejections = append(c.rejections, chunkRejection{
				rj:   &adapter.Rejection{File: it.File, Line: it.Line, EntryID: e.ID, Revision: e.Revision, Field: d.Field, Reason: d.Reason, Raw: it.Raw},
				hetu: e.Client.Hetu, class: d.ReasonClass, decision: &d, role: e.Author.Role})
			continue
		}
		switch d.Outcome {
		case documents.OutcomeSubmit, documents.OutcomeHold, documents.OutcomeInvalidate:
			history.accepted[e.ID] = e.Revision
		}
		work = append(work, &pendingEntry{item: it, decision: d, record: queue.LedgerRecord{
			EntryID: e.ID, Revision: e.Revision, File: filepath.Base(it.File), Line: it.Line,
			Outcome: d.Outcome, ReasonClass: d.ReasonClass, Reason: d.Reason,
			Archive: d.Archive, Register: d.Register, Role: d.Role, Hetu: e.Client.Hetu,
			DecidedAt: now,
		}})
	}
	tasks, err := in.relationshipTasks(ctx, work, prev)
	if err != nil {
		return nil, err
	}
	in.buildAll(work, tasks)
	c.accepted = history.accepted
	c.relationshipDocs = assignRelationshipDocs(work, tasks)

	for _, p := range work {
		e, d := p.item.Entry, p.decision
		// Counted once: a build failure is counted as the rejection it
		// becomes (by reject), not also as the outcome decided before it.
		if p.err == nil && in.hooks.EntryRead != nil {
			in.hooks.EntryRead(d.Outcome, d.ReasonClass, e.Author.Role)
		}
		switch {
		case p.err != nil:
			// A document that cannot be built (invalid XML characters, an
			// unknown organiser, structured content its Sosmeta schema
			// refuses) is the entry's fault: quarantine it. A schema
			// failure names the content's JSON path as the field.
			rj := &adapter.Rejection{File: p.item.File, Line: p.item.Line, EntryID: e.ID, Revision: e.Revision, Reason: p.err.Error(), Raw: p.item.Raw}
			if se, ok := errors.AsType[*sosmeta.Error](p.err); ok {
				rj.Field = se.Path
			} else if fe, ok := errors.AsType[*documents.FieldError](p.err); ok {
				rj.Field = fe.Field
			} else if ce, ok := errors.AsType[*fhir.InvalidCharError](p.err); ok {
				rj.Field = ce.Field
			}
			c.rejections = append(c.rejections, chunkRejection{rj: rj, hetu: e.Client.Hetu, class: documents.ReasonInvalidInput, decision: &p.decision, role: e.Author.Role})
			continue
		case d.ReasonClass == documents.ReasonDraft:
			// A draft is not a read revision: its final version may come
			// with the same revision number later.
			c.drafts = append(c.drafts, p)
			continue
		}
		var deliveries []queue.Delivery
		// The relationship's documents first: at go-live they come due with
		// the entry, and River takes the lower job ids first.
		for _, b := range p.rel {
			deliveries = append(deliveries, b.Delivery)
		}
		for _, b := range p.built {
			deliveries = append(deliveries, b.Delivery)
		}
		if len(p.built) > 0 {
			p.record.DocumentID, p.record.SetID, p.record.Version = p.built[0].Delivery.DocumentID, p.built[0].Delivery.SetID, p.built[0].Delivery.Version
		}
		c.items = append(c.items, queue.Ingestion{Record: p.record, Deliveries: deliveries})
		c.ingested = append(c.ingested, p)
	}
	return c, nil
}

// commit writes one prepared chunk: its quarantined lines, its drafts' audit
// records and, in one transaction, its ledger records and jobs.
func (in *Ingester) commit(ctx context.Context, q *quarantine, sum *BatchSummary, c *preparedChunk) error {
	for _, r := range c.rejections {
		in.reject(ctx, q, sum, r.rj, r.hetu, r.class, r.role)
	}
	for _, p := range c.drafts {
		e, d := p.item.Entry, p.decision
		sum.ByOutcome[d.Outcome]++
		in.log.Info("entry skipped", "file", p.record.File, "line", p.record.Line, "entry_id", e.ID, "revision", e.Revision, "decision", d.Outcome, "reason_class", d.ReasonClass)
		// ErrAlreadyRead: this batch line's skip is recorded already (the
		// batch is read again after a crash); one audit row is enough.
		if err := in.queue.RecordEvent(ctx, p.record); err != nil && !errors.Is(err, queue.ErrAlreadyRead) {
			return err
		}
	}
	sum.AlreadyRead += c.alreadyRead
	if len(c.items) == 0 {
		return nil
	}
	results, err := in.queue.IngestBatch(ctx, c.items)
	if err != nil {
		return fmt.Errorf("ingest of %d entries: %w", len(c.items), err)
	}
	for i, p := range c.ingested {
		e, d := p.item.Entry, p.decision
		if errors.Is(results[i], queue.ErrAlreadyRead) {
			sum.AlreadyRead++ // another replica took it in meanwhile
			continue
		}
		sum.ByOutcome[d.Outcome]++
		sum.Deliveries += len(c.items[i].Deliveries)
		in.log.Info("entry read", "file", p.record.File, "line", p.record.Line, "entry_id", e.ID, "revision", e.Revision,
			"decision", d.Outcome, "archive", d.Archive, "reason_class", d.ReasonClass, "not_before", d.NotBefore, "deliveries", len(c.items[i].Deliveries))
	}
	return nil
}

// relationshipTasks lists the client relationship documents the chunk's
// entries call for that are neither stored in the queue nor queued by the
// chunk before (prev, maybe not committed yet): one task per document,
// built from the data of the first entry that calls for it. One lookup per
// chunk, and one relationship document per relationship, not per entry.
func (in *Ingester) relationshipTasks(ctx context.Context, work []*pendingEntry, prev *preparedChunk) ([]*relationshipTask, error) {
	var ids []string
	for _, p := range work {
		if p.decision.ReasonClass == documents.ReasonDraft {
			continue
		}
		p.relIDs = in.builder.RelationshipDocumentIDs(p.item.Entry, p.decision)
		ids = append(ids, p.relIDs...)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	stored, err := in.ledger.StoredDocuments(ctx, ids)
	if err != nil {
		return nil, err
	}
	if prev != nil {
		for id := range prev.relationshipDocs {
			stored[id] = true
		}
	}
	var tasks []*relationshipTask
	for _, p := range work {
		if len(p.relIDs) == 0 {
			continue
		}
		docs := documents.RelationshipDocuments(p.item.Entry)
		for i, id := range p.relIDs {
			if stored[id] {
				continue
			}
			stored[id] = true
			tasks = append(tasks, &relationshipTask{id: id, doc: docs[i], from: p})
		}
	}
	return tasks, nil
}

// assignRelationshipDocs hands each built relationship document to the
// chunk's first entry that calls for it and was built, so it is queued with
// that entry's revision (in the same transaction, before the entry). A
// relationship document that could not be built is the fault of every
// entry that needs it: they are rejected with its error, never queued to
// wait for a document that will not come. It returns the ids queued.
func assignRelationshipDocs(work []*pendingEntry, tasks []*relationshipTask) map[string]bool {
	failed := map[string]error{}
	for _, t := range tasks {
		if t.err != nil {
			failed[t.id] = t.err
		}
	}
	for _, p := range work {
		for _, id := range p.relIDs {
			if err := failed[id]; err != nil && p.err == nil {
				p.err = fmt.Errorf("client relationship document: %w", err)
			}
		}
	}
	queued := map[string]bool{}
	for _, t := range tasks {
		if t.err != nil {
			continue
		}
		var owner *pendingEntry
		for _, p := range work {
			if p.err != nil || p.decision.ReasonClass == documents.ReasonDraft || !slices.Contains(p.relIDs, t.id) {
				continue
			}
			if owner == nil {
				owner = p
			}
			// Due with the chunk's first entry that comes due.
			if d := &t.built.Delivery; p.decision.NotBefore.Before(d.NotBefore) {
				d.NotBefore, d.HeldUntilGoLive = p.decision.NotBefore, false
			}
		}
		if owner != nil {
			d := &t.built.Delivery
			d.EntryID, d.Revision = owner.item.Entry.ID, owner.item.Entry.Revision
			owner.rel = append(owner.rel, t.built)
			queued[t.id] = true
		}
	}
	return queued
}

// buildAll builds and signs a chunk's documents on every core; signing
// (RSA) is the costly part of ingestion.
func (in *Ingester) buildAll(work []*pendingEntry, tasks []*relationshipTask) {
	workers := runtime.GOMAXPROCS(0)
	next := make(chan func())
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for job := range next {
				job()
			}
		}()
	}
	// The signature time is a fact about the world: wall time, even when
	// --now moves the policy clock.
	for _, t := range tasks {
		next <- func() {
			t.built, t.err = in.builder.BuildRelationship(t.doc, t.from.item.Entry, t.from.decision, time.Now())
		}
	}
	for _, p := range work {
		switch p.decision.Outcome {
		case documents.OutcomeSubmit, documents.OutcomeHold, documents.OutcomeInvalidate:
			next <- func() { p.built, p.err = in.builder.Build(p.item.Entry, p.decision, time.Now()) }
		}
	}
	close(next)
	wg.Wait()
}

// reject quarantines a line and records the rejection in the audit trail.
// Rejections are not "read": a corrected re-export of the same revision is
// taken in.
func (in *Ingester) reject(ctx context.Context, q *quarantine, sum *BatchSummary, rj *adapter.Rejection, hetu string, class documents.ReasonClass, role documents.Role) {
	if class == "" {
		class = documents.ReasonInvalidInput
	}
	sum.Rejected++
	sum.ByOutcome[documents.OutcomeReject]++
	if len(sum.FirstRejections) < MaxRejectionsKept {
		kept := *rj
		kept.Raw = nil // the line may carry an identity code, a name, text
		kept.File = filepath.Base(rj.File)
		sum.FirstRejections = append(sum.FirstRejections, kept)
	}
	if in.hooks.EntryRead != nil {
		in.hooks.EntryRead(documents.OutcomeReject, class, role)
	}
	in.log.Warn("entry rejected", "file", filepath.Base(rj.File), "line", rj.Line, "entry_id", rj.EntryID, "revision", rj.Revision, "field", rj.Field, "reason", rj.Reason)
	quarantined := false
	var qerr error
	// The audit row commits only with the line quarantined: a failed
	// quarantine write leaves neither, and the next read of the batch tries
	// both again.
	rec := queue.LedgerRecord{
		EntryID: rj.EntryID, Revision: rj.Revision, File: filepath.Base(rj.File), Line: rj.Line,
		Outcome: documents.OutcomeReject, ReasonClass: class, Reason: rj.Reason, Hetu: hetu, DecidedAt: in.clock.Now(),
	}
	if rj.EntryID == "" {
		// A line that is not valid JSON names no entry: its row is keyed
		// by the batch itself and the line's bytes, so reading the same
		// batch again repeats neither row nor quarantine entry, while
		// another batch of the same name is another source.
		rec.Source = idlessSource(rec.File, q.batch, rj)
	}
	err := in.queue.RecordEventWith(ctx, rec, func() error {
		quarantined, qerr = true, q.add(rj)
		return qerr
	})
	if errors.Is(err, queue.ErrAlreadyRead) {
		// This batch line was rejected, audited and quarantined when the
		// batch was read before a crash: neither is repeated.
		return
	}
	if err != nil && qerr == nil {
		in.log.Error("audit of a rejection failed", "file", rec.File, "line", rj.Line, "entry_id", rj.EntryID, "revision", rj.Revision, "error", err)
	}
	if !quarantined {
		qerr = q.add(rj)
	}
	if err := qerr; err != nil {
		sum.QuarantineFailed++
		in.log.Error("rejected line NOT quarantined; the batch stays claimed and is read again", "file", filepath.Base(rj.File), "line", rj.Line, "entry_id", rj.EntryID, "error", err)
	}
}

// batchIdentity names the file being read as a file, not by its name:
// device, inode, size and modification time. A claimed batch keeps all four
// through a crash (it stays in processing/, renamed at most), while a new
// batch under a reused name differs in one. "" for a stream that is not a
// file.
func batchIdentity(f io.Reader) string {
	file, ok := f.(*os.File)
	if !ok {
		return ""
	}
	info, err := file.Stat()
	if err != nil {
		return ""
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Sprintf("%d:%d", info.Size(), info.ModTime().UnixNano())
	}
	return fmt.Sprintf("%d:%d:%d:%d", st.Dev, st.Ino, info.Size(), info.ModTime().UnixNano())
}

// idlessSource is the audit source of a rejected line without an entry id:
// the batch's name and line, then a digest of the batch's identity and the
// line's bytes (never the bytes: they may hold an identity code).
func idlessSource(name, batch string, rj *adapter.Rejection) string {
	h := sha256.New()
	h.Write([]byte(batch))
	h.Write([]byte{0})
	h.Write(rj.Raw)
	return fmt.Sprintf("%s:%d#%x", name, rj.Line, h.Sum(nil)[:12])
}

// quarantine keeps rejected lines (raw, for the operator to fix and
// re-export) beside their reasons, in files readable only by the gateway.
// The first failure to write is kept: every later line fails too, and the
// batch is not finished while any line is not quarantined.
type quarantine struct {
	dir, base, stamp string
	batch            string // batchIdentity of the batch read, "" when unknown
	lines            *os.File
	reasons          *os.File
	err              error
	openFile         func(name string, flag int, perm os.FileMode) (*os.File, error)
}

func (in *Ingester) newQuarantine(batch string) *quarantine {
	q := &quarantine{dir: in.cfg.Spool.QuarantineDir, base: filepath.Base(batch), stamp: time.Now().UTC().Format("20060102T150405"), openFile: in.openQuarantine}
	if q.openFile == nil {
		q.openFile = os.OpenFile
	}
	return q
}

type quarantineReason struct {
	File     string `json:"file"`
	Line     int    `json:"line"`
	EntryID  string `json:"entry_id,omitempty"`
	Revision int    `json:"revision,omitempty"`
	Field    string `json:"field,omitempty"`
	Reason   string `json:"reason"`
}

// open opens (creates) one of the batch's quarantine files.
func (q *quarantine) open(f **os.File, suffix string) bool {
	if q.err != nil {
		return false
	}
	if *f != nil {
		return true
	}
	if q.dir == "" {
		q.err = errors.New("spool.quarantine_dir is not set")
		return false
	}
	if q.err = privateDir(q.dir, nil); q.err != nil {
		return false
	}
	*f, q.err = q.openFile(filepath.Join(q.dir, q.base+"."+q.stamp+suffix), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if q.err != nil {
		*f = nil
		return false
	}
	return true
}

func (q *quarantine) write(f *os.File, b []byte) {
	if q.err != nil {
		return
	}
	if _, err := f.Write(b); err != nil {
		q.err = err
	}
}

// add quarantines a rejected line: its raw text in .rejected.ndjson and
// its reason, on the same line number, in .reasons.jsonl. A line over
// the length limit was never held whole; "{}" stands in for it.
func (q *quarantine) add(rj *adapter.Rejection) error {
	if !q.open(&q.lines, ".rejected.ndjson") || !q.open(&q.reasons, ".reasons.jsonl") {
		return q.err
	}
	raw := rj.Raw
	if len(raw) == 0 {
		raw = []byte("{}")
	}
	q.write(q.lines, append(append([]byte(nil), raw...), '\n'))
	q.reason(quarantineReason{File: rj.File, Line: rj.Line, EntryID: rj.EntryID, Revision: rj.Revision, Field: rj.Field, Reason: rj.Reason})
	return q.err
}

// reason writes a reasons line only (a corrupt batch is quarantined whole,
// beside its reason).
func (q *quarantine) reason(r quarantineReason) {
	if !q.open(&q.reasons, ".reasons.jsonl") {
		return
	}
	b, _ := json.Marshal(r)
	q.write(q.reasons, append(b, '\n'))
}

// close syncs and closes the files: once per batch, so a write the disk
// refuses late (full, quota) is still seen.
func (q *quarantine) close() {
	for _, f := range []*os.File{q.lines, q.reasons} {
		if f == nil {
			continue
		}
		if err := f.Sync(); err != nil && q.err == nil {
			q.err = err
		}
		if err := f.Close(); err != nil && q.err == nil {
			q.err = err
		}
	}
	q.lines, q.reasons = nil, nil
}

// Package queue is the gateway's durable store: the ledger of entry
// revisions read, the submission queue (River jobs, one per delivery to
// Kanta), the deliveries table that tracks each document version's fate, and
// the audit trail. One database per backend (SQLite embedded, PostgreSQL
// shared by replicas) holds all of it, so ingesting an entry revision is one
// transaction.
//
// A delivery job ends in one of three ways. Accepted or Duplicate: the
// delivery is delivered and audited, in the transaction that completes the
// job. Retry: River retries it after a full-jitter backoff, never before
// the server's Retry-After, until MaxAttempts and MaxRetryAge are both
// used up (a refusal by the submitter's own breaker or rate limiter only
// snoozes it). Permanent or attempts exhausted: the delivery is dead (audited) until an operator retries it.
// Version n+1 of a document set waits (snoozing, with its reason visible)
// until version n is delivered; it is woken as soon as that happens. A job
// whose process died is run again after RescueAfter with the same payload.
package queue

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/clock"
	"github.com/helsinki-student-welfare/kanta-gateway/documents"
)

// The queue's callers each take the role they need: the ingester takes
// entry revisions in, the daemon works the queue, operators (the queue
// and audit commands, the console) inspect and act on jobs, and metrics,
// the terminal and the console report on it. Queue is all of them, as
// opening a store returns it.

// Queue is the durable store and submission queue: every role, and Close.
type Queue interface {
	Ingester
	Deliverer
	Operator
	Reporter
	Close() error
}

// Ingester takes entry revisions in: the ledger of what was read and
// decided, and the deliveries each revision calls for.
type Ingester interface {
	// Ingest records the entry revision in the ledger and inserts its
	// deliveries in one transaction; ErrAlreadyRead if (entry id, revision)
	// is already in the ledger (nothing inserted). Writes the audit row of a
	// rejected or skipped revision.
	Ingest(ctx context.Context, rec LedgerRecord, deliveries []Delivery) error
	Seen(ctx context.Context, entryID string, revision int) (bool, error)
	// SeenBatch answers Seen for many revisions with one query.
	SeenBatch(ctx context.Context, keys []EntryKey) (map[EntryKey]bool, error)
	// StoredDocuments reports which of the document ids have a delivery
	// (in any state), with one query: a shared document already stored
	// need not be built again.
	StoredDocuments(ctx context.Context, documentIDs []string) (map[string]bool, error)
	// IngestBatch ingests many revisions in one transaction; results[i] is
	// nil or ErrAlreadyRead.
	IngestBatch(ctx context.Context, items []Ingestion) ([]error, error)
	// RecordEvent writes the audit row of a rejected or skipped revision
	// without recording it as read (a corrected re-export is taken in).
	// ErrAlreadyRead: the same event of the same batch line (File, Line)
	// is already recorded (the batch was read again after a crash);
	// nothing was written.
	RecordEvent(ctx context.Context, rec LedgerRecord) error
	// RecordEventWith is RecordEvent that, when the row is new, also runs
	// also inside the same transaction: an error of also rolls the row
	// back, so a later read of the batch repeats both (a rejected line is
	// audited only once it is quarantined).
	RecordEventWith(ctx context.Context, rec LedgerRecord, also func() error) error
	// LatestAccepted is the highest revision whose outcome was submit, hold
	// or invalidate. It cannot report a failed lookup: ingestion uses
	// AcceptedRevisions.
	documents.History
	// AcceptedRevisions is LatestAccepted for many entries in one query
	// (entries with no accepted revision are absent); a failed lookup is
	// an error, so that it can never become a decision.
	AcceptedRevisions(ctx context.Context, entryIDs []string) (map[string]int, error)
}

// Deliverer works the queue: the daemon and `once` start the workers
// (Options.Submitter), wait for them, stop them, and probe that the store
// can still write.
type Deliverer interface {
	Start(ctx context.Context) error
	// Stop is graceful: in-flight submissions finish; when ctx ends first
	// they are cancelled and return to the queue.
	Stop(ctx context.Context) error
	// WaitIdle returns when nothing due is waiting or running.
	WaitIdle(ctx context.Context) error
	// ProbeWrite commits one small write: an error says the store cannot
	// write now (disk full, database read-only or unreachable).
	ProbeWrite(ctx context.Context) error
}

// Operator is what an operator inspects and acts on: jobs (dead letters
// above all), their retry, cancel and reschedule, and the audit trail.
// The queue and audit commands and the console take it.
type Operator interface {
	Jobs(ctx context.Context, f JobFilter) ([]JobInfo, error)
	Job(ctx context.Context, id int64) (*JobInfo, error)
	// Retry makes a dead or cancelled job available again.
	Retry(ctx context.Context, id int64) error
	RetryAllDead(ctx context.Context) (int, error)
	Cancel(ctx context.Context, id int64) error
	// Reschedule moves the still-held jobs of a role to a new date.
	Reschedule(ctx context.Context, role documents.Role, notBefore time.Time) (int, error)
	Audit(ctx context.Context, q AuditQuery) ([]AuditEvent, error)
}

// Reporter counts and lists for metrics, the terminal and the console.
type Reporter interface {
	Stats(ctx context.Context) (Stats, error)
	// Held counts held deliveries by archive and date (report.go).
	Held(ctx context.Context) ([]HeldCount, error)
	// Replicas lists the gateway processes seen working the queue.
	Replicas(ctx context.Context) ([]Replica, error)
}

// Options configure a Queue.
type Options struct {
	// Workers is how many submissions run at once (default 8).
	Workers int
	// RetryBase and RetryCap bound the exponential backoff with full jitter
	// (defaults 1s and 10min).
	RetryBase, RetryCap time.Duration
	// MaxAttempts and MaxRetryAge bound retryable failures: one is
	// dead-lettered only when both are used up, i.e. after at least
	// MaxAttempts attempts at Kanta AND at least MaxRetryAge after its
	// first failed attempt, whichever comes later. Attempts refused by the
	// submitter itself (Result.Refused) count for neither. MaxAttempts
	// defaults to 25; MaxRetryAge 0 means attempts alone.
	MaxAttempts int
	MaxRetryAge time.Duration
	// RescueAfter is how long a job may stay running before it counts as
	// abandoned (its process died) and is run again. Default 60s, twice the
	// default Kanta timeout. A submission is cancelled after RescueAfter/2.
	RescueAfter time.Duration
	// OrderWait is how often a later version re-checks its predecessor
	// (default 2s).
	OrderWait time.Duration
	// PollInterval is how often idle workers look for due jobs besides
	// being notified of inserts (default 1s).
	PollInterval time.Duration
	// Clock is the gateway's "now": a delivery's NotBefore and a
	// Reschedule date are on this clock and are translated to wall time
	// for the queue, so a clock.Offset run sees its dates arrive.
	Clock  clock.Clock
	Logger *slog.Logger
	// Submitter nil makes an insert-only queue (inspect and act, no work).
	Submitter Submitter
	// OnResult is called after every submission attempt (metrics).
	OnResult func(d *Delivery, r Result, attempt int)
}

// ErrUnavailable marks an error opening the store that may pass by
// itself (errors.Is): the database unreachable, its file or directory not
// writable. A daemon retries; it is no configuration error.
var ErrUnavailable = errors.New("queue store unavailable")

type unavailableError struct{ err error }

func (e *unavailableError) Error() string        { return e.err.Error() }
func (e *unavailableError) Unwrap() error        { return e.err }
func (e *unavailableError) Is(target error) bool { return target == ErrUnavailable }

// Unavailable marks err as ErrUnavailable (nil stays nil).
func Unavailable(err error) error {
	if err == nil {
		return nil
	}
	return &unavailableError{err}
}

func (o Options) withDefaults() Options {
	if o.Workers <= 0 {
		o.Workers = 8
	}
	if o.RetryBase <= 0 {
		o.RetryBase = time.Second
	}
	if o.RetryCap <= 0 {
		o.RetryCap = 10 * time.Minute
	}
	if o.RetryCap < o.RetryBase {
		o.RetryCap = o.RetryBase
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 25
	}
	if o.RescueAfter <= 0 {
		o.RescueAfter = 60 * time.Second
	}
	if o.OrderWait <= 0 {
		o.OrderWait = 2 * time.Second
	}
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	if o.Clock == nil {
		o.Clock = clock.System{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

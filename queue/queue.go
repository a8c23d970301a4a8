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

// Routes a delivery can take to Kanta.
const (
	RouteCDA  = "cda"  // HL7 V3 archive message carrying a CDA R2 document
	RouteFHIR = "fhir" // FHIR document Bundle
)

// JobKind is the River job kind of a delivery.
const JobKind = "kanta_delivery"

// Delivery is one document version to send to Kanta over one route. It is
// the River job's arguments (stored as JSON).
type Delivery struct {
	DocumentID string
	SetID      string
	Version    int

	EntryID  string
	Revision int

	Archive  documents.Archive
	Role     documents.Role
	Register documents.Register

	Route       string // RouteCDA or RouteFHIR
	Interaction string
	// Payload is the signed archive message or Bundle exactly as built; a
	// resend is byte-identical so Kanta can recognise it. The queue keeps
	// it beside the job (written in the same transaction), not in the job's
	// JSON arguments, which River reads, validates and copies on every
	// insert, fetch and completion; PayloadSHA256 in the arguments pins the
	// bytes. A job of an earlier release may still carry it inline.
	Payload       []byte `json:",omitempty"`
	PayloadSHA256 string `json:",omitempty"`
	NotBefore     time.Time
	// HeldUntilGoLive marks a delivery held by its role's go-live date:
	// Reschedule moves it when that date changes.
	HeldUntilGoLive bool
	// After names a prerequisite document set (its set id): this delivery
	// is not submitted before a version of that set is delivered on the
	// same route (a client record entry after its client relationship's
	// document). The guarantee is the one of version order: the check and
	// the wait it records are one transaction, and the prerequisite's
	// delivery wakes its dependants.
	After string `json:",omitempty"`
	// AfterWhat says what the prerequisite is, for the wait reason
	// ("client relationship document"); default "prerequisite document".
	AfterWhat string `json:",omitempty"`
	// Shared marks a document several entry revisions call for (a client
	// relationship's document): the first ingestion that carries it
	// inserts it, and one already stored under the same document id is
	// left as it is, so a rebuilt copy is never queued twice.
	Shared bool `json:",omitempty"`
}

// Kind is the River job kind.
func (Delivery) Kind() string { return JobKind }

// Class is how a submission attempt ended.
type Class int

// The zero Class is deliberately not a valid outcome: a Result left
// unfilled is treated as retryable, never as accepted.
const (
	Accepted  Class = iota + 1 // AA: archived
	Duplicate                  // Kanta already holds this exact document version
	Retry                      // transient: network, timeout, 5xx, AE that may pass later
	Permanent                  // AR or a contract error: resending cannot help
)

func (c Class) String() string {
	switch c {
	case Accepted:
		return "accepted"
	case Duplicate:
		return "duplicate"
	case Retry:
		return "retry"
	case Permanent:
		return "permanent"
	}
	return "unknown"
}

// Result is the outcome of one submission attempt.
type Result struct {
	Class Class
	// Code, Detail and Text are Kanta's acknowledgement (e.g. AR, an error
	// code, its text). They are stored with the delivery.
	Code, Detail, Text string
	// RetryAfter is the server's Retry-After; the next attempt is never
	// earlier than this.
	RetryAfter time.Duration
	Err        error
	// Took is how long Kanta took to answer (metrics).
	Took time.Duration
	// Refused says the submitter itself refused the attempt (its circuit
	// breaker or rate limiter) and sent nothing: it is no attempt at
	// Kanta. The queue snoozes the delivery for RetryAfter without using
	// up an attempt, so an outage delays deliveries and never dead-letters
	// them.
	Refused bool
	// Exhausted is set by the queue (for OnResult) on a retryable failure
	// it dead-letters: MaxAttempts and MaxRetryAge are both used up.
	Exhausted bool
}

// Submitter sends one delivery to Kanta and classifies the answer.
type Submitter interface {
	Submit(ctx context.Context, d *Delivery) Result
}

// SubmitterFunc adapts a function to Submitter.
type SubmitterFunc func(ctx context.Context, d *Delivery) Result

func (f SubmitterFunc) Submit(ctx context.Context, d *Delivery) Result { return f(ctx, d) }

// LedgerRecord is one entry revision as read and decided.
type LedgerRecord struct {
	EntryID     string
	Revision    int
	File        string
	Line        int
	Outcome     documents.Outcome
	ReasonClass documents.ReasonClass
	Reason      string
	Archive     documents.Archive
	Register    documents.Register
	Role        documents.Role
	Hetu        string // kept for the audit trail only
	// Source names where a rejection or skip was read, for RecordEvent's
	// deduplication; empty: File and Line. A line without an entry id
	// (not valid JSON) needs a source of its own: see gateway's reject.
	Source     string
	DocumentID string
	SetID      string
	Version    int
	DecidedAt  time.Time
}

// EntryKey names one entry revision.
type EntryKey struct {
	EntryID  string
	Revision int
}

// Ingestion is one entry revision to ingest: its ledger record and its
// deliveries (none for a skip).
type Ingestion struct {
	Record     LedgerRecord
	Deliveries []Delivery
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

// ErrAlreadyRead is returned by Ingest for an entry revision already in the
// ledger; nothing was inserted.
var ErrAlreadyRead = errors.New("entry revision already read")

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

// Delivery states in the deliveries table.
const (
	DeliveryQueued    = "queued"
	DeliveryDelivered = "delivered"
	DeliveryDead      = "dead"
	DeliveryCancelled = "cancelled" // by an operator
)

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

// Queue is the durable store and submission queue.
type Queue interface {
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
	Start(ctx context.Context) error
	// Stop is graceful: in-flight submissions finish; when ctx ends first
	// they are cancelled and return to the queue.
	Stop(ctx context.Context) error
	Jobs(ctx context.Context, f JobFilter) ([]JobInfo, error)
	Job(ctx context.Context, id int64) (*JobInfo, error)
	// Retry makes a dead or cancelled job available again.
	Retry(ctx context.Context, id int64) error
	RetryAllDead(ctx context.Context) (int, error)
	Cancel(ctx context.Context, id int64) error
	// Reschedule moves the still-held jobs of a role to a new date.
	Reschedule(ctx context.Context, role documents.Role, notBefore time.Time) (int, error)
	Stats(ctx context.Context) (Stats, error)
	Audit(ctx context.Context, q AuditQuery) ([]AuditEvent, error)
	// WaitIdle returns when nothing due is waiting or running.
	WaitIdle(ctx context.Context) error
	// ProbeWrite commits one small write: an error says the store cannot
	// write now (disk full, database read-only or unreachable).
	ProbeWrite(ctx context.Context) error
	// Held counts held deliveries by archive and date (console.go).
	Held(ctx context.Context) ([]HeldCount, error)
	// Replicas lists the gateway processes seen working the queue.
	Replicas(ctx context.Context) ([]Replica, error)
	Close() error
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

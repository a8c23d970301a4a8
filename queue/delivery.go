package queue

import (
	"context"
	"time"

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

// Delivery states in the deliveries table.
const (
	DeliveryQueued    = "queued"
	DeliveryDelivered = "delivered"
	DeliveryDead      = "dead"
	DeliveryCancelled = "cancelled" // by an operator
)

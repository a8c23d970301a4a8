package queue

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/riverqueue/river/rivertype"
)

// riverAttemptCeiling is the max_attempts every delivery job carries in
// River. The worker, not River, decides when a retryable failure is
// dead-lettered (MaxAttempts and MaxRetryAge, see exhausted): River's own
// bound only has to stay out of the way, below the smallint River keeps
// attempts in. A job that somehow reaches it is dead-lettered by the
// worker first (exhausted), never discarded behind the deliveries table's
// back.
const riverAttemptCeiling = 30000

// exhausted reports whether a retryable failure of this attempt uses up the
// delivery's retries: at least MaxAttempts attempts at Kanta, and at least
// MaxRetryAge since the first failed one. Both must hold, so a Kanta
// outage, which the breaker turns into refusals that spend no attempt,
// delays a delivery and never dead-letters it before MaxRetryAge.
func (o Options) exhausted(job *rivertype.JobRow, now time.Time) bool {
	if job.Attempt >= riverAttemptCeiling-1 {
		return true
	}
	if job.Attempt < o.MaxAttempts {
		return false
	}
	return now.Sub(firstFailure(job, now)) >= o.MaxRetryAge
}

// exhaustedReason says why a retryable failure was dead-lettered: the
// attempts made and the time since the first failure, against both bounds.
func (o Options) exhaustedReason(job *rivertype.JobRow, now time.Time) string {
	if job.Attempt >= riverAttemptCeiling-1 {
		return fmt.Sprintf("(retries used up: %d attempts, the most a job can make)", job.Attempt)
	}
	return fmt.Sprintf("(retries used up: %d attempts at Kanta over %s since the first failure; bounds queue.max_attempts %d and queue.max_retry_age %s)",
		job.Attempt, now.Sub(firstFailure(job, now)).Round(time.Second), o.MaxAttempts, o.MaxRetryAge)
}

// firstFailure is when the job's first recorded failed attempt happened
// (now when none is recorded: this is the first).
func firstFailure(job *rivertype.JobRow, now time.Time) time.Time {
	first := now
	for _, e := range job.Errors {
		if !e.At.IsZero() && e.At.Before(first) {
			first = e.At
		}
	}
	return first
}

// refusalSnooze is how long a delivery refused by the submitter itself
// (Result.Refused) sleeps: the wait the submitter asked for, at least
// RetryBase, plus up to half of it again at random, so the backlog held
// back by an open breaker does not come back in one wave.
func (o Options) refusalSnooze(r Result) time.Duration {
	wait := max(r.RetryAfter, o.RetryBase)
	return wait + time.Duration(rand.Int64N(int64(wait/2)+1))
}

package queue

import (
	"math/rand/v2"
	"sync"
	"time"

	"github.com/riverqueue/river/rivertype"
)

// Backoff is the delay before retry number attempt (1 = after the first
// failure): full jitter, a uniform random duration in
// [0, min(maxDelay, base*2^(attempt-1))]. Full jitter spreads the retries of many
// deliveries that failed together (a Kanta outage) instead of sending them
// back in waves.
func Backoff(base, maxDelay time.Duration, attempt int, r *rand.Rand) time.Duration {
	ceiling := maxDelay
	if attempt < 1 {
		attempt = 1
	}
	if shift := attempt - 1; shift < 62 && base <= maxDelay>>shift {
		ceiling = base << shift
	}
	if ceiling <= 0 {
		return 0
	}
	if r == nil {
		return time.Duration(rand.Int64N(int64(ceiling) + 1))
	}
	return time.Duration(r.Int64N(int64(ceiling) + 1))
}

// retryPolicy is River's ClientRetryPolicy for deliveries. River does not
// hand the failing attempt's error to the policy, so the worker leaves the
// server's Retry-After here, keyed by job id, just before it returns the
// error; the policy runs right after in the same process. A job rescued
// after a crash has no hint and gets the plain backoff.
type retryPolicy struct {
	base, maxDelay time.Duration
	notBefore      sync.Map // job id -> time.Time (wall clock)
}

func (p *retryPolicy) hint(jobID int64, at time.Time) { p.notBefore.Store(jobID, at) }

func (p *retryPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	next := time.Now().Add(Backoff(p.base, p.maxDelay, job.Attempt, nil))
	if v, ok := p.notBefore.LoadAndDelete(job.ID); ok {
		if at := v.(time.Time); at.After(next) {
			next = at
		}
	}
	return next
}

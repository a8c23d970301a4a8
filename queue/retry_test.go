package queue

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/riverqueue/river/rivertype"
)

func TestBackoffFullJitterCapped(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const base, maxDelay = 100 * time.Millisecond, 10 * time.Minute
	for attempt := 1; attempt <= 100; attempt++ {
		ceiling := maxDelay
		if attempt < 20 {
			ceiling = min(maxDelay, base<<(attempt-1))
		}
		var hi time.Duration
		for range 200 {
			d := Backoff(base, maxDelay, attempt, r)
			if d < 0 || d > ceiling {
				t.Fatalf("attempt %d: %s outside [0, %s]", attempt, d, ceiling)
			}
			hi = max(hi, d)
		}
		// Full jitter uses the whole range, not just its top.
		if hi < ceiling/2 {
			t.Fatalf("attempt %d: largest of 200 draws %s, ceiling %s", attempt, hi, ceiling)
		}
	}
	if d := Backoff(base, maxDelay, 1000, r); d > maxDelay {
		t.Fatalf("huge attempt: %s", d)
	}
}

func TestRetryPolicyHonoursRetryAfter(t *testing.T) {
	p := &retryPolicy{base: 10 * time.Millisecond, maxDelay: 20 * time.Millisecond}
	job := &rivertype.JobRow{ID: 7, Attempt: 3}
	at := time.Now().Add(90 * time.Second)
	p.hint(7, at)
	if next := p.NextRetry(job); next.Before(at) {
		t.Fatalf("next retry %s before Retry-After %s", next, at)
	}
	// The hint is used once; the next failure gets the plain backoff.
	if next := p.NextRetry(job); time.Until(next) > 21*time.Millisecond {
		t.Fatalf("next retry %s: hint reused or cap ignored", time.Until(next))
	}
}

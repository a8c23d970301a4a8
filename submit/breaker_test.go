package submit

import (
	"testing"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/clock"
)

// The breaker opens after the configured run of failures, refuses for
// openFor, lets one trial through, and the trial's outcome closes or
// reopens it.
func TestBreakerStates(t *testing.T) {
	c := clock.NewManual(time.Date(2026, 9, 1, 12, 0, 0, 0, time.UTC))
	var changes []BreakerState
	b := &breaker{failures: 3, openFor: time.Minute, now: c.Now, onChange: func(s BreakerState) { changes = append(changes, s) }}

	for i := 0; i < 2; i++ {
		if ok, _ := b.allow(); !ok {
			t.Fatalf("refused after %d failures, opens after 3", i)
		}
		b.record(false)
	}
	b.record(true) // a success ends the run
	for i := 0; i < 3; i++ {
		if ok, _ := b.allow(); !ok {
			t.Fatalf("refused after %d failures of a new run", i)
		}
		b.record(false)
	}
	if b.State() != BreakerOpen {
		t.Fatalf("state %s after 3 failures in a row, want open", b.State())
	}
	if ok, wait := b.allow(); ok || wait != time.Minute {
		t.Fatalf("open breaker: allow = %v, wait %v; want refused for a minute", ok, wait)
	}
	c.Advance(time.Minute)
	if ok, _ := b.allow(); !ok || b.State() != BreakerHalfOpen {
		t.Fatalf("after openFor: allow = %v in %s, want one trial, half-open", ok, b.State())
	}
	if ok, wait := b.allow(); ok || wait != time.Minute/4 {
		t.Fatalf("a second request during the trial: allow = %v, wait %v", ok, wait)
	}
	b.record(false) // the trial failed: open again
	if b.State() != BreakerOpen {
		t.Fatalf("failed trial left the breaker %s", b.State())
	}
	c.Advance(time.Minute)
	b.allow()
	b.abandon() // the trial was never sent: the next request is the trial
	if ok, _ := b.allow(); !ok {
		t.Fatal("after an abandoned trial the next request must be let through")
	}
	b.record(true)
	if b.State() != BreakerClosed {
		t.Fatalf("a successful trial left the breaker %s", b.State())
	}
	want := []BreakerState{BreakerOpen, BreakerHalfOpen, BreakerOpen, BreakerHalfOpen, BreakerClosed}
	if len(changes) != len(want) {
		t.Fatalf("state changes %v, want %v", changes, want)
	}
	for i := range want {
		if changes[i] != want[i] {
			t.Fatalf("state changes %v, want %v", changes, want)
		}
	}
}

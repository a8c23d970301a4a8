package submit

import (
	"sync"
	"time"
)

// BreakerState is exported as a metric: 0 closed, 1 half-open, 2 open.
type BreakerState int

const (
	BreakerClosed BreakerState = iota
	BreakerHalfOpen
	BreakerOpen
)

func (s BreakerState) String() string {
	return [...]string{"closed", "half-open", "open"}[s]
}

// breaker stops the gateway hammering a Kanta that fails everywhere: after
// `failures` consecutive failures it opens for `openFor`, then lets one
// trial through; the trial's outcome closes or reopens it.
type breaker struct {
	mu        sync.Mutex
	failures  int
	openFor   time.Duration
	now       func() time.Time
	run       int // consecutive failures
	state     BreakerState
	openUntil time.Time
	trial     bool // a half-open trial is in flight
	onChange  func(BreakerState)
}

// allow reports whether a request may go now; when not, how long until
// the breaker lets a trial through.
func (b *breaker) allow() (bool, time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case BreakerOpen:
		if wait := b.openUntil.Sub(b.now()); wait > 0 {
			return false, wait
		}
		b.set(BreakerHalfOpen)
		fallthrough
	case BreakerHalfOpen:
		if b.trial {
			return false, b.openFor / 4
		}
		b.trial = true
	}
	return true, 0
}

func (b *breaker) record(ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.trial = false
	if ok {
		b.run = 0
		b.set(BreakerClosed)
		return
	}
	b.run++
	if b.state == BreakerHalfOpen || b.run >= b.failures {
		b.openUntil = b.now().Add(b.openFor)
		b.set(BreakerOpen)
	}
}

// abandon ends a half-open trial that was never sent (the rate limiter
// held it back): the state stays, and the next request may be the trial.
func (b *breaker) abandon() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.trial = false
}

func (b *breaker) State() BreakerState {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state
}

func (b *breaker) set(s BreakerState) {
	if b.state != s {
		b.state = s
		if b.onChange != nil {
			b.onChange(s)
		}
	}
}

// Package clock is the one source of "now" for every time-dependent
// decision, so a dry run or a test can ask what happens on any day.
package clock

import (
	"sync"
	"time"
)

// Clock tells the time.
type Clock interface {
	Now() time.Time
}

// System is the wall clock.
type System struct{}

func (System) Now() time.Time { return time.Now() }

// Offset is the wall clock shifted so that it read Start at the moment it
// was made: time still passes, which lets a daemon started with
// --now 2026-08-31T23:59:00+03:00 see 1 September arrive.
type Offset struct {
	delta time.Duration
}

func NewOffset(start time.Time) *Offset { return &Offset{delta: time.Until(start)} }

func (o *Offset) Now() time.Time { return time.Now().Add(o.delta) }

// Manual is a clock that only moves when told; for tests.
type Manual struct {
	mu sync.Mutex
	t  time.Time
}

func NewManual(t time.Time) *Manual { return &Manual{t: t} }

func (m *Manual) Now() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.t
}

func (m *Manual) Set(t time.Time) {
	m.mu.Lock()
	m.t = t
	m.mu.Unlock()
}

func (m *Manual) Advance(d time.Duration) {
	m.mu.Lock()
	m.t = m.t.Add(d)
	m.mu.Unlock()
}

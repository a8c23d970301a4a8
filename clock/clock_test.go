package clock

import (
	"sync"
	"testing"
	"time"
)

func TestOffsetStartsAtTheGivenInstantAndKeepsTicking(t *testing.T) {
	start := time.Date(2026, 8, 31, 23, 59, 0, 0, time.FixedZone("EEST", 3*3600))
	o := NewOffset(start)
	first := o.Now()
	if d := first.Sub(start); d < 0 || d > time.Second {
		t.Fatalf("offset clock reads %v right after it was made for %v", first, start)
	}
	time.Sleep(20 * time.Millisecond)
	if second := o.Now(); !second.After(first) {
		t.Fatalf("offset clock stood still: %v then %v", first, second)
	}
	// The offset is the same however far the start lies (a past day too).
	past := NewOffset(time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC))
	if y := past.Now().Year(); y != 2017 {
		t.Fatalf("offset clock for 2017 reads year %d", y)
	}
}

func TestSystemIsTheWallClock(t *testing.T) {
	before := time.Now()
	got := System{}.Now()
	if got.Before(before) || got.Sub(before) > time.Second {
		t.Fatalf("System.Now() = %v, wall clock %v", got, before)
	}
}

func TestManualMovesOnlyWhenTold(t *testing.T) {
	t0 := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	m := NewManual(t0)
	time.Sleep(5 * time.Millisecond)
	if !m.Now().Equal(t0) {
		t.Fatalf("manual clock moved by itself: %v", m.Now())
	}
	m.Advance(90 * time.Minute)
	if want := t0.Add(90 * time.Minute); !m.Now().Equal(want) {
		t.Fatalf("after Advance: %v, want %v", m.Now(), want)
	}
	m.Set(t0.AddDate(0, 0, -1))
	if want := t0.AddDate(0, 0, -1); !m.Now().Equal(want) {
		t.Fatalf("after Set (backwards): %v, want %v", m.Now(), want)
	}
}

// Readers and writers on several goroutines (go test -race checks the lock).
func TestManualIsSafeForConcurrentUse(t *testing.T) {
	m := NewManual(time.Unix(0, 0))
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for j := 0; j < 100; j++ {
				m.Advance(time.Second)
			}
		}()
		go func() {
			defer wg.Done()
			for j := 0; j < 100; j++ {
				_ = m.Now()
			}
		}()
	}
	wg.Wait()
	if got := m.Now().Unix(); got != 400 {
		t.Fatalf("400 advances of a second each: clock at %d s", got)
	}
}

var (
	_ Clock = System{}
	_ Clock = (*Offset)(nil)
	_ Clock = (*Manual)(nil)
)

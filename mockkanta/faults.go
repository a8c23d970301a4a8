package mockkanta

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"sync"
	"time"
)

// Faults is what can go wrong at the archive interface, set by a tester.
// Rates are probabilities in [0,1] drawn per request from a seeded
// generator, so a run with the same seed and request sequence repeats.
type Faults struct {
	ErrorRate   float64 `json:"error_rate"`
	ErrorStatus int     `json:"error_status,omitempty"` // 500, 502 or 503; default 503
	// RateLimitRate answers 429 with Retry-After: RetryAfterSeconds.
	RateLimitRate     float64 `json:"rate_limit_rate"`
	RetryAfterSeconds int     `json:"retry_after_seconds,omitempty"` // default 1
	// Latency is added to every archive request ("250ms").
	Latency Duration `json:"latency"`
	// TimeoutRate: hang until the client gives up.
	TimeoutRate float64 `json:"timeout_rate"`
	// AckLostRate: archive the document, then drop the connection unanswered.
	AckLostRate float64 `json:"ack_lost_rate"`
	// OutageUntil: refuse everything with 503 until then.
	OutageUntil *time.Time `json:"outage_until,omitempty"`
	// Seed reseeds the fault generator when the faults are set (0: keep the
	// server's seed).
	Seed int64 `json:"seed,omitempty"`
}

// Fault kinds as counted in stats.
const (
	faultOutage    = "outage"
	faultLatency   = "latency"
	faultTimeout   = "timeout"
	faultRateLimit = "rate_limit"
	faultError     = "error"
	faultAckLost   = "ack_lost"
	// faultSOAP counts requests refused with a SOAP Fault (not injected:
	// the request did not fit the envelope the mock speaks).
	faultSOAP = "soap_fault"
)

// Duration is a time.Duration written as "1.5s" in JSON.
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var ms int64 // a bare number is milliseconds
		if err2 := json.Unmarshal(b, &ms); err2 != nil {
			return fmt.Errorf("latency: want a duration string like \"250ms\": %w", err)
		}
		*d = Duration(time.Duration(ms) * time.Millisecond)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// Validate checks ranges.
func (f Faults) Validate() error {
	for name, r := range map[string]float64{"error_rate": f.ErrorRate, "rate_limit_rate": f.RateLimitRate,
		"timeout_rate": f.TimeoutRate, "ack_lost_rate": f.AckLostRate} {
		if r < 0 || r > 1 {
			return fmt.Errorf("%s %v is not in [0,1]", name, r)
		}
	}
	switch f.ErrorStatus {
	case 0, 500, 502, 503:
	default:
		return fmt.Errorf("error_status %d: want 500, 502 or 503", f.ErrorStatus)
	}
	if f.Latency < 0 || f.RetryAfterSeconds < 0 {
		return fmt.Errorf("latency and retry_after_seconds must not be negative")
	}
	return nil
}

// LoadFaults reads a faults JSON file (the --faults flag).
func LoadFaults(path string) (Faults, error) {
	var f Faults
	b, err := os.ReadFile(path)
	if err != nil {
		return f, fmt.Errorf("mockkanta: faults file: %w", err)
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return f, fmt.Errorf("mockkanta: faults file %s: %w", path, err)
	}
	return f, f.Validate()
}

// faultPlan is what to do to one request.
type faultPlan struct {
	outageUntil time.Time // non-zero: refuse
	latency     time.Duration
	timeout     bool
	rateLimit   bool
	retryAfter  int
	errorStatus int // non-zero: fail with this status
	ackLost     bool
}

// injector draws fault decisions from one seeded generator.
type injector struct {
	mu     sync.Mutex
	faults Faults
	rng    *rand.Rand
}

func newInjector(f Faults, seed int64) *injector {
	if f.Seed != 0 {
		seed = f.Seed
	}
	return &injector{faults: f, rng: rand.New(rand.NewSource(seed))}
}

func (in *injector) get() Faults {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.faults
}

func (in *injector) set(f Faults) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.faults = f
	if f.Seed != 0 {
		in.rng = rand.New(rand.NewSource(f.Seed))
	}
}

// plan draws the faults for one request. Every kind draws once per request,
// in a fixed order, so the sequence depends only on the seed and the count.
func (in *injector) plan(now time.Time) faultPlan {
	in.mu.Lock()
	defer in.mu.Unlock()
	f := in.faults
	var p faultPlan
	if f.OutageUntil != nil && now.Before(*f.OutageUntil) {
		p.outageUntil = *f.OutageUntil
		return p
	}
	p.latency = time.Duration(f.Latency)
	p.timeout = in.rng.Float64() < f.TimeoutRate
	p.rateLimit = in.rng.Float64() < f.RateLimitRate
	p.retryAfter = f.RetryAfterSeconds
	if p.retryAfter == 0 {
		p.retryAfter = 1
	}
	if in.rng.Float64() < f.ErrorRate {
		p.errorStatus = f.ErrorStatus
		if p.errorStatus == 0 {
			p.errorStatus = 503
		}
	}
	p.ackLost = in.rng.Float64() < f.AckLostRate
	return p
}

package mockkanta

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/clock"
	"github.com/helsinki-student-welfare/kanta-gateway/wire"
)

// newTestServer starts a mock over plain HTTP on loopback.
func newTestServer(t testing.TB, cfg Config) (*Server, *httptest.Server) {
	t.Helper()
	if cfg.Clock == nil {
		// Held at the start of the test: the documents the tests sign
		// carry the real time, and the mock checks their signatures at
		// its receipt time.
		cfg.Clock = clock.NewManual(time.Now().UTC().Truncate(time.Second))
	}
	if cfg.Schema == nil {
		cfg.Schema = testSchema
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		s.shutdown() // release held requests before the listener waits for them
		hs.Close()
		s.Close()
	})
	return s, hs
}

// postRaw sends an archive message and returns status, headers and body.
func postRaw(t testing.TB, c *http.Client, url string, body []byte) (*http.Response, []byte, error) {
	t.Helper()
	resp, err := c.Post(url+"/archive/v1/messages", "text/xml", bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

func putFaults(t *testing.T, url string, f string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, url+"/api/v1/faults", strings.NewReader(f))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func getStats(t testing.TB, url string) Stats {
	t.Helper()
	var st Stats
	getJSON(t, url+"/api/v1/stats", &st)
	return st
}

func getJSON(t testing.TB, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
	}
	return resp.StatusCode
}

func TestFaultErrorStatus(t *testing.T) {
	for _, status := range []int{500, 502, 503} {
		_, hs := newTestServer(t, Config{Faults: Faults{ErrorRate: 1, ErrorStatus: status}})
		resp, body, err := postRaw(t, http.DefaultClient, hs.URL, []byte("not a message"))
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != status {
			t.Errorf("status %d, want %d", resp.StatusCode, status)
		}
		ack, err := wire.ParseAck(body)
		if err != nil || ack.Code != wire.AckCommitError {
			t.Errorf("status %d: ack %+v, %v; want AE", status, ack, err)
		}
		if st := getStats(t, hs.URL); st.Faults[faultError] != 1 {
			t.Errorf("stats faults = %v, want error 1", st.Faults)
		}
	}
}

func TestFaultRateLimit(t *testing.T) {
	_, hs := newTestServer(t, Config{Faults: Faults{RateLimitRate: 1, RetryAfterSeconds: 7}})
	resp, body, err := postRaw(t, http.DefaultClient, hs.URL, []byte("not a message"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "7" {
		t.Errorf("got %d Retry-After %q, want 429 and 7", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if ack, err := wire.ParseAck(body); err != nil || ack.Detail != wire.DetailRateLimited {
		t.Errorf("ack %+v, %v; want RATE_LIMITED", ack, err)
	}
}

func TestFaultLatency(t *testing.T) {
	_, hs := newTestServer(t, Config{Faults: Faults{Latency: Duration(150 * time.Millisecond)}})
	start := time.Now()
	resp, _, err := postRaw(t, http.DefaultClient, hs.URL, []byte("not a message"))
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("answered after %v, want at least the 150ms latency", d)
	}
	if resp.StatusCode != http.StatusOK {
		t.Errorf("status %d, want 200 (latency only delays)", resp.StatusCode)
	}
}

func TestFaultTimeout(t *testing.T) {
	s, hs := newTestServer(t, Config{Faults: Faults{TimeoutRate: 1}})
	c := &http.Client{Timeout: 200 * time.Millisecond}
	_, _, err := postRaw(t, c, hs.URL, []byte("not a message"))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("err = %v, want a client timeout", err)
	}
	if st := s.Stats(); st.Faults[faultTimeout] != 1 {
		t.Errorf("faults = %v, want timeout 1", st.Faults)
	}
}

func TestFaultOutage(t *testing.T) {
	clk := clock.NewManual(time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC))
	until := clk.Now().Add(90 * time.Second)
	_, hs := newTestServer(t, Config{Clock: clk, Faults: Faults{OutageUntil: &until}})
	resp, body, err := postRaw(t, http.DefaultClient, hs.URL, []byte("not a message"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "91" {
		t.Errorf("during outage: %d Retry-After %q, want 503 and 91", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if ack, _ := wire.ParseAck(body); ack == nil || ack.Detail != wire.DetailServiceUnavailable {
		t.Errorf("ack %+v, want SERVICE_UNAVAILABLE", ack)
	}
	clk.Set(until)
	resp, body, err = postRaw(t, http.DefaultClient, hs.URL, []byte("not a message"))
	if err != nil {
		t.Fatal(err)
	}
	if ack, _ := wire.ParseAck(body); resp.StatusCode != http.StatusOK || ack == nil || ack.Detail != wire.DetailMalformedFrame {
		t.Errorf("after outage: %d %+v, want 200 MALFORMED_FRAME (the body is not a message)", resp.StatusCode, ack)
	}
}

// The same seed gives the same fault sequence; PUT with a seed restarts it.
func TestFaultSeedRepeats(t *testing.T) {
	run := func() []int {
		_, hs := newTestServer(t, Config{})
		if resp := putFaults(t, hs.URL, `{"error_rate":0.5,"error_status":502,"seed":42}`); resp.StatusCode != 200 {
			t.Fatalf("PUT faults: %d", resp.StatusCode)
		}
		var statuses []int
		for range 16 {
			resp, _, err := postRaw(t, http.DefaultClient, hs.URL, []byte("not a message"))
			if err != nil {
				t.Fatal(err)
			}
			statuses = append(statuses, resp.StatusCode)
		}
		return statuses
	}
	a, b := run(), run()
	if !slices.Equal(a, b) {
		t.Fatalf("same seed, different sequences:\n%v\n%v", a, b)
	}
	if !slices.Contains(a, 502) || !slices.Contains(a, 200) {
		t.Fatalf("error_rate 0.5 over 16 requests gave %v, want both outcomes", a)
	}
}

func TestFaultsAPI(t *testing.T) {
	_, hs := newTestServer(t, Config{})
	if resp := putFaults(t, hs.URL, `{"error_rate":2}`); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("error_rate 2: status %d, want 400", resp.StatusCode)
	}
	if resp := putFaults(t, hs.URL, `{"error_status":404}`); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("error_status 404: status %d, want 400", resp.StatusCode)
	}
	if resp := putFaults(t, hs.URL, `{"latency":"250ms","ack_lost_rate":0.25}`); resp.StatusCode != 200 {
		t.Fatalf("PUT: %d", resp.StatusCode)
	}
	var f Faults
	getJSON(t, hs.URL+"/api/v1/faults", &f)
	if time.Duration(f.Latency) != 250*time.Millisecond || f.AckLostRate != 0.25 {
		t.Errorf("GET faults = %+v", f)
	}
}

func TestLoadFaultsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "faults.json")
	os.WriteFile(path, []byte(`{"rate_limit_rate":0.1,"retry_after_seconds":3,"outage_until":"2026-11-22T12:00:00Z","seed":9}`), 0o600)
	f, err := LoadFaults(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.RateLimitRate != 0.1 || f.RetryAfterSeconds != 3 || f.Seed != 9 || f.OutageUntil == nil ||
		!f.OutageUntil.Equal(time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("loaded %+v", f)
	}
	os.WriteFile(path, []byte(`{"timeout_rate":-1}`), 0o600)
	if _, err := LoadFaults(path); err == nil {
		t.Error("negative rate accepted")
	}
}

package submit

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/queue"
	"github.com/helsinki-student-welfare/kanta-gateway/wire"
)

// Every detail code of the acknowledgement table, in both families,
// classifies by its code's outcome, and the detail travels with the result.
func TestEveryDetailCodeInBothFamilies(t *testing.T) {
	now := time.Date(2026, 9, 1, 12, 0, 0, 0, time.UTC)
	commit := map[wire.AckCode]wire.AckCode{wire.AckAccepted: wire.AckCommitAccept, wire.AckError: wire.AckCommitError, wire.AckRejected: wire.AckCommitReject}
	for _, dc := range wire.DetailCodes {
		for _, code := range []wire.AckCode{dc.Ack, commit[dc.Ack]} {
			want := map[wire.AckCode]queue.Class{
				wire.AckAccepted: queue.Accepted, wire.AckCommitAccept: queue.Accepted,
				wire.AckError: queue.Retry, wire.AckCommitError: queue.Retry,
				wire.AckRejected: queue.Permanent, wire.AckCommitReject: queue.Permanent,
			}[code]
			if dc.Code == wire.DetailDuplicate {
				want = queue.Duplicate
			}
			resp := &http.Response{StatusCode: 200, Header: http.Header{}}
			r := classify(RouteCDA, resp, ackBody(code, dc.Code, requestID), nil, now, requestID)
			if r.Class != want || r.Code != string(code) || r.Detail != dc.Code {
				t.Errorf("%s %s: got %s %s %s, want %s", code, dc.Code, r.Class, r.Code, r.Detail, want)
			}
		}
	}
}

// The FHIR route answers in HTTP statuses only.
func TestClassifyFHIRAnswers(t *testing.T) {
	now := time.Date(2026, 9, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		status     int
		header     http.Header
		class      queue.Class
		retryAfter time.Duration
	}{
		{201, nil, queue.Accepted, 0},
		{200, nil, queue.Duplicate, 0},
		{400, nil, queue.Permanent, 0},
		{422, nil, queue.Permanent, 0},
		{408, nil, queue.Retry, 0},
		{429, http.Header{"Retry-After": {"3"}}, queue.Retry, 3 * time.Second},
		{500, nil, queue.Retry, 0},
		{503, http.Header{"Retry-After": {"11"}}, queue.Retry, 11 * time.Second},
	} {
		h := tc.header
		if h == nil {
			h = http.Header{}
		}
		r := Classify(RouteFHIR, &http.Response{StatusCode: tc.status, Header: h}, []byte(`{"resourceType":"OperationOutcome"}`), nil, now)
		if r.Class != tc.class || r.Code != "HTTP_"+strconv.Itoa(tc.status) || r.RetryAfter != tc.retryAfter {
			t.Errorf("FHIR %d: got %s %s after %v, want %s after %v", tc.status, r.Class, r.Code, r.RetryAfter, tc.class, tc.retryAfter)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 9, 1, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"":     0,
		"0":    0,
		"120":  2 * time.Minute,
		" 5 ":  5 * time.Second,
		"-3":   0, // not delta-seconds
		"soon": 0,
		now.Add(30 * time.Second).Format(http.TimeFormat): 30 * time.Second,
		now.Add(-time.Hour).Format(http.TimeFormat):       0, // a date already past
	} {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}

// Transport failures through the real client: each is a retry with code
// TRANSPORT, never a permanent failure, and none carries an answer code.
func TestTransportFailures(t *testing.T) {
	ok := ackBody(wire.AckCommitAccept, wire.DetailAccepted, requestID)

	refused := func(t *testing.T) Config {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close() // nothing listens there any more: connection refused
		return Config{ArchiveURL: "http://" + addr}
	}
	hanging := func(t *testing.T) Config {
		release := make(chan struct{})
		hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		t.Cleanup(func() { close(release); hs.Close() })
		return Config{ArchiveURL: hs.URL, Timeout: 200 * time.Millisecond}
	}
	tlsServer := func(t *testing.T, clientAuth tls.ClientAuthType) *httptest.Server {
		hs := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(ok) }))
		hs.TLS = &tls.Config{ClientAuth: clientAuth}
		hs.StartTLS()
		t.Cleanup(hs.Close)
		return hs
	}
	writeCA := func(t *testing.T, c *x509.Certificate) string {
		p := filepath.Join(t.TempDir(), "ca.pem")
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	untrustedServer := func(t *testing.T) Config {
		hs := tlsServer(t, tls.NoClientCert)
		return Config{ArchiveURL: hs.URL, CACert: writeCA(t, otherCA(t))}
	}
	noClientCert := func(t *testing.T) Config {
		hs := tlsServer(t, tls.RequireAnyClientCert)
		return Config{ArchiveURL: hs.URL, CACert: writeCA(t, hs.Certificate())}
	}
	for _, tc := range []struct {
		name string
		cfg  func(*testing.T) Config
		text string
	}{
		{"connection refused", refused, "connection refused"},
		{"timeout", hanging, "timed out"},
		{"untrusted server certificate", untrustedServer, "certificate"},
		{"client certificate required", noClientCert, "transport error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg(t)
			if cfg.Timeout == 0 {
				cfg.Timeout = 5 * time.Second
			}
			cfg.ArchiveAction, cfg.BreakerFailures = "urn:archive", 100
			s, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			r := s.Submit(context.Background(), delivery())
			if r.Class != queue.Retry || r.Code != CodeTransport || r.Err == nil {
				t.Fatalf("got %s %s (%s, err %v), want retry %s with the error", r.Class, r.Code, r.Text, r.Err, CodeTransport)
			}
			if !strings.Contains(r.Text, tc.text) {
				t.Errorf("text %q lacks %q", r.Text, tc.text)
			}
		})
	}
}

// otherCA is a self-signed CA that signed nothing the test servers use.
func otherCA(t *testing.T) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "not Kanta's CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A connection refused never reached Kanta, so the client retries it in
// place (QuickRetries); a request that reached the server is never resent
// within the attempt, whatever came back.
func TestOnlyNeverSentRequestsAreRetriedInPlace(t *testing.T) {
	var calls atomic.Int32
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusBadGateway)
	}))
	t.Cleanup(hs.Close)
	s, err := New(Config{ArchiveURL: hs.URL, Timeout: 5 * time.Second, QuickRetries: 3, BreakerFailures: 100})
	if err != nil {
		t.Fatal(err)
	}
	r := s.Submit(context.Background(), delivery())
	if r.Class != queue.Retry || r.Code != "HTTP_502" || calls.Load() != 1 {
		t.Fatalf("got %s %s after %d requests, want HTTP_502 after exactly 1", r.Class, r.Code, calls.Load())
	}
	if !neverSent(&net.OpError{Op: "dial", Err: os.ErrDeadlineExceeded}) || neverSent(&net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}) {
		t.Error("neverSent must hold for a failed dial only")
	}
}

package mockkanta

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/serverlimits"
)

// cutWithin asserts that the server closes conn within d.
func cutWithin(t *testing.T, what string, conn net.Conn, d time.Duration) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, conn)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("%s: connection still open after %s", what, d)
	}
}

// The mock's server cuts a request whose body does not come and a
// keep-alive connection that stays idle; without configuration it has
// safe limits.
func TestServerLimits(t *testing.T) {
	s, err := New(Config{Schema: testSchema})
	if err != nil {
		t.Fatal(err)
	}
	if s.cfg.Limits != func() serverlimits.Limits { l := DefaultLimits; l.MaxBodyBytes = 16 << 20; return l }() {
		t.Errorf("default limits %+v, want %+v", s.cfg.Limits, DefaultLimits)
	}
	s.Close()

	cfg := trusted()
	cfg.Schema = testSchema
	cfg.Limits = serverlimits.Limits{ReadHeaderTimeout: 200 * time.Millisecond, ReadTimeout: 300 * time.Millisecond,
		WriteTimeout: 2 * time.Second, IdleTimeout: 300 * time.Millisecond, MaxConnections: 8}
	s, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln, nil) }()
	defer func() { cancel(); <-done }()
	addr := ln.Addr().String()

	slow, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	fmt.Fprintf(slow, "POST /archive/v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nContent-Length: 100000\r\n\r\n<RCMR")
	cutWithin(t, "slow body", slow, 3*time.Second)

	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	fmt.Fprintf(idle, "GET /api/v1/stats HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(idle), nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("stats: %v %v", resp, err)
	}
	resp.Body.Close()
	cutWithin(t, "idle keep-alive connection", idle, 3*time.Second)
}

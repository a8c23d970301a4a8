package serverlimits

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// serve starts h under l on a loopback port and returns its address.
func serve(t *testing.T, l Limits, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := l.Server(h)
	go srv.Serve(l.Listener(ln))
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// CutWithin asserts that the server closes conn within d (reads see EOF or
// a reset), reading and discarding anything it sends first.
func CutWithin(t *testing.T, conn net.Conn, d time.Duration) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, conn)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("connection still open after %s", d)
	}
}

var short = Limits{ReadHeaderTimeout: 200 * time.Millisecond, ReadTimeout: 300 * time.Millisecond, WriteTimeout: time.Second,
	IdleTimeout: 300 * time.Millisecond, MaxBodyBytes: 1024, MaxConnections: 2}

func echo() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		fmt.Fprintf(w, "%d", len(b))
	})
}

func TestSlowBodyIsCut(t *testing.T) {
	addr := serve(t, short, echo())
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Headers promise 100 bytes; the body never comes.
	fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
	CutWithin(t, conn, 3*time.Second)
}

func TestIdleConnectionIsCut(t *testing.T) {
	addr := serve(t, short, echo())
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("first request: %v %v", resp, err)
	}
	resp.Body.Close()
	// Keep-alive, then silence: the server closes it after IdleTimeout.
	start := time.Now()
	CutWithin(t, conn, 3*time.Second)
	if time.Since(start) < 200*time.Millisecond {
		t.Errorf("cut after %s, before the idle timeout", time.Since(start))
	}
}

func TestBodyOverLimitRefused(t *testing.T) {
	addr := serve(t, short, echo())
	for _, chunked := range []bool{false, true} {
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/", strings.NewReader(strings.Repeat("x", 2048)))
		if chunked {
			req.ContentLength = -1 // no Content-Length: the reader stops it
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("2 KiB body (chunked %v): status %d, want 413", chunked, resp.StatusCode)
		}
	}
}

func TestConnectionLimit(t *testing.T) {
	// Timeouts long enough that no held connection is cut during the test.
	l := Limits{ReadHeaderTimeout: 10 * time.Second, MaxConnections: 2}.WithDefaults(Limits{ReadTimeout: 10 * time.Second,
		WriteTimeout: 10 * time.Second, IdleTimeout: 10 * time.Second, MaxBodyBytes: 1024})
	if err := l.Validate(); err != nil {
		t.Fatal(err)
	}
	addr := serve(t, l, echo())
	var held []net.Conn
	for range short.MaxConnections {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	// The next connection is not served while both slots are held...
	extra, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	fmt.Fprintf(extra, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	extra.SetReadDeadline(time.Now().Add(150 * time.Millisecond))
	if n, _ := extra.Read(make([]byte, 1)); n > 0 {
		t.Fatal("a connection over the limit was served")
	}
	// ...and is once one of them closes.
	held[0].Close()
	extra.SetReadDeadline(time.Now().Add(3 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(extra), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("after a slot freed: %v %v", resp, err)
	}
	resp.Body.Close()
}

func TestValidate(t *testing.T) {
	if err := short.Validate(); err != nil {
		t.Fatal(err)
	}
	l := short
	l.MaxConnections = 0
	if err := l.Validate(); err == nil || !strings.Contains(err.Error(), "max_connections") {
		t.Errorf("zero connection limit: %v", err)
	}
}

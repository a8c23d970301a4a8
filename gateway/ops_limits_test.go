package gateway

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/config"
	"github.com/helsinki-student-welfare/kanta-gateway/metrics"
	"github.com/helsinki-student-welfare/kanta-gateway/serverlimits"
)

// The operations server (/metrics, /healthz, /readyz) cuts a request whose
// body does not come and an idle keep-alive connection, by the limits of
// metrics.server; the defaults are set and valid.
func TestOpsServerCutsSlowAndIdleConnections(t *testing.T) {
	def := config.Default()
	if def.Metrics.Server != config.OpsServerLimits || def.Metrics.Server.Validate() != nil {
		t.Fatalf("default operations server limits %+v", def.Metrics.Server)
	}
	cfg := config.Default()
	cfg.Metrics.Listen = "127.0.0.1:0"
	cfg.Metrics.Server = serverlimits.Limits{ReadHeaderTimeout: 200 * time.Millisecond, ReadTimeout: 300 * time.Millisecond,
		WriteTimeout: 2 * time.Second, IdleTimeout: 300 * time.Millisecond, MaxBodyBytes: 1024, MaxConnections: 4}
	var ready atomic.Bool
	srv, err := serveOps(&cfg, &Service{Metrics: metrics.New(nil)}, &ready, &storeHealth{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cut := func(what string, c net.Conn) {
		t.Helper()
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		_, err := io.Copy(io.Discard, c)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("%s: connection still open after 3s", what)
		}
	}

	slow, err := net.Dial("tcp", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	fmt.Fprintf(slow, "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\nab")
	cut("slow body", slow)

	idle, err := net.Dial("tcp", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	fmt.Fprintf(idle, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(idle), nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	cut("idle keep-alive connection", idle)
}

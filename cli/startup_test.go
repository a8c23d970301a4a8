package cli

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/clock"
	"github.com/helsinki-student-welfare/kanta-gateway/config"
	"github.com/helsinki-student-welfare/kanta-gateway/fixtures/pki"
)

// unavailableStoreApp is an app whose SQLite queue lives under a path that
// cannot be created: a regular file (blocker) stands where its directory
// should be, which stops root as well as anyone.
func unavailableStoreApp(t *testing.T) (*app, string) {
	t.Helper()
	dir := t.TempDir()
	cfg := config.Default()
	o := &cfg.Organisations[0]
	paths, err := pki.Generate(filepath.Join(dir, "pki"), []pki.Organiser{{OID: o.OID, Name: o.Name}}, "pw", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	o.PKCS12, o.PKCS12Password = paths.Signing[o.OID].P12, "pw"
	cfg.Spool.Dir, cfg.Spool.QuarantineDir, cfg.Spool.DoneDir = filepath.Join(dir, "spool"), filepath.Join(dir, "quarantine"), filepath.Join(dir, "done")
	blocker := filepath.Join(dir, "data")
	if err := os.WriteFile(blocker, []byte("not a directory"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Queue.SQLitePath = filepath.Join(blocker, "queue", "gateway.db")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Metrics.Listen = ln.Addr().String()
	ln.Close()
	var out bytes.Buffer
	return &app{cfg: &cfg, clock: clock.System{}, logger: slog.New(slog.DiscardHandler), out: &out, errOut: &out}, blocker
}

// A daemon whose queue store cannot be opened at start stays up, reports
// not ready, and becomes ready once the store can be opened; `once` exits
// with the failure status (1), not the configuration error status (2).
func TestStoreUnavailableAtStart(t *testing.T) {
	first := storeRetryFirst
	storeRetryFirst = 50 * time.Millisecond
	defer func() { storeRetryFirst = first }()

	t.Run("once", func(t *testing.T) {
		a, _ := unavailableStoreApp(t)
		err := a.once(context.Background(), time.Second)
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != ExitFailure {
			t.Fatalf("once on an unavailable store: %v, want exit %d", err, ExitFailure)
		}
	})

	t.Run("daemon", func(t *testing.T) {
		a, blocker := unavailableStoreApp(t)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- a.daemon(ctx) }()
		readyz := func() int {
			resp, err := http.Get("http://" + a.cfg.Metrics.Listen + "/readyz")
			if err != nil {
				return 0
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		waitReadyz := func(want int, what string) {
			t.Helper()
			deadline := time.Now().Add(60 * time.Second)
			for readyz() != want {
				select {
				case err := <-done:
					t.Fatalf("the daemon exited %s: %v", what, err)
				default:
				}
				if time.Now().After(deadline) {
					t.Fatalf("/readyz never answered %d %s", want, what)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		waitReadyz(http.StatusServiceUnavailable, "while its store is unavailable")
		// Still not ready a few retries later: it keeps trying, it does
		// not give up.
		time.Sleep(300 * time.Millisecond)
		waitReadyz(http.StatusServiceUnavailable, "after some retries")
		if err := os.Remove(blocker); err != nil {
			t.Fatal(err)
		}
		waitReadyz(http.StatusOK, "once its store can be opened")
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("daemon stopped with %v", err)
		}
	})
}

package gateway

import (
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
	"github.com/helsinki-student-welfare/kanta-gateway/queue"
)

// unavailableStoreConfig is a configuration whose SQLite queue lives under
// a path that cannot be created: a regular file (blocker) stands where its
// directory should be, which stops root as well as anyone.
func unavailableStoreConfig(t *testing.T) (*config.Config, string) {
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
	return &cfg, blocker
}

// A daemon whose queue store cannot be opened at start stays up, reports
// not ready, and becomes ready once the store can be opened; `once` fails
// as a run (RunFailure: the command line's exit 1), not as a
// configuration error (exit 2; cli's TestOnceOnAnUnavailableStore).
func TestStoreUnavailableAtStart(t *testing.T) {
	first := storeRetryFirst
	storeRetryFirst = 50 * time.Millisecond
	defer func() { storeRetryFirst = first }()

	t.Run("once", func(t *testing.T) {
		cfg, _ := unavailableStoreConfig(t)
		res, err := Once(context.Background(), cfg, clock.System{}, slog.New(slog.DiscardHandler), OnceOptions{Timeout: time.Second})
		var rf *RunFailure
		if !errors.As(err, &rf) || !errors.Is(err, queue.ErrUnavailable) || res != nil {
			t.Fatalf("once on an unavailable store: %v (result %+v), want a RunFailure of the unavailable store and no result", err, res)
		}
	})

	t.Run("daemon", func(t *testing.T) {
		cfg, blocker := unavailableStoreConfig(t)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error, 1)
		go func() {
			done <- RunDaemon(ctx, cfg, clock.System{}, slog.New(slog.DiscardHandler), DaemonOptions{})
		}()
		readyz := func() int {
			resp, err := http.Get("http://" + cfg.Metrics.Listen + "/readyz")
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

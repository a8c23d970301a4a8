package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/helsinki-student-welfare/kanta-gateway/internal/pgtest"
	"github.com/helsinki-student-welfare/kanta-gateway/metrics"
	"github.com/helsinki-student-welfare/kanta-gateway/queue"
)

// readOnlyDatabase creates a PostgreSQL database of the test's own (the
// read-only switch is a database setting; the shared test database is left
// alone) and returns its DSN and a function that turns it read-only or back
// the way a failover to a standby does: the setting changes and every
// session of the database is cut, so the pool reconnects into it.
func readOnlyDatabase(t *testing.T) (string, func(readOnly bool)) {
	t.Helper()
	base := pgtest.DSN(t)
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("PostgreSQL is required for this test (scripts/test.sh starts it): %v", err)
	}
	name := fmt.Sprintf("kanta_readonly_%d", time.Now().UnixNano())
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(context.Background(), "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
		admin.Close(context.Background())
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	set := func(readOnly bool) {
		if _, err := admin.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s SET default_transaction_read_only = %v", name, readOnly)); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", name); err != nil {
			t.Fatal(err)
		}
	}
	return u.String(), set
}

// /readyz and kanta_gateway_store_writable follow the queue store's write
// probe against a real failure: the PostgreSQL database turned read-only
// under the running daemon (it refuses the probe's write, SQLSTATE 25006),
// red while it is, green again when it is writable, on the same open store
// without a restart. (SQLite full: queue's TestProbeWriteFollowsSQLiteFull.)
func TestReadyzFollowsAReadOnlyDatabase(t *testing.T) {
	ctx := context.Background()
	dsn, setReadOnly := readOnlyDatabase(t)
	q, err := queue.OpenPostgres(ctx, dsn, queue.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	svc := &Service{Queue: q, Metrics: metrics.New(q.Stats)}
	var ready atomic.Bool
	ready.Store(true)
	health := &storeHealth{probe: q.ProbeWrite, every: storeProbeInterval, onChange: svc.Metrics.StoreWritable, log: slog.New(slog.DiscardHandler)}
	h := opsHandler(svc, &ready, health)
	readyz := func() int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		return rec.Code
	}
	writable := func() float64 {
		mfs, err := svc.Metrics.Registry.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "kanta_gateway_store_writable" {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		return -1
	}
	// probeUntil probes as the daemon does until /readyz and the gauge
	// say want (a cut session fails one probe before the pool reconnects).
	probeUntil := func(code int, gauge float64, what string) {
		t.Helper()
		for range 20 {
			health.check(ctx)
			if readyz() == code && writable() == gauge {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("%s: /readyz %d, gauge %v, want %d and %v", what, readyz(), writable(), code, gauge)
	}

	probeUntil(http.StatusOK, 1, "store writable")
	setReadOnly(true)
	probeUntil(http.StatusServiceUnavailable, 0, "database read-only")
	// Not a cut session only: once the pool has reconnected, the store
	// answers, and refuses to write.
	var perr error
	for range 20 {
		if perr = q.ProbeWrite(ctx); perr != nil && strings.Contains(perr.Error(), "read-only") {
			break
		}
	}
	if perr == nil || !strings.Contains(perr.Error(), "read-only") {
		t.Fatalf("probe of a read-only database: %v, want its refusal", perr)
	}
	if _, err := q.Stats(ctx); err != nil {
		t.Fatalf("stats of the read-only database: %v", err)
	}
	if c := readyz(); c != http.StatusServiceUnavailable {
		t.Fatalf("/readyz %d while the database is read-only", c)
	}
	setReadOnly(false)
	probeUntil(http.StatusOK, 1, "database writable again")
}

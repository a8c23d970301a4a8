package cli

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/helsinki-student-welfare/kanta-gateway/gateway"
	"github.com/helsinki-student-welfare/kanta-gateway/metrics"
	"github.com/helsinki-student-welfare/kanta-gateway/queue"
)

// /readyz and kanta_gateway_store_writable follow the queue store's write
// probe: red while it cannot write (here a write the store refuses: the
// probe runs on a store that is closed, as a store whose disk is full
// answers), green again when it can, without a restart.
func TestReadyzFollowsStoreWrites(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	open := func() queue.Queue {
		q, err := queue.OpenSQLite(ctx, filepath.Join(dir, "gateway.db"), queue.Options{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	reader := open() // serves Stats for /readyz
	defer reader.Close()
	writer := open()
	var broken atomic.Bool
	probe := func(ctx context.Context) error {
		if broken.Load() {
			return writer.ProbeWrite(ctx)
		}
		return reader.ProbeWrite(ctx)
	}
	svc := &gateway.Service{Queue: reader, Metrics: metrics.New(reader.Stats)}
	var ready atomic.Bool
	ready.Store(true)
	health := &storeHealth{probe: probe, every: storeProbeInterval, onChange: svc.Metrics.StoreWritable, log: slog.New(slog.DiscardHandler)}
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

	health.check(ctx)
	if c, w := readyz(), writable(); c != http.StatusOK || w != 1 {
		t.Fatalf("store writable: /readyz %d, gauge %v", c, w)
	}
	if err := writer.Close(); err != nil {
		t.Fatal(err)
	}
	broken.Store(true)
	if err := writer.ProbeWrite(ctx); err == nil || !strings.Contains(err.Error(), "queue") {
		t.Fatalf("a write on a closed store: %v", err)
	}
	health.check(ctx)
	if c, w := readyz(), writable(); c != http.StatusServiceUnavailable || w != 0 {
		t.Fatalf("store cannot write: /readyz %d, gauge %v (want 503 and 0)", c, w)
	}
	broken.Store(false)
	health.check(ctx)
	if c, w := readyz(), writable(); c != http.StatusOK || w != 1 {
		t.Fatalf("store writes again: /readyz %d, gauge %v (want 200 and 1)", c, w)
	}
}

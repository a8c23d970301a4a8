package queue

import (
	"context"
	"database/sql"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// ProbeWrite fails while SQLite itself cannot write (SQLITE_FULL: the
// database at its page limit, as on a full disk, every free page taken)
// and succeeds again once it can, on the same open store. The limit is
// lowered on the store's own connection (max_page_count is per
// connection; the SQLite store has one).
func TestProbeWriteFollowsSQLiteFull(t *testing.T) {
	ctx := context.Background()
	q, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "gateway.db"), Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	s := q.(*store[*sql.Tx])
	x := s.b.pool
	if err := q.ProbeWrite(ctx); err != nil {
		t.Fatalf("probe of a fresh store: %v", err)
	}
	if _, err := x.exec(ctx, `CREATE TABLE filler (b BLOB)`); err != nil {
		t.Fatal(err)
	}
	pages := func(pragma string) int {
		var n int
		if err := x.queryRow(ctx, `PRAGMA `+pragma).Scan(&n); err != nil {
			t.Fatalf("PRAGMA %s: %v", pragma, err)
		}
		return n
	}
	limit := pages("page_count")
	pages("max_page_count = " + itoa(limit))
	// The store fills up as ingestion would fill a disk: until SQLite
	// refuses, every free page used.
	var fillErr error
	for i := 0; i < 100000 && fillErr == nil; i++ {
		_, fillErr = x.exec(ctx, `INSERT INTO filler VALUES (randomblob(1500))`)
	}
	if fillErr == nil || !strings.Contains(fillErr.Error(), "full") {
		t.Fatalf("filling the store: %v, want SQLITE_FULL", fillErr)
	}
	if err := q.ProbeWrite(ctx); err == nil || !strings.Contains(err.Error(), "full") {
		t.Fatalf("probe of a full store (%d pages, %d free): %v, want SQLITE_FULL", pages("page_count"), pages("freelist_count"), err)
	}
	pages("max_page_count = " + itoa(limit+1000)) // space freed
	if err := q.ProbeWrite(ctx); err != nil {
		t.Fatalf("probe after space was freed: %v", err)
	}
	// The room the probe takes is given back: probing for good does not
	// grow the database.
	size := pages("page_count")
	for range 20 {
		if err := q.ProbeWrite(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := pages("page_count"); got != size {
		t.Errorf("20 probes grew the database from %d to %d pages", size, got)
	}
	var rows int
	if err := x.queryRow(ctx, `SELECT count(*) FROM gateway_write_probe`).Scan(&rows); err != nil || rows != 1 {
		t.Errorf("probe table holds %d rows (%v), want 1", rows, err)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

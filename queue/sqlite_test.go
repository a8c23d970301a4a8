package queue_test

import (
	"bytes"
	"context"
	"database/sql"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"

	"github.com/helsinki-student-welfare/kanta-gateway/queue"
	"github.com/helsinki-student-welfare/kanta-gateway/queue/queuetest"
)

// sqliteStores gives each test its own database file, the same one when a
// test reopens its queue.
var sqliteStores sync.Map // test -> database path

func openSQLite(t *testing.T, o queue.Options) queue.Queue {
	t.Helper()
	v, loaded := sqliteStores.LoadOrStore(t, filepath.Join(t.TempDir(), "gateway.db"))
	if !loaded {
		t.Cleanup(func() { sqliteStores.Delete(t) })
	}
	q, err := queue.OpenSQLite(context.Background(), v.(string), o)
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	return q
}

func TestSQLite(t *testing.T) {
	queuetest.Run(t, openSQLite)
}

// The database, its WAL and its shared memory are private to the gateway's
// user whatever the umask, and a directory found 0755 is tightened with a
// warning naming it. SQLite makes -wal and -shm itself: their modes are
// checked after a write.
func TestSQLiteFilesArePrivate(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	path := filepath.Join(dir, "gateway.db")
	q, err := queue.OpenSQLite(context.Background(), path, queue.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if err := q.Ingest(context.Background(), queuetest.Record("e1", 1, documents.OutcomeSubmit), []queue.Delivery{queuetest.Del("e1", 1)}); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{dir: 0o700, path: 0o600, path + "-wal": 0o600, path + "-shm": 0o600} {
		info, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if m := info.Mode().Perm(); m != want {
			t.Errorf("%s mode %#o, want %#o", p, m, want)
		}
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "path="+dir) {
		t.Errorf("no warning naming the tightened directory: %q", logs.String())
	}
}

// A process that opens an up-to-date store (`queue ls`, a report) reads at
// once while a daemon's transaction holds the writer: it skips migrate,
// whose immediate transaction would wait for the writer. A database that
// still needs migrating takes the lock as before, so two processes never
// migrate at once.
func TestSQLiteOpenOfCurrentSchemaDoesNotWaitForTheWriter(t *testing.T) {
	dir := t.TempDir()
	holdWriter := func(path string) func() {
		t.Helper()
		db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(100)&_txlock=immediate")
		if err != nil {
			t.Fatal(err)
		}
		tx, err := db.Begin()
		if err != nil {
			t.Fatalf("hold the writer: %v", err)
		}
		return func() { _ = tx.Rollback(); _ = db.Close() }
	}

	current := filepath.Join(dir, "current.db")
	q, err := queue.OpenSQLite(context.Background(), current, queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Ingest(context.Background(), queuetest.Record("e1", 1, documents.OutcomeSubmit), []queue.Delivery{queuetest.Del("e1", 1)}); err != nil {
		t.Fatal(err)
	}
	q.Close()
	release := holdWriter(current)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	start := time.Now()
	r, err := queue.OpenSQLite(ctx, current, queue.Options{})
	if err != nil {
		t.Fatalf("open while the writer is held: %v", err)
	}
	st, err := r.Stats(ctx)
	cancel()
	if err != nil {
		t.Fatalf("stats while the writer is held: %v", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("open and stats took %s with the writer held, want no wait for it", took)
	}
	if st.Depth["available"]+st.Depth["scheduled"] != 1 {
		t.Errorf("stats read %v, want the one queued delivery", st.Depth)
	}
	r.Close()
	release()

	// A new database must be migrated: its open waits for the writer and,
	// with the writer never released, fails instead of reading a schema
	// that is not there.
	fresh := filepath.Join(dir, "fresh.db")
	if err := os.WriteFile(fresh, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	release = holdWriter(fresh)
	defer release()
	ctx, cancel = context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if f, err := queue.OpenSQLite(ctx, fresh, queue.Options{}); err == nil {
		f.Close()
		t.Fatal("a database that needs migrating opened while another process held its writer")
	}
}

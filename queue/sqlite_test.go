package queue_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

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

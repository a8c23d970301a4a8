package queue_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

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

package queue

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"

	"github.com/riverqueue/river/riverdriver/riversqlite"

	"github.com/helsinki-student-welfare/kanta-gateway/privatefs"
)

// OpenSQLite opens (creating and migrating as needed) the embedded store at
// path. SQLite allows one writer at a time, so the pool holds a single
// connection, as River's SQLite driver advises; WAL lets readers of other
// processes (a CLI inspecting the queue) run beside the daemon, and
// busy_timeout makes such a second process wait instead of failing.
func OpenSQLite(ctx context.Context, path string, o Options) (Queue, error) {
	o = o.withDefaults()
	// SQLite creates the database 0644 less the umask, and its -wal and
	// -shm files with the database's mode: a private database file made
	// first keeps all three private.
	if err := privatefs.Dir(filepath.Dir(path), o.Logger); err != nil {
		return nil, fmt.Errorf("queue: open sqlite: %w", err)
	}
	if err := privatefs.Create(path, o.Logger); err != nil {
		return nil, fmt.Errorf("queue: open sqlite: %w", err)
	}
	for _, side := range []string{"-wal", "-shm", "-journal"} {
		if err := privatefs.File(path+side, o.Logger); err != nil {
			return nil, fmt.Errorf("queue: open sqlite: %w", err)
		}
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Set("_txlock", "immediate")
	connector, err := newStmtCachingConnector("file:" + path + "?" + q.Encode())
	if err != nil {
		return nil, fmt.Errorf("queue: open sqlite: %w", err)
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(1)
	db.SetConnMaxIdleTime(0)
	db.SetConnMaxLifetime(0)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, Unavailable(fmt.Errorf("queue: open sqlite %s: %w", path, err))
	}
	// Report connections (see backend.reports): the same file, refusing
	// writes, two so a console page and a scrape need not queue either.
	rq := url.Values{}
	rq.Add("_pragma", "busy_timeout(10000)")
	rq.Add("_pragma", "query_only(1)")
	rconnector, err := newStmtCachingConnector("file:" + path + "?" + rq.Encode())
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("queue: open sqlite: %w", err)
	}
	rdb := sql.OpenDB(rconnector)
	rdb.SetMaxOpenConns(2)
	rdb.SetMaxIdleConns(2)
	closeBoth := func() { _ = rdb.Close(); _ = db.Close() }
	d := dialect{name: "sqlite", timeAsText: true}
	driver := riversqlite.New(db)
	b := backend[*sql.Tx]{
		dialect: d,
		pool:    sqlExec{q: db, d: d},
		begin: func(ctx context.Context) (*sql.Tx, execer, error) {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				return nil, nil, err
			}
			return tx, sqlExec{q: tx, d: d}, nil
		},
		commit:       func(_ context.Context, tx *sql.Tx) error { return tx.Commit() },
		rollback:     func(_ context.Context, tx *sql.Tx) error { return tx.Rollback() },
		close:        closeBoth,
		reports:      sqlExec{q: rdb, d: d},
		reportDriver: riversqlite.New(rdb),
	}
	// An up-to-date store is opened without the write lock (schemaCurrent).
	if !schemaCurrent(ctx, b.reports, b.reportDriver, o) {
		if err := migrate(ctx, b, driver, true, o); err != nil {
			closeBoth()
			return nil, Unavailable(err)
		}
	}
	s, err := newStore(b, driver, o)
	if err != nil {
		closeBoth()
		return nil, err
	}
	return s, nil
}

// sqlExec runs our SQL through database/sql (a pool or a transaction).
type sqlExec struct {
	q interface {
		ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
		QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
		QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	}
	d dialect
}

func (e sqlExec) exec(ctx context.Context, q string, args ...any) (int64, error) {
	res, err := e.q.ExecContext(ctx, e.d.rebind(q), args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (e sqlExec) query(ctx context.Context, q string, args ...any) (rowsIter, error) {
	rows, err := e.q.QueryContext(ctx, e.d.rebind(q), args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

func (e sqlExec) queryRow(ctx context.Context, q string, args ...any) rowScanner {
	return e.q.QueryRowContext(ctx, e.d.rebind(q), args...)
}

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { _ = r.Rows.Close() }

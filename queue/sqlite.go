package queue

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"

	"github.com/riverqueue/river/riverdriver/riversqlite"
	_ "modernc.org/sqlite" // driver "sqlite", pure Go
)

// OpenSQLite opens (creating and migrating as needed) the embedded store at
// path. SQLite allows one writer at a time, so the pool holds a single
// connection, as River's SQLite driver advises; WAL lets readers of other
// processes (a CLI inspecting the queue) run beside the daemon, and
// busy_timeout makes such a second process wait instead of failing.
func OpenSQLite(ctx context.Context, path string, o Options) (Queue, error) {
	o = o.withDefaults()
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("queue: open sqlite: %w", err)
	}
	db.SetMaxOpenConns(1)
	db.SetConnMaxIdleTime(0)
	db.SetConnMaxLifetime(0)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("queue: open sqlite %s: %w", path, err)
	}
	d := dialect{name: "sqlite", timeAsText: true}
	driver := riversqlite.New(db)
	stmts := &preparedStatements{}
	b := backend[*sql.Tx]{
		dialect: d,
		pool:    sqlExec{q: db, d: d, stmts: stmts},
		begin: func(ctx context.Context) (*sql.Tx, execer, error) {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				return nil, nil, err
			}
			return tx, sqlExec{q: tx, tx: tx, d: d, stmts: stmts}, nil
		},
		commit:   func(_ context.Context, tx *sql.Tx) error { return tx.Commit() },
		rollback: func(_ context.Context, tx *sql.Tx) error { return tx.Rollback() },
		close:    func() { _ = db.Close() },
	}
	if err := migrate(ctx, b, driver, true, o); err != nil {
		_ = db.Close()
		return nil, err
	}
	// After migrating (the tables must exist), before any transaction: a
	// statement prepared on the pool inside a transaction would wait for
	// the one connection the transaction holds.
	if err := stmts.prepare(ctx, db, hotQueries); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("queue: prepare statements: %w", err)
	}
	s, err := newStore(b, driver, o)
	if err != nil {
		_ = db.Close()
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
	tx    *sql.Tx // set when q is a transaction
	d     dialect
	stmts *preparedStatements
}

// runner returns the prepared statement of q (bound to the transaction,
// if any), or nil for a statement that is not prepared.
func (e sqlExec) runner(ctx context.Context, q string) *sql.Stmt {
	st := e.stmts.get(q)
	if st != nil && e.tx != nil {
		st = e.tx.StmtContext(ctx, st)
	}
	return st
}

func (e sqlExec) exec(ctx context.Context, q string, args ...any) (int64, error) {
	var res sql.Result
	var err error
	if st := e.runner(ctx, q); st != nil {
		res, err = st.ExecContext(ctx, args...)
	} else {
		res, err = e.q.ExecContext(ctx, e.d.rebind(q), args...)
	}
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (e sqlExec) query(ctx context.Context, q string, args ...any) (rowsIter, error) {
	var rows *sql.Rows
	var err error
	if st := e.runner(ctx, q); st != nil {
		rows, err = st.QueryContext(ctx, args...)
	} else {
		rows, err = e.q.QueryContext(ctx, e.d.rebind(q), args...)
	}
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

func (e sqlExec) queryRow(ctx context.Context, q string, args ...any) rowScanner {
	if st := e.runner(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return e.q.QueryRowContext(ctx, e.d.rebind(q), args...)
}

// preparedStatements holds the statements run for every entry or
// delivery, prepared once: SQLite otherwise compiles each statement on
// every call, which was a tenth of the gateway's CPU time.
type preparedStatements struct {
	byQuery map[string]*sql.Stmt // written once, before use
}

func (p *preparedStatements) prepare(ctx context.Context, db *sql.DB, queries []string) error {
	p.byQuery = make(map[string]*sql.Stmt, len(queries))
	for _, q := range queries {
		st, err := db.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("%w: %s", err, q)
		}
		p.byQuery[q] = st
	}
	return nil
}

func (p *preparedStatements) get(q string) *sql.Stmt {
	if p == nil {
		return nil
	}
	return p.byQuery[q]
}

func (p *preparedStatements) close() {
	if p == nil {
		return
	}
	for _, st := range p.byQuery {
		_ = st.Close()
	}
}

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { _ = r.Rows.Close() }

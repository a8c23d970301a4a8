package queue

import (
	"context"
	"database/sql/driver"
	"errors"
	"sync"

	"modernc.org/sqlite"
)

// The modernc driver compiles a statement on every unprepared call, and
// River's SQLite driver never prepares: compiling its completion, fetch and
// insert statements was a tenth of the gateway's CPU. The connector below
// keeps each connection's statements compiled, by their text, for River's
// statements and ours alike.

// maxCachedStatements bounds a connection's cache; the queue runs a few
// dozen distinct statements, and past the bound a statement is compiled
// per call as before.
const maxCachedStatements = 256

// sqliteConn is what the modernc connection implements and database/sql
// uses; the caching connection keeps all of it.
type sqliteConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// cachedStmt is a compiled statement; busy while rows of it are open (a
// statement has one cursor, so a second query of the same text meanwhile
// is compiled on its own).
type cachedStmt struct {
	stmt interface {
		driver.Stmt
		driver.StmtExecContext
		driver.StmtQueryContext
	}
	busy bool
}

type stmtCachingConnector struct{ base driver.Connector }

func newStmtCachingConnector(dsn string) (driver.Connector, error) {
	base, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	return stmtCachingConnector{base}, nil
}

func (c stmtCachingConnector) Driver() driver.Driver { return c.base.Driver() }

func (c stmtCachingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.base.Connect(ctx)
	if err != nil {
		return nil, err
	}
	sc, ok := conn.(sqliteConn)
	if !ok {
		_ = conn.Close()
		return nil, errors.New("queue: the sqlite driver's connection lacks an interface the statement cache needs")
	}
	return &stmtCachingConn{sqliteConn: sc, stmts: map[string]*cachedStmt{}}, nil
}

// stmtCachingConn is used by one goroutine at a time (database/sql's
// guarantee for a driver connection), so its cache needs no lock of its
// own; mu guards only the busy flags, which rows clear when closed.
type stmtCachingConn struct {
	sqliteConn
	mu    sync.Mutex
	stmts map[string]*cachedStmt
}

// take returns the compiled statement of query, marked busy when it is for
// a query, or nil when it cannot be used now.
func (c *stmtCachingConn) take(ctx context.Context, query string, forRows bool) *cachedStmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	cs, ok := c.stmts[query]
	if !ok {
		if len(c.stmts) >= maxCachedStatements {
			return nil
		}
		st, err := c.sqliteConn.PrepareContext(ctx, query)
		if err != nil {
			return nil // the uncached call reports the error
		}
		s, ok := st.(interface {
			driver.Stmt
			driver.StmtExecContext
			driver.StmtQueryContext
		})
		if !ok {
			_ = st.Close()
			return nil
		}
		cs = &cachedStmt{stmt: s}
		c.stmts[query] = cs
	}
	if cs.busy {
		return nil
	}
	if forRows {
		cs.busy = true
	}
	return cs
}

func (c *stmtCachingConn) release(cs *cachedStmt) {
	c.mu.Lock()
	cs.busy = false
	c.mu.Unlock()
}

func (c *stmtCachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	cs := c.take(ctx, query, false)
	if cs == nil {
		return c.sqliteConn.ExecContext(ctx, query, args)
	}
	return cs.stmt.ExecContext(ctx, args)
}

func (c *stmtCachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	cs := c.take(ctx, query, true)
	if cs == nil {
		return c.sqliteConn.QueryContext(ctx, query, args)
	}
	rows, err := cs.stmt.QueryContext(ctx, args)
	if err != nil {
		c.release(cs)
		return nil, err
	}
	return &releasingRows{Rows: rows, release: func() { c.release(cs) }}, nil
}

func (c *stmtCachingConn) Close() error {
	c.mu.Lock()
	for q, cs := range c.stmts {
		_ = cs.stmt.Close()
		delete(c.stmts, q)
	}
	c.mu.Unlock()
	return c.sqliteConn.Close()
}

// releasingRows frees its statement for the next query when closed.
type releasingRows struct {
	driver.Rows
	once    sync.Once
	release func()
}

func (r *releasingRows) Close() error {
	err := r.Rows.Close()
	r.once.Do(r.release)
	return err
}

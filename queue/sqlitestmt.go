package queue

import (
	"context"
	"database/sql/driver"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"modernc.org/sqlite"
)

// The modernc driver compiles a statement on every unprepared call, and
// River's SQLite driver never prepares: compiling its completion, fetch and
// insert statements was a tenth of the gateway's CPU. The connector below
// keeps each connection's statements compiled, by their text, for River's
// statements and ours alike.

// SQLite 3.54 compiles a LIMIT that is a parameter for the value bound to
// it, and compiles the statement again at the first step after that value
// changes. River's fetch binds its free worker slots as the LIMIT, a
// different number on most calls, so its cached statement was compiled
// again on most fetches (sqlite3Reprepare, 1.9 s of a 10,000-entry run's
// 52 s of gateway CPU). A statement with a numbered parameter as a LIMIT
// (sqlc writes River's as ?N) is therefore kept compiled once per value of
// it: River's limits are 1 to the worker count.
var limitParameter = regexp.MustCompile(`(?i)\bLIMIT\s+\?(\d+)\b`)

// limitOrdinals lists the parameters of query that are a LIMIT.
func limitOrdinals(query string) []int {
	var out []int
	for _, m := range limitParameter.FindAllStringSubmatch(query, -1) {
		if n, err := strconv.Atoi(m[1]); err == nil && n > 0 {
			out = append(out, n)
		}
	}
	return out
}

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
	return &stmtCachingConn{sqliteConn: sc, stmts: map[string]*cachedStmt{}, limits: map[string][]int{}}, nil
}

// stmtCachingConn is used by one goroutine at a time (database/sql's
// guarantee for a driver connection), so its cache needs no lock of its
// own; mu guards only the busy flags, which rows clear when closed.
type stmtCachingConn struct {
	sqliteConn
	mu     sync.Mutex
	stmts  map[string]*cachedStmt // by cacheKey
	limits map[string][]int       // by query: its LIMIT parameters
}

// cacheKey is query, followed by the values bound to its LIMIT parameters.
func (c *stmtCachingConn) cacheKey(query string, args []driver.NamedValue) string {
	ords, ok := c.limits[query]
	if !ok {
		ords = limitOrdinals(query)
		if len(c.limits) < maxCachedStatements {
			c.limits[query] = ords
		}
	}
	if len(ords) == 0 {
		return query
	}
	var b strings.Builder
	b.WriteString(query)
	for _, n := range ords {
		b.WriteByte(0)
		for _, a := range args {
			if a.Ordinal == n {
				if v, ok := a.Value.(int64); ok {
					b.WriteString(strconv.FormatInt(v, 10))
				}
			}
		}
	}
	return b.String()
}

// take returns the compiled statement of query, marked busy when it is for
// a query, or nil when it cannot be used now.
func (c *stmtCachingConn) take(ctx context.Context, query string, args []driver.NamedValue, forRows bool) *cachedStmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := c.cacheKey(query, args)
	cs, ok := c.stmts[key]
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
		c.stmts[key] = cs
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
	cs := c.take(ctx, query, args, false)
	if cs == nil {
		return c.sqliteConn.ExecContext(ctx, query, args)
	}
	return cs.stmt.ExecContext(ctx, args)
}

func (c *stmtCachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	cs := c.take(ctx, query, args, true)
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

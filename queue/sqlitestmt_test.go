package queue

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"io"
	"path/filepath"
	"slices"
	"testing"

	"modernc.org/sqlite"
)

// withCachingConn runs fn on one caching connection to a new database.
func withCachingConn(t *testing.T, fn func(c *stmtCachingConn) error) {
	t.Helper()
	connector, err := newStmtCachingConnector("file:" + filepath.Join(t.TempDir(), "cache.db"))
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Raw(func(dc any) error { return fn(dc.(*stmtCachingConn)) }); err != nil {
		t.Fatal(err)
	}
}

// readInts returns the rows' first column.
func readInts(rows driver.Rows) []int64 {
	var out []int64
	dest := make([]driver.Value, 1)
	for rows.Next(dest) != io.EOF {
		out = append(out, dest[0].(int64))
	}
	return out
}

// Statements are compiled once per connection and reused; a query of the
// same text while the first one's rows are open gets a statement of its
// own, and both cursors read right.
func TestStatementCache(t *testing.T) {
	ctx := context.Background()
	arg := func(v int64) []driver.NamedValue { return []driver.NamedValue{{Ordinal: 1, Value: v}} }
	withCachingConn(t, func(c *stmtCachingConn) error {
		if _, err := c.ExecContext(ctx, `CREATE TABLE t (n INTEGER)`, nil); err != nil {
			return err
		}
		for i := int64(1); i <= 3; i++ {
			if _, err := c.ExecContext(ctx, `INSERT INTO t (n) VALUES (?)`, arg(i)); err != nil {
				return err
			}
		}
		if cs := c.stmts[`INSERT INTO t (n) VALUES (?)`]; cs == nil || cs.busy {
			t.Errorf("insert statement not cached or left busy: %+v", cs)
		}
		const q = `SELECT n FROM t WHERE n >= ? ORDER BY n`
		outer, err := c.QueryContext(ctx, q, arg(1))
		if err != nil {
			return err
		}
		if !c.stmts[q].busy {
			t.Error("statement with open rows is not marked busy")
		}
		inner, err := c.QueryContext(ctx, q, arg(2))
		if err != nil {
			return err
		}
		if _, ok := inner.(*releasingRows); ok {
			t.Error("the second query shares the busy statement")
		}
		gotInner, gotOuter := readInts(inner), readInts(outer)
		inner.Close()
		outer.Close()
		if len(gotOuter) != 3 || len(gotInner) != 2 || gotInner[0] != 2 {
			t.Errorf("outer %v inner %v", gotOuter, gotInner)
		}
		if c.stmts[q].busy {
			t.Error("closed rows left the statement busy")
		}
		again, err := c.QueryContext(ctx, q, arg(3))
		if err != nil {
			return err
		}
		if _, ok := again.(*releasingRows); !ok {
			t.Error("the cached statement is not reused after its rows closed")
		}
		if got := readInts(again); len(got) != 1 || got[0] != 3 {
			t.Errorf("n >= 3: %v", got)
		}
		return again.Close()
	})
}

// A statement whose LIMIT is a parameter is compiled once per limit value:
// SQLite 3.54 compiles such a statement again whenever the value bound to
// its LIMIT changes, which River's fetch does on most calls (its free
// worker slots). The authorizer is called at every compile, so it counts
// them.
func TestStatementCacheKeepsOnePlanPerLimit(t *testing.T) {
	ctx := context.Background()
	withCachingConn(t, func(c *stmtCachingConn) error {
		if _, err := c.ExecContext(ctx, `CREATE TABLE t (n INTEGER PRIMARY KEY, state TEXT)`, nil); err != nil {
			return err
		}
		for i := int64(1); i <= 20; i++ {
			if _, err := c.ExecContext(ctx, `INSERT INTO t (n, state) VALUES (?1, 'available')`, []driver.NamedValue{{Ordinal: 1, Value: i}}); err != nil {
				return err
			}
		}
		compiles := 0
		reg, ok := c.sqliteConn.(sqlite.AuthorizerRegisterer)
		if !ok {
			t.Fatal("the sqlite connection has no authorizer")
		}
		if err := reg.RegisterAuthorizer(func(action sqlite.AuthorizerActionCode, _, _, _, _ string) sqlite.AuthorizerReturnCode {
			if action == sqlite.AuthUpdate {
				compiles++ // once per compile: the statement updates one column
			}
			return sqlite.AuthorizerOK
		}); err != nil {
			return err
		}
		// The shape of River's fetch: an UPDATE of the rows a LIMITed
		// subquery picks, RETURNING them.
		const fetch = `UPDATE t SET state = 'available' WHERE n IN (
			SELECT n FROM t WHERE state = ?1 ORDER BY n LIMIT ?2) RETURNING n`
		for i := range 40 {
			limit := int64(1 + i%4)
			rows, err := c.QueryContext(ctx, fetch, []driver.NamedValue{{Ordinal: 1, Value: "available"}, {Ordinal: 2, Value: limit}})
			if err != nil {
				return err
			}
			n := len(readInts(rows))
			rows.Close()
			if int64(n) != limit {
				t.Errorf("LIMIT %d returned %d rows", limit, n)
			}
		}
		// Per limit: the prepare, and the compile at the first step after
		// the first binding (which changes the LIMIT from none).
		if compiles > 8 {
			t.Errorf("40 runs with 4 different limits compiled the statement %d times, want at most 8 (twice per limit)", compiles)
		}
		return nil
	})
}

func TestLimitOrdinals(t *testing.T) {
	for q, want := range map[string][]int{
		`SELECT 1 LIMIT ?5`:                          {5},
		"SELECT id FROM t\n    LIMIT ?11\n)":         {11},
		`SELECT 1 FROM (SELECT 1 limit ?2) LIMIT ?3`: {2, 3},
		`SELECT 1 LIMIT ?`:                           nil, // unnumbered: not keyed
		`SELECT 1 LIMIT ?4 - 1`:                      {4}, // compiled per value of ?4 too; harmless
		`SELECT 1 LIMIT 1`:                           nil,
		`SELECT unlimited FROM t WHERE x = ?1`:       nil,
	} {
		if got := limitOrdinals(q); !slices.Equal(got, want) {
			t.Errorf("limitOrdinals(%q) = %v, want %v", q, got, want)
		}
	}
}

// BenchmarkLimitedFetch runs a statement of the shape of River's fetch
// with its LIMIT changing between calls, as the free worker slots do.
//
//	go test ./queue -run '^$' -bench LimitedFetch
func BenchmarkLimitedFetch(b *testing.B) {
	ctx := context.Background()
	connector, err := newStmtCachingConnector("file:" + filepath.Join(b.TempDir(), "fetch.db"))
	if err != nil {
		b.Fatal(err)
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (n INTEGER PRIMARY KEY, state TEXT, queue TEXT, priority INTEGER, scheduled_at TEXT);
		CREATE INDEX t_fetch ON t (state, queue, priority, scheduled_at, n)`); err != nil {
		b.Fatal(err)
	}
	const fetch = `UPDATE t SET state = 'available' WHERE n IN (
		SELECT n FROM t WHERE priority >= 0 AND queue = ?1 AND scheduled_at <= coalesce(cast(?2 AS text), datetime('now', 'subsec'))
		AND state = 'available' ORDER BY priority, scheduled_at, n LIMIT ?3) RETURNING n, state, queue, priority, scheduled_at`
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		rows, err := db.QueryContext(ctx, fetch, "default", "2026-09-01 00:00:00", int64(1+i%16))
		if err != nil {
			b.Fatal(err)
		}
		rows.Close()
	}
}

package queue

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"io"
	"path/filepath"
	"testing"
)

// Statements are compiled once per connection and reused; a query of the
// same text while the first one's rows are open gets a statement of its
// own, and both cursors read right.
func TestStatementCache(t *testing.T) {
	ctx := context.Background()
	connector, err := newStmtCachingConnector("file:" + filepath.Join(t.TempDir(), "cache.db"))
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	arg := func(v int64) []driver.NamedValue { return []driver.NamedValue{{Ordinal: 1, Value: v}} }
	read := func(rows driver.Rows) []int64 {
		var out []int64
		dest := make([]driver.Value, 1)
		for rows.Next(dest) != io.EOF {
			out = append(out, dest[0].(int64))
		}
		return out
	}
	err = conn.Raw(func(dc any) error {
		c := dc.(*stmtCachingConn)
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
		gotInner, gotOuter := read(inner), read(outer)
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
		if got := read(again); len(got) != 1 || got[0] != 3 {
			t.Errorf("n >= 3: %v", got)
		}
		return again.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
}

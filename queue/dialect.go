package queue

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// rowScanner is one result row (database/sql and pgx alike).
type rowScanner interface {
	Scan(dest ...any) error
}

// rowsIter is a result set (database/sql and pgx alike).
type rowsIter interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// execer runs our own SQL on a pool or inside a transaction. Queries are
// written with ? placeholders; the dialect rewrites them.
type execer interface {
	exec(ctx context.Context, q string, args ...any) (int64, error)
	query(ctx context.Context, q string, args ...any) (rowsIter, error)
	queryRow(ctx context.Context, q string, args ...any) rowScanner
}

// dialect is what differs between SQLite and PostgreSQL in our own SQL.
type dialect struct {
	name string
	// numbered rewrites ? to $1, $2, ...
	numbered bool
	// timeAsText stores times as River's SQLite text format, which sorts
	// and compares correctly against River's own columns.
	timeAsText bool
	// shareLock ends a SELECT that must hold its rows until the
	// transaction ends ("" where transactions are serial anyway).
	shareLock string
}

func (d dialect) rebind(q string) string {
	if !d.numbered {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// sqliteTimeFormat is River's SQLite timestamp format; any other format
// stores fine and then compares wrongly.
const sqliteTimeFormat = "2006-01-02 15:04:05.000"

// t converts a time to a query argument.
func (d dialect) t(t time.Time) any {
	if d.timeAsText {
		return t.UTC().Round(time.Millisecond).Format(sqliteTimeFormat)
	}
	return t.UTC()
}

// dbTime scans a timestamp however the driver hands it over: time.Time, or
// text from SQLite (aggregates lose the column type), or NULL (zero).
type dbTime struct{ time.Time }

func (t *dbTime) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		t.Time = time.Time{}
	case time.Time:
		t.Time = x.UTC()
	case string:
		return t.parse(x)
	case []byte:
		return t.parse(string(x))
	default:
		return fmt.Errorf("queue: cannot scan %T as time", v)
	}
	return nil
}

func (t *dbTime) parse(s string) error {
	for _, layout := range []string{sqliteTimeFormat, "2006-01-02 15:04:05.999999999-07:00", "2006-01-02 15:04:05", time.RFC3339Nano} {
		if p, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			t.Time = p.UTC()
			return nil
		}
	}
	return fmt.Errorf("queue: cannot parse time %q", s)
}

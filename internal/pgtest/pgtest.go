// Package pgtest is the one way tests reach PostgreSQL: the server named by
// KANTA_TEST_POSTGRES_DSN (scripts/test.sh sets it and starts the server),
// one fresh schema per test. A test that needs PostgreSQL fails when the
// variable is unset or the server unreachable: the PostgreSQL backend is
// never silently left untested.
package pgtest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvDSN names the variable holding the test server's DSN.
const EnvDSN = "KANTA_TEST_POSTGRES_DSN"

// DSN is the test server's DSN; the test fails when it is not set.
func DSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(EnvDSN)
	if dsn == "" {
		t.Fatalf("%s is not set: this test needs PostgreSQL (run scripts/test.sh, or set it, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)", EnvDSN)
	}
	return dsn
}

var seq atomic.Int64

// Schema creates a schema of its own for the test, dropped when the test
// ends, and returns a DSN whose search_path is that schema. prefix says
// whose schemas they are when one is left behind (a killed run).
func Schema(t testing.TB, prefix string) string {
	t.Helper()
	base := DSN(t)
	schema := fmt.Sprintf("%s_%d_%d_%d", prefix, os.Getpid(), time.Now().UnixNano()%1e12, seq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("PostgreSQL is required for this test and is unreachable (%s): %v", EnvDSN, err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		t.Fatalf("create schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if c, err := pgx.Connect(ctx, base); err == nil {
			_, _ = c.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
			_ = c.Close(ctx)
		}
	})
	return WithSearchPath(base, schema)
}

// WithSearchPath adds search_path=schema to a URL-form DSN.
func WithSearchPath(dsn, schema string) string {
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	return dsn + sep + "search_path=" + schema
}

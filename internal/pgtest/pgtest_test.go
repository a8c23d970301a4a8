package pgtest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestWithSearchPath(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u@h/db":                 "postgres://u@h/db?search_path=s",
		"postgres://u@h/db?sslmode=disable": "postgres://u@h/db?sslmode=disable&search_path=s",
	} {
		if got := WithSearchPath(in, "s"); got != want {
			t.Errorf("WithSearchPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// A schema is the test's own: tables land in it, and it is gone after.
func TestSchemaIsFreshAndDropped(t *testing.T) {
	var name string
	t.Run("use", func(t *testing.T) {
		dsn := Schema(t, "pgtest")
		ctx := context.Background()
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "CREATE TABLE probe (n int)"); err != nil {
			t.Fatal(err)
		}
		if err := c.QueryRow(ctx, "SELECT table_schema FROM information_schema.tables WHERE table_name = 'probe' AND table_schema LIKE 'pgtest_%'").Scan(&name); err != nil {
			t.Fatalf("the table is not in a pgtest schema: %v", err)
		}
	})
	ctx := context.Background()
	c, err := pgx.Connect(ctx, DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var n int
	if err := c.QueryRow(ctx, "SELECT count(*) FROM information_schema.schemata WHERE schema_name = $1", name).Scan(&n); err != nil || n != 0 {
		t.Fatalf("schema %s still there after its test (%d, %v)", name, n, err)
	}
}

package queue

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/internal/pgtest"
)

// riverSchema reads River's schema as a backend has it after River's
// migrations ran.
type riverSchema struct {
	name string
	// columns of a table: name -> its type and nullability.
	columns func(ctx context.Context, table string) (map[string]schemaColumn, error)
	// jobStates are the values River's schema allows in river_job.state.
	jobStates func(ctx context.Context) ([]string, error)
	// compile compiles a statement against the schema without running it.
	compile func(ctx context.Context, stmt string) error
	// typeOf is riverColumn's type on this backend.
	typeOf func(c riverColumn) string
}

type schemaColumn struct {
	typ      string
	nullable bool
}

func sqliteRiverSchema(t *testing.T) riverSchema {
	q, err := OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "gateway.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.Close() })
	pool := q.(*store[*sql.Tx]).b.pool
	return riverSchema{
		name: "sqlite",
		columns: func(ctx context.Context, table string) (map[string]schemaColumn, error) {
			rows, err := pool.query(ctx, `SELECT name, type, "notnull", pk FROM pragma_table_info(?)`, table)
			if err != nil {
				return nil, err
			}
			defer rows.Close()
			out := map[string]schemaColumn{}
			for rows.Next() {
				var name, typ string
				var notNull, pk int
				if err := rows.Scan(&name, &typ, &notNull, &pk); err != nil {
					return nil, err
				}
				// An INTEGER PRIMARY KEY is the rowid: never NULL, though
				// the pragma does not say NOT NULL.
				out[name] = schemaColumn{typ: strings.ToLower(typ), nullable: notNull == 0 && pk == 0}
			}
			return out, rows.Err()
		},
		jobStates: func(ctx context.Context) ([]string, error) {
			var ddl string
			if err := pool.queryRow(ctx, `SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'river_job'`).Scan(&ddl); err != nil {
				return nil, err
			}
			// River's SQLite schema has no enum: a CHECK constraint names
			// the states.
			m := regexp.MustCompile(`CONSTRAINT state_valid CHECK \(state IN \(([^)]*)\)\)`).FindStringSubmatch(ddl)
			if m == nil {
				return nil, fmt.Errorf("river_job has no state_valid CHECK constraint: %s", ddl)
			}
			var states []string
			for _, v := range strings.Split(m[1], ",") {
				states = append(states, strings.Trim(strings.TrimSpace(v), "'"))
			}
			return states, nil
		},
		compile: func(ctx context.Context, stmt string) error {
			// EXPLAIN compiles the statement and runs nothing of it.
			rows, err := pool.query(ctx, "EXPLAIN "+stmt, make([]any, strings.Count(stmt, "?"))...)
			if err != nil {
				return err
			}
			rows.Close()
			return rows.Err()
		},
		typeOf: func(c riverColumn) string { return c.sqlite },
	}
}

func postgresRiverSchema(t *testing.T) riverSchema {
	q, err := OpenPostgres(context.Background(), pgtest.Schema(t, "rt"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.Close() })
	s := q.(*store[pgx.Tx])
	pool := s.b.pool
	return riverSchema{
		name: "postgres",
		columns: func(ctx context.Context, table string) (map[string]schemaColumn, error) {
			rows, err := pool.query(ctx, `SELECT column_name, udt_name, is_nullable FROM information_schema.columns
				WHERE table_schema = current_schema() AND table_name = ?`, table)
			if err != nil {
				return nil, err
			}
			defer rows.Close()
			out := map[string]schemaColumn{}
			for rows.Next() {
				var name, typ, nullable string
				if err := rows.Scan(&name, &typ, &nullable); err != nil {
					return nil, err
				}
				out[name] = schemaColumn{typ: typ, nullable: nullable == "YES"}
			}
			return out, rows.Err()
		},
		jobStates: func(ctx context.Context) ([]string, error) {
			// The enum of river_job.state, in this test's schema.
			rows, err := pool.query(ctx, `SELECT e.enumlabel FROM pg_enum e
				JOIN pg_type t ON t.oid = e.enumtypid JOIN pg_namespace n ON n.oid = t.typnamespace
				JOIN information_schema.columns c ON c.udt_schema = n.nspname AND c.udt_name = t.typname
				WHERE c.table_schema = current_schema() AND c.table_name = 'river_job' AND c.column_name = 'state'
				ORDER BY e.enumsortorder`)
			if err != nil {
				return nil, err
			}
			defer rows.Close()
			var states []string
			for rows.Next() {
				var v string
				if err := rows.Scan(&v); err != nil {
					return nil, err
				}
				states = append(states, v)
			}
			return states, rows.Err()
		},
		compile: func(ctx context.Context, stmt string) error {
			// Parsing and describing an unnamed statement resolves every
			// table and column and runs nothing.
			conn, err := pool.(pgxExec).q.(*pgxpool.Pool).Acquire(ctx)
			if err != nil {
				return err
			}
			defer conn.Release()
			_, err = conn.Conn().PgConn().Prepare(ctx, "", s.b.dialect.rebind(stmt), nil)
			return err
		},
		typeOf: func(c riverColumn) string { return c.postgres },
	}
}

// checkRiverColumns reports every column of want that River's schema lacks
// or has with another type or nullability.
func checkRiverColumns(ctx context.Context, sc riverSchema, want []riverColumn) []error {
	var errs []error
	tables := map[string]map[string]schemaColumn{}
	for _, c := range want {
		have, ok := tables[c.table]
		if !ok {
			var err error
			if have, err = sc.columns(ctx, c.table); err != nil {
				return append(errs, fmt.Errorf("columns of %s: %w", c.table, err))
			}
			tables[c.table] = have
		}
		got, ok := have[c.column]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("%s.%s: no such column", c.table, c.column))
		case got.typ != sc.typeOf(c):
			errs = append(errs, fmt.Errorf("%s.%s is %s, we assume %s", c.table, c.column, got.typ, sc.typeOf(c)))
		case got.nullable != c.nullable:
			errs = append(errs, fmt.Errorf("%s.%s: nullable %v, we assume %v", c.table, c.column, got.nullable, c.nullable))
		}
	}
	return errs
}

// checkRiverStates reports every state of want that River's schema does
// not allow.
func checkRiverStates(ctx context.Context, sc riverSchema, want []string) []error {
	have, err := sc.jobStates(ctx)
	if err != nil {
		return []error{fmt.Errorf("job states: %w", err)}
	}
	var errs []error
	for _, st := range want {
		if !slices.Contains(have, st) {
			errs = append(errs, fmt.Errorf("job state %q: River allows %q", st, have))
		}
	}
	return errs
}

// checkRiverStatements reports every statement that does not compile
// against River's schema (a misspelled or dropped column or table).
func checkRiverStatements(ctx context.Context, sc riverSchema, stmts map[string]string) []error {
	var errs []error
	for name, stmt := range stmts {
		if err := sc.compile(ctx, stmt); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	return errs
}

// checkColumnsListed reports every column of River's table that a
// statement names and used does not list, so that a statement taking up a
// new column of River's extends the assumptions the test pins.
func checkColumnsListed(ctx context.Context, sc riverSchema, table string, stmts map[string]string, used []riverColumn) []error {
	have, err := sc.columns(ctx, table)
	if err != nil {
		return []error{err}
	}
	var errs []error
	for col := range have {
		listed := slices.ContainsFunc(used, func(c riverColumn) bool { return c.table == table && c.column == col })
		word := regexp.MustCompile(`\b` + regexp.QuoteMeta(col) + `\b`)
		for name, stmt := range stmts {
			if !listed && strings.Contains(stmt, table) && word.MatchString(stmt) {
				errs = append(errs, fmt.Errorf("%s uses %s.%s, which riverColumnsUsed does not list", name, table, col))
			}
		}
	}
	return errs
}

func failOn(t *testing.T, errs []error) {
	t.Helper()
	for _, err := range errs {
		t.Error(err)
	}
}

// What river_tables.go assumes of River's schema holds on both backends,
// after River's migrations ran; and each check fails on a wrong
// assumption.
func TestRiverSchemaAssumptions(t *testing.T) {
	for _, backend := range []struct {
		name   string
		schema func(t *testing.T) riverSchema
	}{
		{"SQLite", sqliteRiverSchema},
		{"PostgreSQL", postgresRiverSchema},
	} {
		t.Run(backend.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			sc := backend.schema(t)

			t.Run("ColumnsAndTypes", func(t *testing.T) {
				failOn(t, checkRiverColumns(ctx, sc, riverColumnsUsed))
			})
			t.Run("JobStates", func(t *testing.T) {
				failOn(t, checkRiverStates(ctx, sc, riverJobStatesUsed))
			})
			t.Run("StatementsCompile", func(t *testing.T) {
				failOn(t, checkRiverStatements(ctx, sc, riverStatements))
			})
			t.Run("EveryColumnUsedIsListed", func(t *testing.T) {
				failOn(t, checkColumnsListed(ctx, sc, "river_job", riverStatements, riverColumnsUsed))
			})

			// The checks can fail: a misspelled column, a wrong type or
			// nullability, a state River does not have, a statement on a
			// column River lacks, a column used and not listed.
			t.Run("WrongAssumptionsFail", func(t *testing.T) {
				bogus := []riverColumn{
					{"river_job", "sheduled_at", "timestamp", "timestamptz", false},
					{"river_job", "kind", "integer", "int4", false},
					{"river_job", "attempted_at", "timestamp", "timestamptz", false},
					{"river_jobs", "id", "integer", "int8", false},
				}
				if errs := checkRiverColumns(ctx, sc, bogus); len(errs) != len(bogus) {
					t.Errorf("%d wrong columns gave %d errors: %v", len(bogus), len(errs), errs)
				}
				if errs := checkRiverStates(ctx, sc, []string{"available", "finished"}); len(errs) != 1 || !strings.Contains(errs[0].Error(), "finished") {
					t.Errorf("the state finished: %v", errs)
				}
				misspelled := map[string]string{"wake": strings.Replace(qWakeJob, "scheduled_at", "sheduled_at", 1)}
				if errs := checkRiverStatements(ctx, sc, misspelled); len(errs) != 1 {
					t.Errorf("a statement on river_job.sheduled_at compiled: %v", errs)
				}
				withPriority := map[string]string{"by priority": `SELECT id FROM river_job WHERE priority = 1`}
				if errs := checkColumnsListed(ctx, sc, "river_job", withPriority, riverColumnsUsed); len(errs) != 1 || !strings.Contains(errs[0].Error(), "priority") {
					t.Errorf("river_job.priority used and not listed: %v", errs)
				}
			})
		})
	}
}

// On SQLite our time arguments are text compared with River's: River must
// store its timestamps as text in sqliteTimeFormat.
func TestRiverSQLiteTimesAreText(t *testing.T) {
	ctx := context.Background()
	q, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "gateway.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	held := time.Now().Add(48 * time.Hour)
	rec := LedgerRecord{EntryID: "E1", Revision: 1, Outcome: documents.OutcomeHold}
	d := Delivery{DocumentID: "D1", SetID: "S1", Version: 1, Route: RouteCDA, Payload: []byte("x"), NotBefore: held, HeldUntilGoLive: true}
	if err := q.Ingest(ctx, rec, []Delivery{d}); err != nil {
		t.Fatal(err)
	}
	var kind, text string
	pool := q.(*store[*sql.Tx]).b.pool
	// The cast: the driver hands a timestamp column over as time.Time, which
	// would hide the text stored.
	if err := pool.queryRow(ctx, `SELECT typeof(scheduled_at), cast(scheduled_at AS text) FROM river_job`).Scan(&kind, &text); err != nil {
		t.Fatal(err)
	}
	if kind != "text" {
		t.Fatalf("river_job.scheduled_at is stored as %s, not text", kind)
	}
	at, err := time.ParseInLocation(sqliteTimeFormat, text, time.UTC)
	if err != nil {
		t.Fatalf("River's scheduled_at %q is not in sqliteTimeFormat: %v", text, err)
	}
	if got := at.Format(sqliteTimeFormat); got != text {
		t.Errorf("River's scheduled_at %q reads back as %q", text, got)
	}
	if diff := at.Sub(held); diff < -time.Second || diff > time.Second {
		t.Errorf("scheduled_at %s, held until %s", at, held.UTC())
	}
}

// Migration 4 raises River's max_attempts to the ceiling the worker
// counts under, for delivery jobs only.
func TestMigrationAttemptCeilingNamesOurJobs(t *testing.T) {
	for _, want := range []string{"kind = '" + JobKind + "'", "max_attempts = " + strconv.Itoa(riverAttemptCeiling), "max_attempts < " + strconv.Itoa(riverAttemptCeiling)} {
		if !strings.Contains(qMigrationAttemptCeiling, want) {
			t.Errorf("migration 4 lacks %q: %s", want, qMigrationAttemptCeiling)
		}
	}
}

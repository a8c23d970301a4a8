package queue

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
)

// OpenPostgres opens (migrating as needed) the store shared by replicas.
// Tables live in the connection's search_path (set it in the DSN, e.g.
// ?search_path=kanta, to keep them in their own schema).
func OpenPostgres(ctx context.Context, dsn string, o Options) (Queue, error) {
	o = o.withDefaults()
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("queue: postgres config: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, Unavailable(fmt.Errorf("queue: connect postgres: %w", err))
	}
	d := dialect{name: "postgres", numbered: true, shareLock: " FOR SHARE"}
	driver := riverpgxv5.New(pool)
	b := backend[pgx.Tx]{
		dialect: d,
		pool:    pgxExec{q: pool, d: d},
		begin: func(ctx context.Context) (pgx.Tx, execer, error) {
			tx, err := pool.Begin(ctx)
			if err != nil {
				return nil, nil, err
			}
			return tx, pgxExec{q: tx, d: d}, nil
		},
		commit:   func(ctx context.Context, tx pgx.Tx) error { return tx.Commit(ctx) },
		rollback: func(ctx context.Context, tx pgx.Tx) error { return tx.Rollback(ctx) },
		close:    pool.Close,
	}
	if err := migratePostgres(ctx, pool, b, driver, o); err != nil {
		pool.Close()
		return nil, Unavailable(err)
	}
	s, err := newStore(b, driver, o)
	if err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

type pgxExec struct {
	q interface {
		Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
		Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
		QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	}
	d dialect
}

func (e pgxExec) exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := e.q.Exec(ctx, e.d.rebind(q), args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

func (e pgxExec) query(ctx context.Context, q string, args ...any) (rowsIter, error) {
	return e.q.Query(ctx, e.d.rebind(q), args...)
}

func (e pgxExec) queryRow(ctx context.Context, q string, args ...any) rowScanner {
	return e.q.QueryRow(ctx, e.d.rebind(q), args...)
}

// migratePostgres runs the migrations under a session advisory lock so that
// replicas starting together migrate one at a time.
func migratePostgres(ctx context.Context, pool *pgxpool.Pool, b backend[pgx.Tx], driver *riverpgxv5.Driver, o Options) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("queue: migration lock: %w", err)
	}
	defer conn.Release()
	const key = `hashtext('kanta-gateway schema migration')`
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(`+key+`)`); err != nil {
		return fmt.Errorf("queue: migration lock: %w", err)
	}
	defer func() { _, _ = conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(`+key+`)`) }()
	return migrate(ctx, b, driver, false, o)
}

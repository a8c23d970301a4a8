package queue

import (
	"context"
	"fmt"
	"strings"

	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivermigrate"
)

// migrate brings River's tables and ours up to date. With riverInTx
// (SQLite: an immediate transaction, which also serialises processes) all
// of it is one transaction. PostgreSQL cannot run River's migrations in one
// transaction (a new enum value is used by a later version), so there each
// River version commits on its own and the caller's lock, held around the
// whole run, keeps replicas starting together from migrating at once.
func migrate[TTx any](ctx context.Context, b backend[TTx], driver riverdriver.Driver[TTx], riverInTx bool, o Options) (err error) {
	migrator, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: o.Logger})
	if err != nil {
		return fmt.Errorf("queue: river migrator: %w", err)
	}
	if !riverInTx {
		if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
			return fmt.Errorf("queue: river migration: %w", err)
		}
	}
	tx, x, err := b.begin(ctx)
	if err != nil {
		return fmt.Errorf("queue: migrate: %w", err)
	}
	defer func() {
		if err != nil {
			_ = b.rollback(context.WithoutCancel(ctx), tx)
		}
	}()
	if riverInTx {
		if _, err = migrator.MigrateTx(ctx, tx, rivermigrate.DirectionUp, nil); err != nil {
			return fmt.Errorf("queue: river migration: %w", err)
		}
	}
	if err = migrateOwn(ctx, x, b.dialect); err != nil {
		return err
	}
	if err = b.commit(ctx, tx); err != nil {
		return fmt.Errorf("queue: migrate commit: %w", err)
	}
	return nil
}

// schemaCurrent reports whether River's migrations and ours are all
// applied, read over x and driver, which only read (SQLite's report
// connections). A process that finds them applied skips migrate: its
// immediate transaction waits for the writer of a daemon already running,
// which in a burst held `queue ls` up to 2.6 s before it read anything.
// Anything else (a new database, one migrated by a newer gateway or River,
// an error) goes to migrate, which decides under its lock as before.
func schemaCurrent[TTx any](ctx context.Context, x execer, driver riverdriver.Driver[TTx], o Options) bool {
	var own int
	if err := x.queryRow(ctx, `SELECT coalesce(max(version), 0) FROM gateway_schema_version`).Scan(&own); err != nil || own != len(schemaMigrations) {
		return false
	}
	migrator, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: o.Logger})
	if err != nil {
		return false
	}
	existing, err := migrator.ExistingVersions(ctx)
	if err != nil {
		return false
	}
	all := migrator.AllVersions()
	if len(existing) != len(all) {
		return false
	}
	for i := range all {
		if existing[i].Version != all[i].Version {
			return false
		}
	}
	return true
}

// schemaMigrations are our own tables (River migrates its own). Each entry
// is one version; {{ts}}, {{serial}} and {{blob}} are filled in per dialect. Append
// only: a shipped version never changes.
var schemaMigrations = []string{
	// 1: ledger, deliveries, audit
	`CREATE TABLE ledger (
	entry_id     TEXT NOT NULL,
	revision     INTEGER NOT NULL,
	file         TEXT NOT NULL DEFAULT '',
	line         INTEGER NOT NULL DEFAULT 0,
	outcome      TEXT NOT NULL,
	reason_class TEXT NOT NULL DEFAULT '',
	reason       TEXT NOT NULL DEFAULT '',
	archive      TEXT NOT NULL DEFAULT '',
	register     TEXT NOT NULL DEFAULT '',
	role         TEXT NOT NULL DEFAULT '',
	document_id  TEXT NOT NULL DEFAULT '',
	set_id       TEXT NOT NULL DEFAULT '',
	version      INTEGER NOT NULL DEFAULT 0,
	hetu         TEXT NOT NULL DEFAULT '',
	decided_at   {{ts}} NOT NULL,
	PRIMARY KEY (entry_id, revision)
);
CREATE TABLE deliveries (
	document_id TEXT PRIMARY KEY,
	set_id      TEXT NOT NULL,
	version     INTEGER NOT NULL,
	route       TEXT NOT NULL CHECK (route IN ('cda', 'fhir')),
	entry_id    TEXT NOT NULL,
	revision    INTEGER NOT NULL,
	role        TEXT NOT NULL DEFAULT '',
	held        INTEGER NOT NULL DEFAULT 0,
	state       TEXT NOT NULL CHECK (state IN ('queued', 'delivered', 'dead', 'cancelled')),
	ack_code    TEXT NOT NULL DEFAULT '',
	ack_detail  TEXT NOT NULL DEFAULT '',
	ack_text    TEXT NOT NULL DEFAULT '',
	wait_reason TEXT NOT NULL DEFAULT '',
	job_id      BIGINT NOT NULL,
	updated_at  {{ts}} NOT NULL,
	UNIQUE (set_id, version, route)
);
CREATE INDEX deliveries_job_id ON deliveries (job_id);
CREATE INDEX deliveries_held_role ON deliveries (role) WHERE held = 1 AND state = 'queued';
CREATE TABLE audit (
	id          {{serial}},
	time        {{ts}} NOT NULL,
	event       TEXT NOT NULL,
	entry_id    TEXT NOT NULL,
	revision    INTEGER NOT NULL,
	document_id TEXT NOT NULL DEFAULT '',
	version     INTEGER NOT NULL DEFAULT 0,
	archive     TEXT NOT NULL DEFAULT '',
	register    TEXT NOT NULL DEFAULT '',
	author_role TEXT NOT NULL DEFAULT '',
	ack_code    TEXT NOT NULL DEFAULT '',
	hetu        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_hetu ON audit (hetu);
CREATE INDEX audit_entry_id ON audit (entry_id, revision)`,
	// 2: the payload beside its job instead of inside its JSON arguments
	`ALTER TABLE deliveries ADD COLUMN payload {{blob}}`,
	// 3: a delivery's prerequisite document set (Delivery.After); the index
	// finds a set's dependants when it is delivered
	`ALTER TABLE deliveries ADD COLUMN after_set TEXT NOT NULL DEFAULT '';
CREATE INDEX deliveries_after_set ON deliveries (after_set, route) WHERE after_set <> ''`,
	// 4: the worker bounds retries (MaxAttempts and MaxRetryAge), not
	// River: unfinished jobs of an earlier release get River's ceiling
	// (riverAttemptCeiling), or River would discard them at their old
	// bound while their delivery stays queued
	qMigrationAttemptCeiling,
	// 5: where a rejection or skip was read (batch file and line), so a
	// batch read again after a crash does not repeat its audit rows
	`ALTER TABLE audit ADD COLUMN source TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX audit_source ON audit (event, entry_id, revision, source) WHERE source <> ''`,
	// 6: one row the daemon rewrites to learn that the store can write
	// (ProbeWrite)
	`CREATE TABLE gateway_write_probe (id INTEGER PRIMARY KEY, at {{ts}} NOT NULL)`,
	// 7: who acted, for an operator's retry or cancel (WithActor)
	`ALTER TABLE audit ADD COLUMN actor TEXT NOT NULL DEFAULT ''`,
}

func (d dialect) migrationSQL(version int) []string {
	sql := schemaMigrations[version-1]
	if d.timeAsText {
		sql = strings.NewReplacer("{{ts}}", "timestamp", "{{serial}}", "INTEGER PRIMARY KEY AUTOINCREMENT", "{{blob}}", "BLOB").Replace(sql)
	} else {
		sql = strings.NewReplacer("{{ts}}", "timestamptz", "{{serial}}", "BIGSERIAL PRIMARY KEY", "{{blob}}", "BYTEA").Replace(sql)
	}
	var stmts []string
	for _, s := range strings.Split(sql, ";\n") {
		if s = strings.TrimSpace(s); s != "" {
			stmts = append(stmts, s)
		}
	}
	return stmts
}

// migrateOwn brings our tables up to date inside the caller's transaction
// (which also holds River's migration, and on PostgreSQL a lock against a
// replica migrating at the same time).
func migrateOwn(ctx context.Context, x execer, d dialect) error {
	if _, err := x.exec(ctx, `CREATE TABLE IF NOT EXISTS gateway_schema_version (version INTEGER PRIMARY KEY)`); err != nil {
		return fmt.Errorf("queue: create schema version table: %w", err)
	}
	var current int
	if err := x.queryRow(ctx, `SELECT coalesce(max(version), 0) FROM gateway_schema_version`).Scan(&current); err != nil {
		return fmt.Errorf("queue: read schema version: %w", err)
	}
	if current > len(schemaMigrations) {
		return fmt.Errorf("queue: database schema version %d is newer than this gateway (%d)", current, len(schemaMigrations))
	}
	for v := current + 1; v <= len(schemaMigrations); v++ {
		for _, stmt := range d.migrationSQL(v) {
			if _, err := x.exec(ctx, stmt); err != nil {
				return fmt.Errorf("queue: schema migration %d: %w", v, err)
			}
		}
		if _, err := x.exec(ctx, `INSERT INTO gateway_schema_version (version) VALUES (?)`, v); err != nil {
			return fmt.Errorf("queue: record schema migration %d: %w", v, err)
		}
	}
	return nil
}

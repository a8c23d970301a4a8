package queue

// Every statement of ours that touches River's own tables is here; the rest
// of the package reaches River through its client and driver (inserts,
// listings, retry, cancel, the elected leader in river_leader). River owns
// its schema and migrates it, so these statements are the one place an
// upgrade of River can break behind the type checker's back.
//
// What we assume of River's schema (River v0.51.2; TestRiverSchemaAssumptions
// pins it on both backends after River's migrations ran):
//
//   - river_job has the columns in riverColumnsUsed with the types listed
//     there: on SQLite a timestamp is text in River's format
//     (sqliteTimeFormat), which our arguments use, so that they compare
//     correctly against River's own values.
//   - A job's state is one of riverJobStatesUsed. We write one state only,
//     'available', on a job that is 'available' or 'scheduled': River's
//     producer fetches an available job once its scheduled_at has passed,
//     and River's scheduler moves a scheduled one to available when its
//     scheduled_at comes, so moving scheduled_at moves its run.
//   - max_attempts is read by River when a job fails (our migration 4
//     raises it for jobs of an earlier release).
//   - Every job in the queue's database is a delivery (kind JobKind): qBusy
//     and the Stats statements do not filter on kind (see there;
//     TestOnlyDeliveriesInRiversTable).

// The statements on River's jobs.
const (
	// The wake releases the next version of the set (versions may skip a
	// number), which waits for nothing else now; a later one waits on.
	// (id = the next version's job, so SQLite looks the job up by its key
	// instead of walking every available job.)
	qWakeJobs = `UPDATE river_job SET state = 'available', scheduled_at = ?
		WHERE id = (SELECT job_id FROM deliveries WHERE set_id = ? AND route = ? AND state = 'queued' AND wait_reason <> ''
		AND version = (SELECT min(version) FROM deliveries WHERE set_id = ? AND route = ? AND version > ?))
		AND state IN ('available', 'scheduled')`
	// qWakeJob wakes one dependant's job (record.go, wakeDependantJobs).
	qWakeJob = `UPDATE river_job SET state = 'available', scheduled_at = ? WHERE id = ? AND state IN ('available', 'scheduled')`
	// qBusy answers 1 when a job is running or due: three lookups on River's
	// state index that stop at the first row, since WaitIdle asks it every
	// 100 ms while thousands of finished jobs accumulate. (No kind filter:
	// every job in the queue's database is a delivery, and filtering on kind
	// made SQLite walk the kind index, i.e. every job.)
	qBusy = `SELECT CASE WHEN
		EXISTS (SELECT 1 FROM river_job WHERE state = 'running')
		OR EXISTS (SELECT 1 FROM river_job j LEFT JOIN deliveries d ON d.job_id = j.id
			WHERE j.state IN ('available', 'retryable') AND j.scheduled_at <= ? AND coalesce(d.wait_reason, '') = '')
		OR EXISTS (SELECT 1 FROM river_job j LEFT JOIN deliveries d ON d.job_id = j.id
			WHERE j.state IN ('scheduled', 'pending') AND j.scheduled_at <= ? AND coalesce(d.wait_reason, '') = '')
		THEN 1 ELSE 0 END`
	// qReschedule moves the jobs of a role still held by its go-live date
	// (Reschedule).
	qReschedule = `UPDATE river_job SET scheduled_at = ?
		WHERE state = 'scheduled' AND kind = ? AND id IN (SELECT job_id FROM deliveries WHERE role = ? AND held = 1 AND state = 'queued')`
	// The counts of Stats: jobs by River's state, the cancelled ones that
	// are dead letters, the oldest due, the next held, and those attempted
	// and unfinished. No kind filter, as in qBusy: every job in the
	// queue's database is a delivery (TestOnlyDeliveriesInRiversTable), and
	// with `kind = ?` SQLite walked the kind index and read every job's
	// row, five times per call (~0.3 s with 91,000 jobs, a console page or
	// a scrape each second in a burst). The depth and the oldest due are
	// now read from River's state index alone; the next held and the
	// retrying still read the rows of unfinished jobs (attempted_at is not
	// in any index of River's, and River's SQLite migrations rebuild its
	// tables, so an index of ours on them would not last).
	qStatsDepth         = `SELECT state, count(*) FROM river_job GROUP BY state`
	qStatsDeadCancelled = `SELECT count(*) FROM river_job j JOIN deliveries d ON d.job_id = j.id
		WHERE j.state = 'cancelled' AND d.state = ?`
	qStatsOldestDue = `SELECT min(scheduled_at) FROM river_job WHERE state IN ('available', 'retryable', 'scheduled', 'pending') AND scheduled_at <= ?`
	qStatsNextHeld  = `SELECT min(scheduled_at) FROM river_job WHERE state IN ('available', 'retryable', 'scheduled', 'pending') AND scheduled_at > ? AND attempted_at IS NULL`
	qStatsRetrying  = `SELECT count(*), min(CASE WHEN coalesce(d.wait_reason, '') = '' THEN j.scheduled_at END)
		FROM river_job j LEFT JOIN deliveries d ON d.job_id = j.id
		WHERE j.state IN ('available', 'retryable', 'scheduled', 'pending', 'running') AND j.attempted_at IS NOT NULL
		AND coalesce(d.state, 'queued') = 'queued'`
	// qHeld counts the never attempted, held deliveries by archive and
	// date (Held).
	qHeld = `SELECT coalesce(l.archive, ''), j.scheduled_at, d.held, count(*)
		FROM river_job j JOIN deliveries d ON d.job_id = j.id LEFT JOIN ledger l ON l.entry_id = d.entry_id AND l.revision = d.revision
		WHERE j.kind = ? AND j.state = 'scheduled' AND j.attempted_at IS NULL AND d.state = 'queued'
		GROUP BY coalesce(l.archive, ''), j.scheduled_at, d.held`
	// qMigrationAttemptCeiling is our schema migration 4 (migrate.go): a
	// shipped migration, never to change.
	qMigrationAttemptCeiling = `UPDATE river_job SET max_attempts = 30000 WHERE kind = 'kanta_delivery' AND state NOT IN ('completed', 'cancelled', 'discarded') AND max_attempts < 30000`
)

// riverStatements names every statement above, for the test that compiles
// each against River's real schema.
var riverStatements = map[string]string{
	"wake next version":      qWakeJobs,
	"wake dependant":         qWakeJob,
	"busy":                   qBusy,
	"reschedule":             qReschedule,
	"stats depth":            qStatsDepth,
	"stats dead cancelled":   qStatsDeadCancelled,
	"stats oldest due":       qStatsOldestDue,
	"stats next held":        qStatsNextHeld,
	"stats retrying":         qStatsRetrying,
	"held":                   qHeld,
	"migration 4 (attempts)": qMigrationAttemptCeiling,
}

// riverColumn is a column of River's that a statement above uses, and the
// type we assume it has on each backend.
type riverColumn struct {
	table, column string
	// sqlite is the declared type (pragma table_info); postgres the type
	// name (information_schema.columns.udt_name).
	sqlite, postgres string
	// nullable: we test it for NULL (a job never attempted).
	nullable bool
}

// riverColumnsUsed are the columns of River's the statements above use.
var riverColumnsUsed = []riverColumn{
	{"river_job", "id", "integer", "int8", false},
	{"river_job", "kind", "text", "text", false},
	{"river_job", "state", "text", "river_job_state", false},
	{"river_job", "scheduled_at", "timestamp", "timestamptz", false},
	{"river_job", "attempted_at", "timestamp", "timestamptz", true},
	{"river_job", "max_attempts", "integer", "int2", false},
}

// riverJobStatesUsed are the job states the statements above write or
// read (and jobState maps).
var riverJobStatesUsed = []string{"available", "scheduled", "pending", "running", "retryable", "completed", "cancelled", "discarded"}

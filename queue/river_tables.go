package queue

// Every statement of ours that touches River's own tables.
const (
	// The wake releases the next version of the set (versions may skip a
	// number), which waits for nothing else now; a later one waits on.
	// (id = the next version's job, so SQLite looks the job up by its key
	// instead of walking every available job.)
	qWakeJobs = `UPDATE river_job SET state = 'available', scheduled_at = ?
		WHERE id = (SELECT job_id FROM deliveries WHERE set_id = ? AND route = ? AND state = 'queued' AND wait_reason <> ''
		AND version = (SELECT min(version) FROM deliveries WHERE set_id = ? AND route = ? AND version > ?))
		AND state IN ('available', 'scheduled')`
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
)

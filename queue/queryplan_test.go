package queue

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
)

// The statements run once per delivered document must find their rows by
// key: one that walks River's jobs by state (every available or scheduled
// job) costs time in proportion to the queue, which is what a go-live
// burst of 100,000 held documents makes large. SQLite has no statistics
// here (no ANALYZE), so the plan on an empty database is the plan it uses.
func TestPerDeliveryStatementsUseKeys(t *testing.T) {
	q, err := OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "gateway.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	pool := q.(*store[*sql.Tx]).b.pool
	for name, c := range map[string]struct {
		sql  string
		args int
	}{
		"delivered":         {qDelivered, 5},
		"ledger outcome":    {qLedgerOutcome, 2},
		"audit delivery":    {qAuditDelivery, 7},
		"wake next job":     {qWakeJobs, 6},
		"wake next":         {qWakeDeliveries, 5},
		"dependant jobs":    {qDependantJobs, 2},
		"wake job":          {qWakeJob, 2},
		"wake dependants":   {qWakeDependants, 2},
		"delivery state":    {qDeliveryState, 1},
		"predecessor":       {qPredecessor, 3},
		"delivery attempt":  {qDeliveryAttempt, 6},
		"delivery wait":     {qDeliveryWait, 3},
		"delivery claimed":  {qDeliveryClaimed, 3},
		"ledger insert":     {qLedgerInsert, 15},
		"prerequisite sets": {qPrerequisite, 2},
	} {
		args := make([]any, c.args)
		for i := range args {
			args[i] = "x"
		}
		rows, err := pool.query(context.Background(), "EXPLAIN QUERY PLAN "+c.sql, args...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		for _, step := range plan {
			if strings.HasPrefix(step, "SCAN ") ||
				(strings.Contains(step, "river_job") && !strings.Contains(step, "INTEGER PRIMARY KEY")) {
				t.Errorf("%s walks rows: %q (plan %q)", name, step, plan)
			}
		}
	}
}

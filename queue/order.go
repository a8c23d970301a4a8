package queue

import (
	"context"
	"fmt"
	"strings"
)

// The order checks, run for every attempt and every due delivery ingested.
const (
	qPredecessor = `SELECT version, state, ack_code, ack_detail FROM deliveries
		WHERE set_id = ? AND route = ? AND version < ? AND state <> 'delivered' ORDER BY version LIMIT 1`
	// A set's delivery also releases the deliveries that name it as their
	// prerequisite (Delivery.After). One that still waits for its own
	// earlier version finds that when it runs, and waits on. (after_set <>
	// '' lets SQLite use the partial index.)
	qPrerequisite = `SELECT document_id, state, ack_code, ack_detail FROM deliveries
		WHERE set_id = ? AND route = ? ORDER BY version`
)

// orderFallbackWaits: a version queued behind its predecessor re-checks
// after this many OrderWaits if no delivery woke it.
const orderFallbackWaits = 15

func afterWhat(d *Delivery) string {
	if d.AfterWhat != "" {
		return d.AfterWhat
	}
	return "prerequisite document"
}

// setRoute is one document set on one route.
type setRoute struct{ set, route string }

// blocked reports whether a delivery must wait: for an earlier version of
// its set (predecessor), or for its prerequisite set (prerequisite), and
// says why. pending are the sets being inserted in the caller's
// transaction and not yet written (nil outside ingestion).
func (s *store[TTx]) blocked(ctx context.Context, x execer, d *Delivery, pending map[setRoute]Delivery) (string, bool, error) {
	if reason, blocked, err := s.predecessor(ctx, x, d); err != nil || blocked {
		return reason, blocked, err
	}
	return s.prerequisite(ctx, x, d, pending)
}

// prerequisite reports whether the delivery's prerequisite set (After) has
// no delivered version on the delivery's route yet, and names the version
// it waits for. Like predecessor, the rows read are share-locked on
// PostgreSQL until x's transaction ends, so a delivery of the prerequisite
// either is seen here or comes after the wait is recorded, and wakes it.
func (s *store[TTx]) prerequisite(ctx context.Context, x execer, d *Delivery, pending map[setRoute]Delivery) (string, bool, error) {
	if d.After == "" {
		return "", false, nil
	}
	rows, err := x.query(ctx, qPrerequisite+s.b.dialect.shareLock, d.After, d.Route)
	if err != nil {
		return "", false, fmt.Errorf("queue: prerequisite check: %w", err)
	}
	defer rows.Close()
	var first struct{ id, state, code, detail string }
	found := false
	for rows.Next() {
		var id, state, code, detail string
		if err := rows.Scan(&id, &state, &code, &detail); err != nil {
			return "", false, fmt.Errorf("queue: prerequisite check: %w", err)
		}
		if state == DeliveryDelivered {
			return "", false, nil
		}
		if !found {
			first.id, first.state, first.code, first.detail = id, state, code, detail
			found = true
		}
	}
	if err := rows.Err(); err != nil {
		return "", false, fmt.Errorf("queue: prerequisite check: %w", err)
	}
	what := afterWhat(d)
	switch {
	case found:
		reason := fmt.Sprintf("waiting for %s %s (%s", what, first.id, first.state)
		if first.state == DeliveryDead && (first.code != "" || first.detail != "") {
			reason += ": " + strings.TrimSpace(first.code+" code "+first.detail)
		}
		return reason + ")", true, nil
	default:
		if p, ok := pending[setRoute{d.After, d.Route}]; ok {
			return fmt.Sprintf("waiting for %s %s (queued)", what, p.DocumentID), true, nil
		}
		return fmt.Sprintf("waiting for %s %s (not queued)", what, d.After), true, nil
	}
}

// predecessor reports whether an earlier version of the same set and route
// is not yet delivered, and says which and why.
//
// On PostgreSQL the row found is share-locked until x's transaction ends,
// so a concurrent delivery of it (which updates the row) waits for that
// transaction, and a check that waited sees the delivery. SQLite runs one
// writing transaction at a time anyway.
func (s *store[TTx]) predecessor(ctx context.Context, x execer, d *Delivery) (string, bool, error) {
	if d.Version <= 1 {
		return "", false, nil // a first version has none
	}
	rows, err := x.query(ctx, qPredecessor+s.b.dialect.shareLock, d.SetID, d.Route, d.Version)
	if err != nil {
		return "", false, fmt.Errorf("queue: order check: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		return "", false, rows.Err()
	}
	var version int
	var state, code, detail string
	if err := rows.Scan(&version, &state, &code, &detail); err != nil {
		return "", false, fmt.Errorf("queue: order check: %w", err)
	}
	reason := fmt.Sprintf("waiting for version %d (%s", version, state)
	if state == DeliveryDead && (code != "" || detail != "") {
		reason += ": " + strings.TrimSpace(code+" code "+detail)
	}
	return reason + ")", true, nil
}

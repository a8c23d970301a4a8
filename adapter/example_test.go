package adapter_test

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/adapter"
)

// A batch is read line by line: each non-empty line is an entry or a
// rejection naming the field, never the value (here an identity code with
// a wrong check character).
func ExampleReader() {
	const entry = `{"entry_id": "SCN-KUR-01", "revision": 1, "status": "final", "finalized_at": "2026-05-12T14:00:00+03:00", ` +
		`"author": {"role": "school_welfare_officer", "registration_number": "200000002", "given": "Kaisa", "family": "Kuraattori"}, ` +
		`"client": {"hetu": "%s", "given": "Testi", "family": "Oppilas", "birth_date": "2014-01-01", "home_municipality": "091"}, ` +
		`"service": {"kind": "school_social_work", "unit_oid": "1.2.246.10.2012566.10.2001", "unit_name": "Vallilan koulun kuraattoripalvelut", "organiser_oid": "1.2.246.10.2012566.19.1"}, ` +
		`"encounter": {"id": "ENC-SCN-KUR-01", "type": "visit", "start": "2026-05-12T13:00:00+03:00"}, ` +
		`"client_relationship": {"id": "ASK-W01", "opened": "2025-08-15", "closed": null}, ` +
		`"text": {"title": "Kuraattorin tapaaminen", "narrative": "Keskustelu koulunkäynnistä.", "language": "fi"}}`
	batch := fmt.Sprintf(entry, "010114A919P") + "\n\n" + fmt.Sprintf(entry, "010114A919X") + "\n"

	now := time.Date(2026, 9, 1, 12, 0, 0, 0, time.UTC)
	r := adapter.NewReader(strings.NewReader(batch), "batch.ndjson", adapter.Options{Now: func() time.Time { return now }})
	defer r.Close()
	for {
		it, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Println("batch unreadable:", err)
			return
		}
		if it.Rejection != nil {
			fmt.Println("rejected:", it.Rejection)
			continue
		}
		fmt.Printf("line %d: entry %s#%d by a %s\n", it.Line, it.Entry.ID, it.Entry.Revision, it.Entry.Author.Role)
	}
	// Output:
	// line 1: entry SCN-KUR-01#1 by a school_welfare_officer
	// rejected: batch.ndjson:3: entry SCN-KUR-01#1: client.hetu: identity code's check character does not match
}

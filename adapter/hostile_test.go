package adapter_test

import (
	"strings"
	"testing"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/adapter"
)

// insertAfter puts extra right after the first occurrence of marker.
func insertAfter(t *testing.T, line, marker, extra string) string {
	t.Helper()
	i := strings.Index(line, marker)
	if i < 0 {
		t.Fatalf("marker %q not in line", marker)
	}
	i += len(marker)
	return line[:i] + extra + line[i:]
}

// TestKeysAreCaseSensitive: a key spelt in another case is an unknown key
// (apotti-export.md, "Keys are case-sensitive"); it never replaces the
// contract's key, whichever comes last.
func TestKeysAreCaseSensitive(t *testing.T) {
	other := `{"hetu":"150809A9558","given":"Åsa","family":"Öhman","birth_date":"2009-08-15"}`
	for name, line := range map[string]string{
		"CLIENT after client":  strings.TrimSuffix(psychologyLine, "}") + `,"CLIENT":` + other + `}`,
		"Client after client":  strings.TrimSuffix(psychologyLine, "}") + `,"Client":` + other + `}`,
		"HETU after hetu":      insertAfter(t, psychologyLine, `"home_municipality":"091"`, `,"HETU":"150809A9558","Birth_Date":"2009-08-15"`),
		"Entry_ID after id":    strings.TrimSuffix(psychologyLine, "}") + `,"Entry_ID":"APT-OTHER","REVISION":7}`,
		"CLIENT before client": `{"CLIENT":` + other + `,` + psychologyLine[1:],
	} {
		t.Run(name, func(t *testing.T) {
			it := parseOne(t, line)
			if it.Rejection != nil {
				t.Fatalf("rejected: %v", it.Rejection)
			}
			e := it.Entry
			if e.Client.Hetu != "010114A921S" || e.Client.Given != "Testi" || e.Client.BirthDate.String() != "2014-01-01" {
				t.Fatalf("client replaced by a key in another case: %+v", e.Client)
			}
			if e.ID != "APT-PSY-000001" || e.Revision != 1 {
				t.Fatalf("entry key replaced: %s", e.Key())
			}
		})
	}
	// Only a wrongly spelt key: the contract's key is missing.
	rej := parseOne(t, strings.Replace(psychologyLine, `"client":`, `"CLIENT":`, 1)).Rejection
	if rej == nil || rej.Field != "client" || !strings.Contains(rej.Reason, "required") {
		t.Fatalf("CLIENT alone: %v", rej)
	}
}

// TestDuplicateKeysAreRejected: a key given twice in one object rejects the
// entry naming the key's path; a key outside the contract is not echoed
// (it could be an identity code), and the entry is not named by a guess.
func TestDuplicateKeysAreRejected(t *testing.T) {
	cases := []struct{ name, line, field string }{
		{"entry_id", insertAfter(t, psychologyLine, `"revision":1,`, `"entry_id":"APT-PSY-000099",`), "entry_id"},
		{"client.hetu", insertAfter(t, psychologyLine, `"hetu":"010114A921S",`, `"hetu":"150809A9558",`), "client.hetu"},
		{"client object", strings.TrimSuffix(psychologyLine, "}") + `,"client":{"hetu":"150809A9558","given":"Åsa","family":"Öhman","birth_date":"2009-08-15"}}`, "client"},
		{"same value twice", insertAfter(t, psychologyLine, `"status":"final",`, `"status":"final",`), "status"},
		{"restrictions.mykanta.display", insertAfter(t, socialWorkLine, `"display":"delayed",`, `"display":"visible",`), "restrictions.mykanta.display"},
		{"unknown key holding an identity code", insertAfter(t, psychologyLine, `"client":{`, `"x":{"010114A921S":1,"010114A921S":2},`), "client.*.*"},
		{"unknown key at the top", strings.TrimSuffix(psychologyLine, "}") + `,"Testi":1,"Testi":2}`, "*"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rej := parseOne(t, tc.line).Rejection
			if rej == nil {
				t.Fatal("accepted")
			}
			if rej.Field != tc.field || !strings.Contains(rej.Reason, "appears twice") {
				t.Fatalf("got %q: %s; want %q: ...appears twice...", rej.Field, rej.Reason, tc.field)
			}
			if rej.EntryID != "" {
				t.Fatalf("a line with a duplicate key names entry %q", rej.EntryID)
			}
			if rej.Line != 1 || rej.File != "batch.ndjson" || string(rej.Raw) != tc.line {
				t.Fatalf("position or raw line wrong: %s", rej.Error())
			}
			assertNoPersonalData(t, tc.line, rej)
		})
	}
}

// TestLoneSurrogatesAreRejected: an escaped UTF-16 surrogate without its
// pair would be decoded as U+FFFD, silently changing the text; it is a
// rejection naming the field. A proper pair is a character like any other.
func TestLoneSurrogatesAreRejected(t *testing.T) {
	cases := []struct{ name, from, to, field string }{
		{"high in client.given", `"Testi"`, `"Te\ud800sti"`, "client.given"},
		{"low in text.narrative", `"Tapaaminen oppilaan kanssa."`, `"Tapaaminen \uDC00"`, "text.narrative"},
		{"reversed pair in text.title", `"Psykologin käynti"`, `"\udc00\ud800"`, "text.title"},
		{"high at the end of client.family", `"Oppilas"`, `"Oppilas\ud83d"`, "client.family"},
		{"high then a non-surrogate escape", `"Pirjo"`, `"Pirjo\ud83d\u0041"`, "author.given"},
		{"in an unknown field", `"home_municipality":"091"`, `"home_municipality":"091","note":"\udfff"`, "client.*"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			line := strings.Replace(psychologyLine, tc.from, tc.to, 1)
			if line == psychologyLine {
				t.Fatal("replacement did not apply")
			}
			rej := parseOne(t, line).Rejection
			if rej == nil {
				t.Fatal("accepted")
			}
			if rej.Field != tc.field || !strings.Contains(rej.Reason, "lone UTF-16 surrogate") {
				t.Fatalf("got %q: %s; want %q: lone surrogate", rej.Field, rej.Reason, tc.field)
			}
			assertNoPersonalData(t, line, rej)
		})
	}
	it := parseOne(t, strings.Replace(psychologyLine, "kanssa.", `kanssa \ud83d\ude00`, 1))
	if it.Rejection != nil || !strings.HasSuffix(it.Entry.Text.Narrative, "kanssa 😀") {
		t.Fatalf("surrogate pair: %+v", it)
	}
}

// TestControlCharactersInIDs: ids and codes reach logs, `queue ls` and
// `audit`; a control character, an escape sequence, a bidi override or a
// line separator in one is a rejection naming the field.
func TestControlCharactersInIDs(t *testing.T) {
	bad := map[string]string{
		"ESC":        "\x1b[2J",
		"OSC title":  "\x1b]0;x\x07",
		"NUL":        "\x00",
		"newline":    "\nforged",
		"CR":         "\r",
		"tab":        "\t",
		"DEL":        "\x7f",
		"C1 CSI":     "\u009b2J",
		"bidi RLO":   "\u202e",
		"zero width": "\u200b",
		"line sep":   "\u2028",
	}
	fields := []struct{ base, path string }{
		{psychologyLine, "entry_id"},
		{psychologyLine, "encounter.id"},
		{psychologyLine, "author.registration_number"},
		{socialWorkLine, "client_relationship.id"},
		{socialWorkLine, "client_relationship.case_id"},
		{socialWorkLine, "restrictions.mykanta.reason_code"},
	}
	for _, f := range fields {
		for name, c := range bad {
			t.Run(f.path+"/"+name, func(t *testing.T) {
				line := mutate(t, f.base, map[string]any{f.path: "ID-1" + c + "2"})
				rej := parseOne(t, line).Rejection
				if rej == nil {
					t.Fatal("accepted")
				}
				if rej.Field != f.path || !strings.Contains(rej.Reason, "control") {
					t.Fatalf("got %q: %s", rej.Field, rej.Reason)
				}
				if strings.Contains(rej.Error(), c) {
					t.Fatalf("the character reached the rejection text: %q", rej.Error())
				}
			})
		}
	}
	// Printable ids in any script pass.
	it := parseOne(t, mutate(t, socialWorkLine, map[string]any{"entry_id": "ÄÖ-ŋ 1/2", "encounter.id": "käynti #7", "client_relationship.case_id": "ASIA-ä"}))
	if it.Rejection != nil {
		t.Fatalf("printable ids rejected: %v", it.Rejection)
	}
}

// TestLengthLimits: the contract's maxLength of every name and title, and
// the adapter's bounds on the fields the contract leaves open, at and one
// past the limit (in characters, so "ä" counts once).
func TestLengthLimits(t *testing.T) {
	cases := []struct {
		base, path string
		max        int
	}{
		{psychologyLine, "entry_id", 128},
		{psychologyLine, "author.given", 200},
		{psychologyLine, "author.family", 200},
		{psychologyLine, "author.title", 200},
		{psychologyLine, "client.given", 200},
		{psychologyLine, "client.family", 200},
		{psychologyLine, "text.title", 500},
		{psychologyLine, "service.unit_name", 200},
		{psychologyLine, "encounter.id", 128},
		{psychologyLine, "author.registration_number", 128},
		{socialWorkLine, "client_relationship.id", 128},
		{socialWorkLine, "client_relationship.case_id", 128},
		{socialWorkLine, "restrictions.mykanta.reason_code", 128},
		{socialWorkLine, "restrictions.mykanta.reason_text", 2000},
		{socialWorkLine, "amends.reason", 2000},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			at := parseOne(t, mutate(t, tc.base, map[string]any{tc.path: strings.Repeat("ä", tc.max)}))
			if at.Rejection != nil {
				t.Fatalf("%d characters rejected: %v", tc.max, at.Rejection)
			}
			line := mutate(t, tc.base, map[string]any{tc.path: strings.Repeat("x", tc.max+1)})
			rej := parseOne(t, line).Rejection
			if rej == nil {
				t.Fatalf("%d characters accepted", tc.max+1)
			}
			if rej.Field != tc.path || !strings.Contains(rej.Reason, "longer than "+itoa(tc.max)+" characters") {
				t.Fatalf("got %q: %s", rej.Field, rej.Reason)
			}
			assertNoPersonalData(t, line, rej)
		})
	}
}

// TestFinalizedAtInTheFuture: a finalized_at beyond the configured bound
// after the time of reading is rejected with file, line and field; the
// check needs the reader to know the time (Options.Now).
func TestFinalizedAtInTheFuture(t *testing.T) {
	readAt := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	now := func() time.Time { return readAt }
	at := func(ts string) string {
		return mutate(t, psychologyLine, map[string]any{"finalized_at": ts})
	}
	cases := []struct {
		name   string
		line   string
		opts   adapter.Options
		reject bool
	}{
		{"years ahead", at("2036-11-20T10:15:00+02:00"), adapter.Options{Now: now}, true},
		{"just over a day ahead", at("2026-11-23T14:00:01+02:00"), adapter.Options{Now: now}, true},
		{"a day ahead", at("2026-11-23T14:00:00+02:00"), adapter.Options{Now: now}, false},
		{"in the past", at("2026-11-20T10:15:00+02:00"), adapter.Options{Now: now}, false},
		{"two hours ahead, bound one hour", at("2026-11-22T14:00:00Z"), adapter.Options{Now: now, MaxFinalizedAhead: time.Hour}, true},
		{"a draft years ahead", mutate(t, psychologyLine, map[string]any{"status": "draft", "finalized_at": "2036-01-01T00:00:00Z"}), adapter.Options{Now: now}, true},
		{"no time of reading", at("2036-11-20T10:15:00+02:00"), adapter.Options{}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			batch := psychologyLine + "\n" + tc.line + "\n"
			items := readAll(t, batch, tc.opts)
			if len(items) != 2 || items[0].Rejection != nil {
				t.Fatalf("items: %+v", items)
			}
			rej := items[1].Rejection
			if !tc.reject {
				if rej != nil {
					t.Fatalf("rejected: %v", rej)
				}
				return
			}
			if rej == nil {
				t.Fatal("accepted")
			}
			if rej.File != "batch.ndjson" || rej.Line != 2 || rej.Field != "finalized_at" || !strings.Contains(rej.Reason, "after the time of reading") {
				t.Fatalf("rejection: %v", rej)
			}
			if rej.EntryID != "APT-PSY-000001" {
				t.Fatalf("entry not named: %v", rej)
			}
		})
	}
}

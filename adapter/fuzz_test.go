package adapter_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/helsinki-student-welfare/kanta-gateway/adapter"
	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/fixtures/gen"
)

// FuzzParseLine feeds arbitrary bytes through the reader: it must never
// panic, must yield exactly one of Entry and Rejection for every non-blank
// line (and nothing for blank ones), and every entry must satisfy the
// contract's cross-field rules.
// Run: go test -run '^$' -fuzz FuzzParseLine -fuzztime 60s ./adapter/
func FuzzParseLine(f *testing.F) {
	f.Add([]byte(psychologyLine))
	f.Add([]byte(socialWorkLine))
	f.Add([]byte(psychologyLine + "\r\n\n  \n" + socialWorkLine))
	if cat, err := os.Open("../fixtures/malformed/catalogue.ndjson"); err == nil {
		sc := bufio.NewScanner(cat)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			f.Add(bytes.Clone(sc.Bytes()))
		}
		cat.Close()
	} else {
		f.Fatal(err)
	}
	var batch bytes.Buffer
	if _, err := gen.Write(&batch, gen.Options{N: 20, Seed: 3, TextSize: 200}); err != nil {
		f.Fatal(err)
	}
	for _, l := range bytes.Split(bytes.TrimSpace(batch.Bytes()), []byte("\n")) {
		f.Add(l)
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		r := adapter.NewReader(bytes.NewReader(data), "fuzz.ndjson", adapter.Options{MaxLineBytes: 4096})
		gzipStream := bytes.HasPrefix(data, []byte{0x1f, 0x8b})

		// The non-blank physical lines, as the contract defines them.
		lines := bytes.Split(data, []byte("\n"))
		var want []int
		for i, l := range lines {
			if i == 0 {
				l = bytes.TrimPrefix(l, []byte("\xef\xbb\xbf"))
			}
			if len(bytes.Trim(l, " \t\r")) > 0 {
				want = append(want, i+1)
			}
		}

		var got []int
		for {
			it, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				if gzipStream {
					return // a broken gzip stream is a stream error
				}
				t.Fatalf("stream error on plain input: %v", err)
			}
			got = append(got, it.Line)
			if (it.Entry == nil) == (it.Rejection == nil) {
				t.Fatalf("line %d: want exactly one of Entry and Rejection: %+v", it.Line, it)
			}
			if it.Rejection != nil {
				checkRejection(t, it.Rejection)
			} else {
				checkEntry(t, it.Entry)
			}
		}
		if gzipStream {
			return
		}
		if len(got) != len(want) {
			t.Fatalf("items on lines %v, want %v", got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("items on lines %v, want %v", got, want)
			}
		}
	})
}

func checkRejection(t *testing.T, rej *adapter.Rejection) {
	if rej.Reason == "" {
		t.Fatalf("line %d: rejection without a reason", rej.Line)
	}
	// A well-formed identity code in the line must never reach the text.
	var m struct{ Client struct{ Hetu any } }
	if json.Unmarshal(rej.Raw, &m) == nil {
		if h, ok := m.Client.Hetu.(string); ok {
			if _, err := documents.ParseHetu(h); err == nil && strings.Contains(rej.Error(), h) {
				t.Fatalf("rejection text holds the identity code: %s", rej.Error())
			}
		}
	}
}

func checkEntry(t *testing.T, e *documents.Entry) {
	info, err := documents.ParseHetu(e.Client.Hetu)
	if err != nil || info.BirthDate != e.Client.BirthDate {
		t.Fatalf("entry %s accepted with a bad identity code or birth date", e.Key())
	}
	if e.ID == "" || e.Revision < 1 || e.Status == "" || e.Author.Role == "" || e.Service.Kind == "" ||
		e.MyKanta.Display == "" || e.Guardian.MinorConsent == "" || e.Text.Language == "" {
		t.Fatalf("entry %s accepted with a required field empty: %+v", e.Key(), e)
	}
	if (e.Revision > 1) != (e.Amends != nil) || (e.Amends != nil && e.Amends.Revision != e.Revision-1) {
		t.Fatalf("entry %s accepted with inconsistent amends", e.Key())
	}
	if e.Service.Kind == documents.ServiceSchoolSocialWork && e.Author.Role == documents.RoleSchoolWelfareOfficer && e.ClientRelationship == nil {
		t.Fatalf("entry %s: social work without a client relationship", e.Key())
	}
	if (e.Status == documents.StatusFinal || e.Status == documents.StatusAmended) && e.FinalizedAt.IsZero() {
		t.Fatalf("entry %s: %s without finalized_at", e.Key(), e.Status)
	}
	if e.MyKanta.Display == documents.DisplayDelayed && e.MyKanta.ReleaseDate.IsZero() {
		t.Fatalf("entry %s: delayed without release date", e.Key())
	}
	if !e.Encounter.End.IsZero() && e.Encounter.End.Before(e.Encounter.Start) {
		t.Fatalf("entry %s: encounter ends before it starts", e.Key())
	}
	ids := []string{e.ID, e.Encounter.ID, e.Author.RegistrationNumber, e.MyKanta.ReasonCode}
	if cr := e.ClientRelationship; cr != nil {
		ids = append(ids, cr.ID, cr.CaseID)
	}
	for _, id := range ids {
		if utf8.RuneCountInString(id) > 128 || strings.IndexFunc(id, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
			t.Fatalf("entry accepted with an over-long or unprintable id %q", id)
		}
	}
	for _, name := range []string{e.Client.Given, e.Client.Family, e.Author.Given, e.Author.Family} {
		if utf8.RuneCountInString(name) > 200 {
			t.Fatalf("entry %s accepted with a name over 200 characters", e.Key())
		}
	}
}

package adapter_test

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/helsinki-student-welfare/kanta-gateway/adapter"
)

// readmeBounds reads the table of README's "Length bounds of an export
// line" section.
func readmeBounds(t *testing.T) []adapter.Bound {
	t.Helper()
	f, err := os.Open("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []adapter.Bound
	in, table := false, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "## "):
			in = l == "## Length bounds of an export line"
			continue
		case !in:
			continue
		case strings.HasPrefix(l, "| field |"):
			table = true
			continue
		case table && strings.HasPrefix(l, "|---"):
			continue
		case table && !strings.HasPrefix(l, "|"):
			table = false
			continue
		case !table:
			continue
		}
		cells := strings.Split(strings.Trim(l, "|"), "|")
		if len(cells) != 4 {
			t.Fatalf("README bounds row %q: want 4 cells", l)
		}
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		max, err := strconv.Atoi(cells[1])
		if err != nil {
			t.Fatalf("README bounds row %q: %v", l, err)
		}
		var by bool
		switch {
		case cells[3] == "contract":
			by = true
		case strings.HasPrefix(cells[3], "ours"):
		default:
			t.Fatalf("README bounds row %q: set by %q, want contract or ours", l, cells[3])
		}
		out = append(out, adapter.Bound{Field: strings.Trim(cells[0], "`"), Max: max, Unit: cells[2], Contract: by})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatal("README has no length bounds table")
	}
	return out
}

// README's table states exactly the bounds the adapter has, in its order.
func TestReadmeStatesEveryBound(t *testing.T) {
	got, want := readmeBounds(t), adapter.Bounds()
	if len(got) != len(want) {
		t.Errorf("README lists %d bounds, the adapter has %d", len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			t.Errorf("bound %d: README says %+v, the adapter %+v", i+1, got[i], want[i])
		}
	}
}

// Each listed bound is the one the reader enforces: a value of exactly the
// bound is accepted, one more character (or byte) rejects the entry naming
// the field. Characters are tested with a two-byte letter, so a bound in
// characters is not a bound in bytes.
func TestBoundsAreTheReadersOwn(t *testing.T) {
	for _, b := range adapter.Bounds() {
		t.Run(b.Field, func(t *testing.T) {
			unit := "ä"
			if b.Unit == "bytes" {
				unit = "a"
			}
			at, over := lineWith(t, b, strings.Repeat(unit, b.Max)), lineWith(t, b, strings.Repeat(unit, b.Max+1))
			if it := readOne(t, at); it.Rejection != nil {
				t.Fatalf("%d %s rejected: %s %s", b.Max, b.Unit, it.Rejection.Field, it.Rejection.Reason)
			}
			it := readOne(t, over)
			wantField := b.Field
			if b.Field == "(line)" {
				wantField = ""
			}
			if it.Rejection == nil || it.Rejection.Field != wantField {
				t.Fatalf("%d %s: %+v, want a rejection naming %q", b.Max+1, b.Unit, it.Rejection, wantField)
			}
		})
	}
}

// lineWith is the social welfare line (which has every bounded field) with
// the field set to v; for the whole line, a line of exactly len(v) bytes,
// padded by a key the contract does not know (ignored).
func lineWith(t *testing.T, b adapter.Bound, v string) string {
	t.Helper()
	if b.Field != "(line)" {
		return mutate(t, socialWorkLine, map[string]any{b.Field: v})
	}
	base := mutate(t, socialWorkLine, map[string]any{"x_pad": ""})
	pad := len(v) - len(base)
	if pad < 0 {
		t.Fatalf("base line of %d bytes is over %d", len(base), len(v))
	}
	return strings.Replace(base, `"x_pad":""`, fmt.Sprintf(`"x_pad":"%s"`, strings.Repeat("a", pad)), 1)
}

func readOne(t *testing.T, line string) adapter.Item {
	t.Helper()
	items := readAll(t, line+"\n", adapter.Options{})
	if len(items) != 1 {
		t.Fatalf("got %d items, want 1", len(items))
	}
	return items[0]
}

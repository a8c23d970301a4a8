package xmltest

import (
	"slices"
	"strings"
	"testing"
)

const frame = `
RCMR_IN100002FI01 ITSVersion=XML_1.0
  id
  controlActProcess moodCode=EVN classCode=CACT
    subject
      clinicalDocument
        id
    subject
      clinicalDocument
`

func TestParseOutline(t *testing.T) {
	sorted := func(a []string) []string { return slices.Sorted(slices.Values(a)) }
	got := ParseOutline(t, frame, sorted)
	want := []string{
		"RCMR_IN100002FI01 ITSVersion=XML_1.0",
		"RCMR_IN100002FI01/id",
		"RCMR_IN100002FI01/controlActProcess classCode=CACT moodCode=EVN",
		"RCMR_IN100002FI01/controlActProcess/subject",
		"RCMR_IN100002FI01/controlActProcess/subject/clinicalDocument",
		"RCMR_IN100002FI01/controlActProcess/subject/clinicalDocument/id",
		"RCMR_IN100002FI01/controlActProcess/subject",
		"RCMR_IN100002FI01/controlActProcess/subject/clinicalDocument",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("ParseOutline:\n%s", Diff(want, got))
	}
	if raw := ParseOutline(t, frame, nil); raw[2] != "RCMR_IN100002FI01/controlActProcess moodCode=EVN classCode=CACT" {
		t.Errorf("without an order the attributes stay as written: %q", raw[2])
	}
}

func TestDrop(t *testing.T) {
	lines := ParseOutline(t, frame, nil)
	const subject = "RCMR_IN100002FI01/controlActProcess/subject"
	second, ok := Drop(lines, subject, 2)
	if !ok || len(second) != len(lines)-2 || PathOf(second[len(second)-1]) != subject+"/clinicalDocument/id" {
		t.Fatalf("dropping the second subject: %v %q", ok, second)
	}
	all, ok := Drop(lines, subject, 0)
	if !ok || len(all) != 3 {
		t.Fatalf("dropping every subject: %v %q", ok, all)
	}
	if _, ok := Drop(lines, subject, 3); ok {
		t.Error("a third subject was dropped; there are two")
	}
}

func TestSwapLineAndDiff(t *testing.T) {
	real := []string{"a", "a/b x=1"}
	ours := []string{"a", "a/b x=2"}
	if SwapLine(real, ours, "a/b x=1", "a/b x=3") {
		t.Error("swapped a line ours does not have")
	}
	if !SwapLine(real, ours, "a/b x=1", "a/b x=2") || !slices.Equal(real, ours) {
		t.Fatalf("after the swap ours is %q", ours)
	}
	d := Diff([]string{"a", "a/b"}, []string{"a"})
	if strings.Count(d, "≠") != 1 || !strings.Contains(d, "a/b") {
		t.Errorf("Diff marks one line: %s", d)
	}
}

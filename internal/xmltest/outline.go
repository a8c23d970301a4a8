// Package xmltest compares XML structures in tests as outlines: one
// "path attrs" line per element, in document order (path the element names
// from the root, separated by /). The conformance tests of wire and
// documents/cda state the real Kanta messages' structures this way and
// compare ours with them.
package xmltest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// ParseOutline reads an indented outline (two spaces a level, element name
// then its attributes) into "path attrs" lines. attrs, when not nil, puts
// a line's attributes in the order the outline maker writes them.
func ParseOutline(t testing.TB, s string, attrs func([]string) []string) []string {
	t.Helper()
	var out, stack []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) == "" {
			continue
		}
		indent := len(l) - len(strings.TrimLeft(l, " "))
		if indent%2 != 0 || indent/2 > len(stack) {
			t.Fatalf("outline line %q: bad indentation", l)
		}
		fields := strings.Fields(l)
		stack = append(stack[:indent/2], fields[0])
		a := fields[1:]
		if attrs != nil {
			a = attrs(a)
		}
		out = append(out, strings.Join(append([]string{strings.Join(stack, "/")}, a...), " "))
	}
	return out
}

// PathOf is the path of an outline line.
func PathOf(line string) string { p, _, _ := strings.Cut(line, " "); return p }

// Drop removes the element at path with its subtree: its occurrence-th
// (counting from 1), or every one when occurrence is 0. False when there
// is none.
func Drop(lines []string, path string, occurrence int) ([]string, bool) {
	var out []string
	seen, dropped, skipping := 0, false, false
	for _, l := range lines {
		p := PathOf(l)
		if skipping && strings.HasPrefix(p, path+"/") {
			continue
		}
		skipping = false
		if p == path {
			seen++
			if occurrence == 0 || seen == occurrence {
				skipping, dropped = true, true
				continue
			}
		}
		out = append(out, l)
	}
	return out, dropped
}

// SwapLine finds real's line r and ours's line o and gives ours the real
// one (a stated difference of attributes). False when either is missing.
func SwapLine(real, ours []string, r, o string) bool {
	i, j := slices.Index(real, r), slices.Index(ours, o)
	if i < 0 || j < 0 {
		return false
	}
	ours[j] = real[i]
	return true
}

// Diff shows two outlines side by side, marking where they part.
func Diff(real, ours []string) string {
	var b strings.Builder
	for i := 0; i < max(len(real), len(ours)); i++ {
		var r, o string
		if i < len(real) {
			r = real[i]
		}
		if i < len(ours) {
			o = ours[i]
		}
		mark := "  "
		if r != o {
			mark = "≠ "
		}
		fmt.Fprintf(&b, "%s real: %-70s ours: %s\n", mark, r, o)
	}
	return b.String()
}

package fhir

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// parseTree makes the tree jsonschema.UnmarshalJSON (encoding/json with
// UseNumber) makes, and refuses what it refuses: over every Bundle kind,
// hand-made edge cases, and random edits of a Bundle (bytes deleted,
// duplicated, replaced by JSON's special characters).
func TestParseTreeAgreesWithEncodingJSON(t *testing.T) {
	check := func(t *testing.T, in []byte) {
		t.Helper()
		want, wantErr := jsonschema.UnmarshalJSON(bytes.NewReader(in))
		got, gotErr := parseTree(in)
		if (wantErr != nil) != (gotErr != nil) {
			t.Fatalf("%q: encoding/json %v, parseTree %v", in, wantErr, gotErr)
		}
		if wantErr == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: trees differ:\n%#v\n%#v", in, got, want)
		}
	}
	kinds := bundleKinds(t)
	for _, k := range kinds {
		check(t, k.raw)
	}
	cases := []string{
		``, ` `, `{}`, `[]`, `{} `, ` {}x`, `{}{}`, `{"a":1}`, `{"a":1,}`, `{"a" 1}`, `{a:1}`, `[1,]`, `[,1]`,
		`0`, `-0`, `01`, `-`, `1.`, `.5`, `1e`, `1e+`, `1E-7`, `-1.5e+300`, `1e999`, `123456789012345678901234567890`,
		`true`, `tru`, `truex`, `false`, `null`, `nul`, `"`, `"abc`, `"a\"b"`, `"\u00e9\/\b\f\n\r\t"`, `"\x"`,
		`"\u12"`, `"\u12G4"`, `"\ud83d\ude00"`, `"\ud83d"`, `"\ud83dx"`, `"\ude00\ud83d"`, `"\ud83d\u0041"`,
		"\"\x01\"", "\"a\tb\"", "\"\xff\"", "\"\xe2\x82\"", "\"\xef\xbf\xbd\"", "\"é€😀\"", `{"a":1,"a":2}`,
		`{"a":{"b":1},"a":{"c":2}}`, "\ufeff{}", `[1 2]`, `{"a":[1,{"b":null}]}`, " \t\r\n[ 1 , 2 ] \n",
		strings.Repeat("[", 10000) + strings.Repeat("]", 10000), strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
		strings.Repeat(`{"a":`, 10001) + "1" + strings.Repeat("}", 10001),
	}
	for _, c := range cases {
		check(t, []byte(c))
	}
	raw := kinds["amendment"].raw
	specials := []byte(`{}[]",:\ 0-1.eE+tfn` + "\x00\x1f\xff\xc3")
	rng := rand.New(rand.NewPCG(16, 2026))
	for i := 0; i < 3000; i++ {
		b := append([]byte(nil), raw...)
		for e := 0; e < 1+rng.IntN(3); e++ {
			at := rng.IntN(len(b))
			switch rng.IntN(3) {
			case 0:
				b = append(b[:at], b[at+1:]...)
			case 1:
				b = append(b[:at+1], b[at:]...)
			default:
				b[at] = specials[rng.IntN(len(specials))]
			}
		}
		check(t, b)
	}
}

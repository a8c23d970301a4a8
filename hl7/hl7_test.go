package hl7

import (
	"go/ast"
	"go/parser"
	"go/token"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// oid is the dotted form Kanta's messages use (no leading zeros).
var oid = regexp.MustCompile(`^[0-2](\.(0|[1-9][0-9]*))+$`)

// The identifier roots, profiles and code systems are OIDs, and no two
// names share one: a second name for an OID would be a second home for it.
func TestOIDsAreWellFormedAndNamedOnce(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "hl7.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	byValue := map[string]string{}
	n := 0
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			vs := s.(*ast.ValueSpec)
			for i, name := range vs.Names {
				if !strings.HasPrefix(name.Name, "OID") && !strings.HasPrefix(name.Name, "System") && !strings.HasPrefix(name.Name, "Profile") {
					continue
				}
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok {
					t.Errorf("%s is not a literal", name.Name)
					continue
				}
				v, _ := strconv.Unquote(lit.Value)
				if !oid.MatchString(v) {
					t.Errorf("%s = %q is not an OID", name.Name, v)
				}
				if other, dup := byValue[v]; dup {
					t.Errorf("%s and %s are both %s", other, name.Name, v)
				}
				byValue[v] = name.Name
				n++
			}
		}
	}
	if n < 30 {
		t.Fatalf("found %d OID constants; hl7.go has more", n)
	}
}

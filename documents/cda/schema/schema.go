// Package schema embeds the Finnish CDA R2 schema set (CDA_Fi.xsd and the
// files it includes; Apache-2.0, LICENSE-2.0.txt) so a receiver can
// validate documents without files beside the binary.
package schema

import (
	"embed"
	"fmt"
	"os"
	"path/filepath"
)

//go:embed *.xsd LICENSE-2.0.txt
var files embed.FS

// Main is the schema a CDA document validates against; the others are
// included by it.
const Main = "CDA_Fi.xsd"

// WriteTo writes the schema set into dir (which must exist) and returns the
// path of Main there. XSD validators resolve xs:include relative to the
// including file, so the set is written whole.
func WriteTo(dir string) (string, error) {
	entries, err := files.ReadDir(".")
	if err != nil {
		return "", err
	}
	for _, e := range entries {
		b, err := files.ReadFile(e.Name())
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o600); err != nil {
			return "", fmt.Errorf("cda schema: %w", err)
		}
	}
	return filepath.Join(dir, Main), nil
}

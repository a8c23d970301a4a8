// Command kanta-gateway delivers finalized student-welfare record entries
// from Apotti export batches to Kanta.
package main

import (
	"os"

	"github.com/helsinki-student-welfare/kanta-gateway/cli"
	"github.com/helsinki-student-welfare/kanta-gateway/profiling"
)

func main() {
	stopProfile := profiling.Start("kanta-gateway")
	code := cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stopProfile()
	os.Exit(code)
}

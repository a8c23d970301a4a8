package config

import "testing"

// BenchmarkLocation is what the builder pays per held document to know
// the policy zone's go-live instant.
//
//	go test -run '^$' -bench BenchmarkLocation ./config/
func BenchmarkLocation(b *testing.B) {
	c := Default()
	if c.Location().String() != c.TimeZone {
		b.Fatalf("Location() = %s, want %s", c.Location(), c.TimeZone)
	}
	b.ReportAllocs()
	for b.Loop() {
		c.Location()
	}
}

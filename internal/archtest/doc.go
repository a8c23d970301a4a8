// Package archtest holds the test that the imports follow the layers
// DESIGN.md states ("Shape of the system"); it has no code of its own.
package archtest

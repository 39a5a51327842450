package main

import (
	"testing"

	"github.com/farmhand/farmhand/internal/bindtest"
	"github.com/farmhand/farmhand/internal/mariadbtest"
)

// TestOneRound runs the benchmark's round, as the README's command does.
func TestOneRound(t *testing.T) {
	mariadbtest.Require(t)
	bindtest.RequireNamed(t)
	if err := round(50); err != nil {
		t.Fatal(err)
	}
}

package main

import (
	"os"
	"testing"

	"github.com/farmhand/farmhand/internal/netguard"
)

// The example's runs may connect to loopback only.
func TestMain(m *testing.M) { os.Exit(netguard.Guarded(m).Run()) }

package providertest_test

import (
	"os"
	"testing"

	"github.com/farmhand/farmhand/internal/netguard"
)

func TestMain(m *testing.M) { os.Exit(netguard.Guarded(m).Run()) }

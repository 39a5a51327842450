package farm

import (
	"os"
	"testing"

	"github.com/farmhand/farmhand/internal/netguard"
)

// Every test of the package may connect to loopback only: a connection to
// any other address (a fake server's public address, say) fails the run.
func TestMain(m *testing.M) { os.Exit(netguard.Guarded(m).Run()) }

package fake_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/farmhand/farmhand/internal/netguard"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(netguard.Guarded(m)) }

package retry

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestDelayOfReadsTheWaitThroughWrapping(t *testing.T) {
	base := errors.New("throttled")
	err := fmt.Errorf("update: %w", WithDelay(base, 3*time.Second))
	if got := DelayOf(err); got != 3*time.Second {
		t.Errorf("DelayOf = %v, want 3s", got)
	}
	if !errors.Is(err, base) || err.Error() != "update: throttled" {
		t.Errorf("the cause is hidden: %v", err)
	}
	if got := DelayOf(base); got != 0 {
		t.Errorf("DelayOf of a plain error = %v, want 0", got)
	}
}

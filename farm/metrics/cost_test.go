package metrics_test

import (
	"math"
	"testing"
	"time"

	"github.com/farmhand/farmhand/farm"
)

func TestCostGauges(t *testing.T) {
	spec := farm.Spec{Name: "shop", Roles: []farm.RoleSpec{{Name: "app", Image: "img-app", Min: 2, Max: 2, PricePerHour: 0.25}}}
	r := newRig(t, spec)
	if err := r.f.Launch(r.ctx); err != nil {
		t.Fatal(err)
	}
	r.until("ready", func() bool { return r.f.Status().Ready() })
	before := r.f.Cost().SoFar
	r.tick(2 * time.Hour)
	labels := map[string]string{"farm": "shop", "role": "app"}
	if v, _ := r.sample("farmhand_cost_per_hour", labels); v != 0.5 {
		t.Errorf("cost per hour = %v, want 0.5", v)
	}
	if v, _ := r.sample("farmhand_cost_total", labels); math.Abs(v-before-1) > 1e-6 {
		t.Errorf("cost so far = %v, want %v (two hours of two servers at 0.25 more)", v, before+1)
	}
}

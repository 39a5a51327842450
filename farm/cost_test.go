package farm

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/farmhand/farmhand/provider/fake"
)

func pricedSpec(minCount, maxCount int, price float64, budget *BudgetSpec) Spec {
	s := appSpec(minCount, maxCount)
	s.Roles[0].PricePerHour = price
	s.Budget = budget
	return s
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-6 }

func TestCostCountsServerLifetimesOnTheFarmsClock(t *testing.T) {
	r := upRig(t, pricedSpec(2, 4, 0.5, nil), nil, fake.Options{})
	start := r.farm.Cost()
	if !near(start.PerHour, 1) || start.Roles[0].Servers != 2 {
		t.Fatalf("cost per hour %v with %d servers, want 1 with 2: %+v", start.PerHour, start.Roles[0].Servers, start)
	}
	r.tick(time.Hour)
	after := r.farm.Cost()
	if got := after.SoFar - start.SoFar; !near(got, 1) {
		t.Fatalf("an hour of 2 servers at 0.50 cost %v, want 1", got)
	}
	// A crashed server stops costing once it is gone; its replacement
	// costs from its launch.
	victim := r.farm.Servers("app")[0]
	if err := r.cloud.Crash(victim.ID); err != nil {
		t.Fatal(err)
	}
	r.tick(time.Minute)
	r.tick(time.Hour)
	end := r.farm.Cost()
	if got := end.SoFar - after.SoFar; got < 1 || got > 1.04 {
		t.Fatalf("61 minutes with a crash and a replacement cost %v, want about 1.02", got)
	}
	if !near(end.PerHour, 1) {
		t.Fatalf("cost per hour %v after the replacement, want 1", end.PerHour)
	}
	if end.ThisMonth > end.SoFar || end.ThisMonth <= 0 {
		t.Fatalf("this month %v, so far %v", end.ThisMonth, end.SoFar)
	}
}

func TestBudgetBlocksScaleOutButNotReplacement(t *testing.T) {
	r := upRig(t, pricedSpec(2, 6, 0.5, &BudgetSpec{PerHour: 1.5}), nil, fake.Options{})
	rec := recordEvents(r.farm)
	err := r.farm.SetDesired("app", 5)
	if err == nil || !strings.Contains(err.Error(), "budget 1.50/h blocks growth past 3") {
		t.Fatalf("SetDesired(5) over budget: %v, want the budget's refusal", err)
	}
	r.settle()
	ev := rec.of(ScalingDecision)
	if len(ev) != 1 || ev[0].Params["blocked"] != "budget" || ev[0].Params["to"] != "2" || ev[0].Params["wanted"] != "5" ||
		!strings.Contains(ev[0].Reason, "budget") {
		t.Fatalf("ScalingDecision events %+v, want one saying the budget blocked 2 → 5", ev)
	}
	if why := r.farm.Cost().Blocked["app"]; !strings.Contains(why, "budget") {
		t.Fatalf("Cost().Blocked[app] = %q", why)
	}
	if err := r.farm.SetDesired("app", 3); err != nil {
		t.Fatalf("SetDesired(3) within budget: %v", err)
	}
	r.tick(10 * time.Second)
	r.tick(30 * time.Second)
	if got := r.running("app"); len(got) != 3 {
		t.Fatalf("running %v, want 3", got)
	}
	// At the budget, a failed server is still replaced.
	if err := r.cloud.Crash(r.farm.Servers("app")[0].ID); err != nil {
		t.Fatal(err)
	}
	r.tick(10 * time.Second)
	r.tick(30 * time.Second)
	if got := r.running("app"); len(got) != 3 {
		t.Fatalf("running %v after a crash at the budget, want 3 (replaced)", got)
	}
}

func TestBudgetBelowTheMinimumStillRunsAndHealsTheMinimum(t *testing.T) {
	r := upRig(t, pricedSpec(2, 4, 1, &BudgetSpec{PerHour: 0.5, PerMonth: 1}), nil, fake.Options{})
	if err := r.farm.SetDesired("app", 3); err == nil {
		t.Fatal("SetDesired(3) over a spent budget succeeded")
	}
	if err := r.cloud.Crash(r.farm.Servers("app")[1].ID); err != nil {
		t.Fatal(err)
	}
	r.tick(10 * time.Second)
	r.tick(30 * time.Second)
	if got := r.running("app"); len(got) != 2 {
		t.Fatalf("running %v, want the minimum of 2 kept over budget", got)
	}
}

func TestBudgetHoldsThePolicyBack(t *testing.T) {
	spec := pricedSpec(1, 6, 1, &BudgetSpec{PerHour: 3})
	spec.Roles[0].Scaling = &ScalingSpec{API: &APISpec{}}
	r := upRig(t, spec, nil, fake.Options{})
	rec := recordEvents(r.farm)
	if err := r.farm.APITarget().SetDesired(r.ctx, "app", 5); err != nil {
		t.Fatal(err)
	}
	if err := r.farm.EvaluateScaling(r.ctx); err != nil {
		t.Fatal(err)
	}
	r.tick(10 * time.Second)
	r.tick(30 * time.Second)
	if got := r.running("app"); len(got) != 3 {
		d, _ := r.farm.LastScalingDecision("app")
		t.Fatalf("running %v, want 3 (the budget limit); last %+v", got, d)
	}
	var found bool
	for _, ev := range rec.of(ScalingDecision) {
		if ev.Params["to"] == "3" && strings.Contains(ev.Reason, "budget 3.00/h blocks growth past 3") {
			found = true
		}
	}
	if !found {
		t.Fatalf("no ScalingDecision to 3 naming the budget: %+v", rec.of(ScalingDecision))
	}
	d, _ := r.farm.LastScalingDecision("app")
	if d.To != 3 || !strings.Contains(d.Reason, "budget") {
		t.Fatalf("last decision %+v", d)
	}
}

func TestNegativePricesAndBudgetsAreRefused(t *testing.T) {
	spec := pricedSpec(1, 2, -1, &BudgetSpec{PerHour: -2, PerMonth: -3})
	_, err := New(spec, fake.New(fake.Options{}), nil)
	for _, want := range []string{"price_per_hour", "budget.per_hour", "budget.per_month"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New: %v, want it to name %s", err, want)
		}
	}
}

func TestCostSoFarSurvivesARestart(t *testing.T) {
	spec := pricedSpec(2, 4, 0.5, nil)
	st := farmStore(t, spec.Name)
	r := upRig(t, spec, &Options{Store: st}, fake.Options{})
	r.tick(time.Hour)
	r.tick(time.Minute) // the cost so far is saved at most once a minute
	saved := r.farm.Cost().SoFar
	if saved < 1 {
		t.Fatalf("cost so far %v after an hour of two servers at 0.50", saved)
	}
	r.farm.Close()
	second := r.restart(spec, Options{Store: st})
	if got := second.Cost(); got.SoFar < saved-1e-9 || got.ThisMonth <= 0 {
		t.Fatalf("restarted controller's cost so far %v (this month %v), want %v", got.SoFar, got.ThisMonth, saved)
	}
}

package farm

import (
	"fmt"
	"math"
)

// BudgetSpec caps what a farm may spend (see [RoleSpec.PricePerHour]).
// Past it, scale-out is blocked: a role that would grow is held where the
// budget allows, and a ScalingDecision event says so. Replacing servers
// that failed, and growing a role up to its minimum, are never blocked.
type BudgetSpec struct {
	// PerHour caps the farm's running cost per hour: the sum over its
	// roles of the desired count times the price. 0 means no cap.
	PerHour float64 `yaml:"per_hour,omitempty"`
	// PerMonth caps the cost of the calendar month in the farm's time
	// zone: what was spent since the month began plus the running cost
	// per hour for the hours left in it. 0 means no cap.
	PerMonth float64 `yaml:"per_month,omitempty"`
}

// budgetInput is what the budget check of one role's growth reads.
type budgetInput struct {
	Budget BudgetSpec
	// Price is the role's price per server-hour.
	Price float64
	// OthersPerHour is the cost per hour of the farm's other roles at
	// their desired counts.
	OthersPerHour float64
	// From is the role's desired count, To the count asked for and Min
	// the role's lower bound in force.
	From, To, Min int
	// MonthSpent is what the farm spent since the month began; HoursLeft
	// the hours until it ends.
	MonthSpent float64
	HoursLeft  float64
}

// budgetAllows returns the largest count in from..to the budget allows
// (never less than from or the role's min: replacing failed servers and
// reaching the minimum are not the budget's to block) and, when that is
// less than to, the reason, naming the cap.
func budgetAllows(in budgetInput) (int, string) {
	floor := max(in.From, in.Min)
	if in.To <= floor || in.Price <= 0 || (in.Budget.PerHour <= 0 && in.Budget.PerMonth <= 0) {
		return in.To, ""
	}
	limit := in.To
	var why string
	if b := in.Budget.PerHour; b > 0 {
		n := int(math.Floor((b - in.OthersPerHour) / in.Price * (1 + 1e-12)))
		if n < limit {
			limit = n
			why = fmt.Sprintf("budget %s/h blocks growth past %d: %d servers would cost %s/h",
				money(b), max(n, floor), in.To, money(in.OthersPerHour+float64(in.To)*in.Price))
		}
	}
	if b := in.Budget.PerMonth; b > 0 && in.HoursLeft > 0 {
		n := int(math.Floor(((b-in.MonthSpent)/in.HoursLeft - in.OthersPerHour) / in.Price * (1 + 1e-12)))
		if n < limit {
			limit = n
			why = fmt.Sprintf("budget %s/month blocks growth past %d: %s spent, %d servers would bring the month to %s",
				money(b), max(n, floor), money(in.MonthSpent), in.To,
				money(in.MonthSpent+(in.OthersPerHour+float64(in.To)*in.Price)*in.HoursLeft))
		}
	}
	if limit >= in.To {
		return in.To, ""
	}
	return max(limit, floor), why
}

// money formats an amount of the prices' currency.
func money(v float64) string {
	return fmt.Sprintf("%.2f", v)
}

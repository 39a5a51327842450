package farm

import (
	"strings"
	"testing"
)

func TestBudgetAllows(t *testing.T) {
	hourly := BudgetSpec{PerHour: 1}
	monthly := BudgetSpec{PerMonth: 100}
	tests := []struct {
		name   string
		in     budgetInput
		want   int
		reason string // a part of the reason; empty: none
	}{
		{"no budget allows any growth",
			budgetInput{Price: 0.5, From: 2, To: 10}, 10, ""},
		{"a role without a price grows past any budget",
			budgetInput{Budget: hourly, Price: 0, From: 2, To: 10}, 10, ""},
		{"shrinking is never blocked",
			budgetInput{Budget: hourly, Price: 0.5, OthersPerHour: 5, From: 4, To: 2}, 2, ""},
		{"growth within the hourly budget is allowed",
			budgetInput{Budget: hourly, Price: 0.1, OthersPerHour: 0.5, From: 2, To: 5}, 5, ""},
		{"growth that lands exactly on the hourly budget is allowed",
			budgetInput{Budget: hourly, Price: 0.1, OthersPerHour: 0.6, From: 2, To: 4}, 4, ""},
		{"growth past the hourly budget stops where the budget ends",
			budgetInput{Budget: hourly, Price: 0.1, OthersPerHour: 0.5, From: 2, To: 8}, 5, "budget 1.00/h blocks growth past 5"},
		{"growth is blocked outright when the farm is at the hourly budget",
			budgetInput{Budget: hourly, Price: 0.25, OthersPerHour: 0.5, From: 2, To: 3}, 2, "budget 1.00/h blocks growth past 2"},
		{"a farm over budget keeps its servers (the budget never shrinks a role)",
			budgetInput{Budget: hourly, Price: 1, OthersPerHour: 3, From: 2, To: 4}, 2, "blocks growth past 2"},
		{"growing up to the minimum is never blocked",
			budgetInput{Budget: hourly, Price: 1, OthersPerHour: 3, From: 1, To: 3, Min: 3}, 3, ""},
		{"growing past the minimum over budget stops at the minimum",
			budgetInput{Budget: hourly, Price: 1, OthersPerHour: 3, From: 1, To: 5, Min: 3}, 3, "blocks growth past 3"},
		{"the monthly budget counts what was spent and the hours left",
			budgetInput{Budget: monthly, Price: 0.1, MonthSpent: 60, HoursLeft: 100, From: 1, To: 6}, 4, "budget 100.00/month blocks growth past 4: 60.00 spent"},
		{"the monthly budget allows growth that fits the rest of the month",
			budgetInput{Budget: monthly, Price: 0.1, MonthSpent: 50, HoursLeft: 100, From: 1, To: 5}, 5, ""},
		{"a spent monthly budget blocks all growth",
			budgetInput{Budget: monthly, Price: 0.1, MonthSpent: 120, HoursLeft: 100, From: 2, To: 3}, 2, "blocks growth past 2"},
		{"the tighter of the two budgets wins",
			budgetInput{Budget: BudgetSpec{PerHour: 1, PerMonth: 100}, Price: 0.1, MonthSpent: 60, HoursLeft: 100, From: 1, To: 9}, 4, "/month"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reason := budgetAllows(tt.in)
			if got != tt.want {
				t.Errorf("budgetAllows = %d (%q), want %d", got, reason, tt.want)
			}
			if tt.reason == "" && reason != "" {
				t.Errorf("reason %q, want none", reason)
			}
			if tt.reason != "" && !strings.Contains(reason, tt.reason) {
				t.Errorf("reason %q, want it to contain %q", reason, tt.reason)
			}
		})
	}
}

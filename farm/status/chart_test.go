package status

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestGridCounts(t *testing.T) {
	for _, c := range []struct {
		name string
		top  int
		want []int
	}{
		{"one server gets 0 and 1", 1, []int{0, 1}},
		{"four servers get every count", 4, []int{0, 1, 2, 3, 4}},
		{"six servers get every second count", 6, []int{0, 2, 4, 6}},
		{"eighty servers get steps of twenty", 80, []int{0, 20, 40, 60, 80}},
		{"a hundred servers get steps of fifty", 100, []int{0, 50, 100}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := gridCounts(c.top); !slices.Equal(got, c.want) {
				t.Errorf("gridCounts(%d) = %v, want %v", c.top, got, c.want)
			}
		})
	}
}

func TestCapacityChart(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	steps := []ScalingStep{
		{Time: t0.Add(10 * time.Minute), From: 2, To: 4, Max: 4, Reason: `load1 > 2 & "busy"`},
		{Time: t0.Add(30 * time.Minute), From: 4, To: 3, Max: 4},
	}
	t.Run("no history draws nothing", func(t *testing.T) {
		if svg := capacityChart("app", nil, t0, t0); svg != "" {
			t.Errorf("chart of no steps: %q", svg)
		}
	})
	t.Run("steps are marked where they happened", func(t *testing.T) {
		svg := capacityChart("app", steps, t0, t0.Add(40*time.Minute))
		// 40 minutes over 660 units from x=44: 10 min is x=209, 30 min
		// x=539; counts 0..4 over 170 units from y=186.
		for _, want := range []string{
			`<path class="capacity" d="M44.0 101.0 H209.0 V16.0 H539.0 V58.5 H704.0"`,
			`data-time="2026-03-02T09:10:00Z" data-count="4" cx="209.0" cy="16.0"`,
			`data-time="2026-03-02T09:30:00Z" data-count="3"`,
			`load1 &gt; 2 &amp; &#34;busy&#34;`,
		} {
			if !strings.Contains(svg, want) {
				t.Errorf("chart lacks %q:\n%s", want, svg)
			}
		}
	})
	t.Run("a role name is escaped", func(t *testing.T) {
		svg := capacityChart(`a"<b>`, steps, time.Time{}, t0.Add(time.Hour))
		if strings.Contains(svg, `<b>`) || !strings.Contains(svg, `data-role="a&#34;&lt;b&gt;"`) {
			t.Errorf("unescaped role name:\n%.300s", svg)
		}
	})
}

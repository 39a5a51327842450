package farm

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/farmhand/farmhand/scaling"
)

func TestScalingSpecFromYAMLBecomesAPolicy(t *testing.T) {
	spec, err := LoadFile("testdata/scaling.yaml")
	if err != nil {
		t.Fatal(err)
	}
	app, _ := spec.Role("app")
	if app.LoadBalancer != "web" || app.Scaling == nil {
		t.Fatalf("role: %+v", app)
	}
	got, err := app.Scaling.Policy(app.Min, app.Max, spec.TimeZone)
	if err != nil {
		t.Fatal(err)
	}
	want := scaling.Policy{
		Min: 2, Max: 12,
		EvaluationInterval: time.Minute, CooldownUp: 3 * time.Minute, CooldownDown: 10 * time.Minute, WarmUp: 3 * time.Minute,
		Checks: []scaling.Check{
			&scaling.Threshold{Metric: "load1", Up: scaling.Above(2, scaling.Percent(50)), Down: scaling.Below(0.8, scaling.Count(1)), Datapoints: 2},
			&scaling.TargetValue{Metric: "requests", Aggregate: scaling.Total, Target: 100, DisableScaleIn: true},
			&scaling.Schedule{TimeZone: "Europe/Berlin", Windows: []scaling.Window{
				{Name: "office hours", Days: []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday},
					Start: "08:00", End: "18:00", Min: ptr(4)},
				{Cron: "0 20 * * sat", Duration: 2 * time.Hour, Desired: ptr(6)},
			}},
			&scaling.APICapacity{TTL: time.Hour},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("policy:\n got %#v\nwant %#v", got, want)
	}
	// The spec is deep-copied with the farm's.
	clone := spec.Clone()
	c, _ := clone.Role("app")
	*c.Scaling.Thresholds[0].UpAbove = 9
	c.Scaling.Schedule.Windows[0].Days[0] = "sun"
	if *app.Scaling.Thresholds[0].UpAbove != 2 || app.Scaling.Schedule.Windows[0].Days[0] != "mon-fri" {
		t.Fatal("Clone shares the scaling section")
	}
}

func TestScalingSpecValidationNamesRoleAndField(t *testing.T) {
	base := func(s *ScalingSpec) Spec {
		return Spec{Name: "shop", Roles: []RoleSpec{{Name: "app", Image: "img", Min: 2, Max: 8, Scaling: s}}}
	}
	tests := []struct {
		name string
		spec *ScalingSpec
		want []string
	}{
		{"a negative interval", &ScalingSpec{EvaluationInterval: -time.Second},
			[]string{`roles[0].scaling.evaluation_interval: role "app": scaling.evaluation_interval -1s is negative`}},
		{"an interval under a second", &ScalingSpec{EvaluationInterval: time.Millisecond},
			[]string{`roles[0].scaling.evaluation_interval: role "app": scaling.evaluation_interval 1ms is under 1s`}},
		{"a threshold without sides", &ScalingSpec{Thresholds: []ThresholdSpec{{Metric: "load1"}}},
			[]string{`roles[0].scaling.thresholds[0]: role "app": scaling.thresholds[0]: neither up_above nor down_below is set`}},
		{"a step that is not a count", &ScalingSpec{Thresholds: []ThresholdSpec{{Metric: "load1", UpAbove: ptr(2.0), UpBy: "lots"}}},
			[]string{`roles[0].scaling.thresholds[0].up_by: role "app": scaling.thresholds[0].up_by "lots" is not a count of servers >= 1 or a percentage such as "50%"`}},
		{"a zero percentage", &ScalingSpec{Thresholds: []ThresholdSpec{{Metric: "load1", DownBelow: ptr(1.0), DownBy: "0%"}}},
			[]string{`roles[0].scaling.thresholds[0].down_by: role "app": scaling.thresholds[0].down_by "0%" is not a percentage within (0, 1000]`}},
		{"a step without its side", &ScalingSpec{Thresholds: []ThresholdSpec{{Metric: "load1", UpAbove: ptr(2.0), DownBy: "1"}}},
			[]string{`roles[0].scaling.thresholds[0].down_by: role "app": scaling.thresholds[0].down_by "1" is set without down_below`}},
		{"an unknown aggregate", &ScalingSpec{Targets: []TargetSpec{{Metric: "rps", Value: 10, Aggregate: "median"}}},
			[]string{`roles[0].scaling.targets[0].aggregate: role "app": scaling.targets[0].aggregate "median" is not "avg" or "total"`}},
		{"a threshold without a metric", &ScalingSpec{Thresholds: []ThresholdSpec{{UpAbove: ptr(2.0)}}},
			[]string{`roles[0].scaling.thresholds[0]: role "app": scaling.thresholds[0]: metric is empty`}},
		{"a target of zero", &ScalingSpec{Targets: []TargetSpec{{Metric: "rps"}}},
			[]string{`roles[0].scaling.targets[0]: role "app": scaling.targets[0]: target 0 is not a positive number`}},
		{"an unknown weekday", &ScalingSpec{Schedule: &ScheduleSpec{Windows: []WindowSpec{{Days: []string{"mon", "funday"}, Start: "08:00", End: "18:00", Min: ptr(3)}}}},
			[]string{`roles[0].scaling.schedule.windows[0].days[1]: role "app": scaling.schedule.windows[0].days[1] "funday" is not a weekday ("mon", "Monday") or a range of them ("mon-fri")`}},
		{"a window time out of range", &ScalingSpec{Schedule: &ScheduleSpec{Windows: []WindowSpec{{Days: []string{"mon"}, Start: "25:00", End: "18:00", Min: ptr(3)}}}},
			[]string{`roles[0].scaling.schedule.windows[0]: role "app": scaling.schedule.windows[0]: start "25:00"`}},
		{"a window desired outside the role's bounds", &ScalingSpec{Schedule: &ScheduleSpec{Windows: []WindowSpec{{Cron: "@daily", Duration: time.Hour, Desired: ptr(20)}}}},
			[]string{`roles[0].scaling.schedule.windows[0]: role "app": scaling.schedule.windows[0]: desired 20 is outside the window's bounds [2, 8]`}},
		{"an unknown time zone", &ScalingSpec{Schedule: &ScheduleSpec{TimeZone: "Mars/Olympus", Windows: []WindowSpec{{Cron: "@daily", Duration: time.Hour, Min: ptr(3)}}}},
			[]string{`roles[0].scaling.schedule.time_zone: role "app": scaling.schedule.time_zone "Mars/Olympus" is not a known IANA time zone`}},
		{"a negative API TTL", &ScalingSpec{API: &APISpec{TTL: -time.Minute}},
			[]string{`roles[0].scaling.api: role "app": scaling.api: TTL -1m0s is negative`}},
		{"two checks with one name", &ScalingSpec{Thresholds: []ThresholdSpec{{Metric: "load1", UpAbove: ptr(2.0)}, {Metric: "load1", DownBelow: ptr(0.5)}}},
			[]string{`roles[0].scaling: role "app": scaling: checks[0] and checks[1] are both named "threshold load1"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := base(tt.spec).Validate()
			fes := FieldErrors(err)
			if len(fes) != len(tt.want) {
				t.Fatalf("errors = %v, want %d", err, len(tt.want))
			}
			for i, fe := range fes {
				if got := fe.Path + ": " + fe.Error(); !strings.HasPrefix(got, tt.want[i]) {
					t.Errorf("error %d =\n  %s\nwant prefix\n  %s", i, got, tt.want[i])
				}
			}
		})
	}
}

func TestScalingSpecAcceptsWeekdayForms(t *testing.T) {
	tests := []struct {
		in   string
		want []time.Weekday
	}{
		{"mon", []time.Weekday{time.Monday}},
		{"Monday", []time.Weekday{time.Monday}},
		{"SAT", []time.Weekday{time.Saturday}},
		{"mon-fri", []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}},
		{"fri-mon", []time.Weekday{time.Friday, time.Saturday, time.Sunday, time.Monday}},
		{"sun-sun", []time.Weekday{time.Sunday}},
	}
	for _, tt := range tests {
		got, err := parseDays(tt.in)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseDays(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "mo", "monx", "mon-", "-fri", "mon-fri-sat"} {
		if _, err := parseDays(bad); err == nil {
			t.Errorf("parseDays(%q) accepted", bad)
		}
	}
}

func TestScalingYAMLErrorsCarryTheLine(t *testing.T) {
	yaml := `name: shop
roles:
  - name: app
    image: ami-1
    min: 1
    max: 4
    scaling:
      thresholds:
        - metric: load1
          up_above: 2
          up_by: many
`
	_, err := ParseYAML([]byte(yaml), "farm.yaml")
	if err == nil || err.Error() != `farm.yaml:11: role "app": scaling.thresholds[0].up_by "many" is not a count of servers >= 1 or a percentage such as "50%"` {
		t.Fatalf("error = %v", err)
	}
}

func TestScalingYAMLUnknownFieldIsNamed(t *testing.T) {
	yaml := `name: shop
roles:
  - name: app
    image: ami-1
    min: 1
    max: 4
    scaling:
      thresholds:
        - metric: load1
          up_abov: 2
`
	_, err := ParseYAML([]byte(yaml), "farm.yaml")
	if err == nil || err.Error() != `farm.yaml:10: role "app": scaling.thresholds[0]: unknown key "up_abov" in a threshold; did you mean "up_above"?` {
		t.Fatalf("error = %v", err)
	}
}

package farm

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func validSpec() Spec {
	return Spec{
		Name:      "shop",
		Location:  "us-east-1",
		TimeZone:  "UTC",
		Variables: map[string]string{"site": "example.com"},
		Roles: []RoleSpec{
			{Name: "db", Image: "img-db", Min: 1, Max: 1},
			{
				Name: "app64", Image: "img-app", Min: 2, Max: 5, DependsOn: []string{"db"},
				Zones:        []string{"fake-1a", "fake-1b"},
				HealthChecks: []HealthCheckSpec{{Kind: "http", URL: "http://%internal_ip%:8080/health", ExpectStatus: 200}},
				Tags:         map[string]string{"team": "web"},
			},
		},
	}
}

func TestValidateAcceptsAGoodSpec(t *testing.T) {
	if err := validSpec().Validate(); err != nil {
		t.Fatalf("Validate of a good spec: %v", err)
	}
}

func TestValidateNamesRoleFieldAndValue(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Spec)
		want   string // the whole message of the only error
	}{
		{"min above max is refused", func(s *Spec) { s.Roles[1].Min, s.Roles[1].Max = 5, 3 }, `role "app64": min 5 > max 3`},
		{"negative min is refused", func(s *Spec) { s.Roles[0].Min = -1 }, `role "db": min -1 < 0`},
		{"max of zero is refused", func(s *Spec) { s.Roles[0].Min, s.Roles[0].Max = 0, 0 }, `role "db": max 0 < 1`},
		{"desired above max is refused", func(s *Spec) { s.Roles[1].Desired = 6 }, `role "app64": desired 6 > max 5`},
		{"negative desired is refused", func(s *Spec) { s.Roles[1].Desired = -2 }, `role "app64": desired -2 < 0`},
		{"an empty image is refused", func(s *Spec) { s.Roles[0].Image = " " }, `role "db": image is empty`},
		{"a duplicate role name is refused", func(s *Spec) { s.Roles[1].Name = "db"; s.Roles[1].DependsOn = nil }, `role "db": duplicate role name (also roles[0])`},
		{"an upper-case role name is refused", func(s *Spec) { s.Roles[0].Name = "DB"; s.Roles[1].DependsOn = nil }, `role name "DB" is not a DNS label (lower-case letters, digits and '-', at most 63)`},
		{"an empty role name names its position", func(s *Spec) { s.Roles[0].Name = ""; s.Roles[1].DependsOn = nil }, `roles[0]: role name is empty`},
		{"a farm name with a space is refused", func(s *Spec) { s.Name = "my shop" }, `farm name "my shop" is not a DNS label (lower-case letters, digits and '-', at most 63)`},
		{"an empty farm name is refused", func(s *Spec) { s.Name = "" }, `farm name is empty`},
		{"an unknown time zone is refused", func(s *Spec) { s.TimeZone = "Mars/Olympus" }, `time_zone "Mars/Olympus" is not a known IANA time zone`},
		{"a farm without roles is refused", func(s *Spec) { s.Roles = nil }, `farm "shop" has no roles`},
		{"an unknown zone strategy is refused", func(s *Spec) { s.Roles[1].ZoneStrategy = "random" }, `role "app64": zone_strategy "random" is not "even" or "ordered"`},
		{"a zone listed twice is refused", func(s *Spec) { s.Roles[1].Zones = []string{"a", "a"} }, `role "app64": zone "a" is listed twice`},
		{"a negative launch timeout is refused", func(s *Spec) { s.Roles[0].LaunchTimeout = -time.Second }, `role "db": launch_timeout -1s is negative`},
		{"a negative init timeout is refused", func(s *Spec) { s.Roles[0].InitTimeout = -time.Minute }, `role "db": init_timeout -1m0s is negative`},
		{"a negative terminate timeout is refused", func(s *Spec) { s.Roles[0].TerminateTimeout = -time.Minute }, `role "db": terminate_timeout -1m0s is negative`},
		{"an unknown health action is refused", func(s *Spec) { s.Roles[1].HealthAction = "pray" }, `role "app64": health_action "pray" is not "replace", "reboot-then-replace" or "report"`},
		{"an unknown termination policy is refused", func(s *Spec) { s.Roles[1].TerminationPolicy = "random" }, `role "app64": termination_policy "random" is not "oldest-first" or "newest-first"`},
		{"an unknown init failure action is refused", func(s *Spec) { s.Roles[1].OnInitFailure = "ignore" }, `role "app64": on_init_failure "ignore" is not "replace" or "keep"`},
		{"a reserved tag is refused", func(s *Spec) { s.Roles[1].Tags["farmhand:role"] = "x" }, `role "app64": tag "farmhand:role" uses the reserved prefix "farmhand:"`},
		{"a bad variable name is refused", func(s *Spec) { s.Variables["my-var"] = "x" }, `variable name "my-var" is not a letter or '_' followed by letters, digits and '_'`},
		{"too much user data is refused", func(s *Spec) { s.Roles[0].UserData = strings.Repeat("x", 20000) }, `role "db": user_data is 20000 bytes, more than the 16384 clouds accept`},
		{"an unknown check kind is refused", func(s *Spec) { s.Roles[1].HealthChecks[0].Kind = "icmp"; s.Roles[1].HealthChecks[0].Name = "ping" }, `role "app64": health check "ping": kind "icmp" is not one of tcp, http, ssh, command`},
		{"a check port out of range is refused", func(s *Spec) {
			s.Roles[1].HealthChecks = []HealthCheckSpec{{Kind: "tcp", Port: 70000}}
		}, `role "app64": health check "tcp": port 70000 is not within 1..65535`},
		{"a tcp check needs a port", func(s *Spec) {
			s.Roles[1].HealthChecks = []HealthCheckSpec{{Kind: "tcp"}}
		}, `role "app64": health check "tcp": a tcp check needs a port`},
		{"an http check URL must be http", func(s *Spec) { s.Roles[1].HealthChecks[0].URL = "ftp://%internal_ip%/" }, `role "app64": health check "http": url "ftp://%internal_ip%/" is not an http:// or https:// URL with a host`},
		{"an http check URL with an unknown variable is refused", func(s *Spec) { s.Roles[1].HealthChecks[0].URL = "http://%db_host%/" }, `role "app64": health check "http": url "http://%db_host%/" uses unknown variable %db_host% (known: internal_ip, external_ip, server_id, role_name, zone, instance_index)`},
		{"an unlikely expected status is refused", func(s *Spec) { s.Roles[1].HealthChecks[0].ExpectStatus = 999 }, `role "app64": health check "http": expect_status 999 is not an HTTP status (100..599)`},
		{"a negative check interval is refused", func(s *Spec) { s.Roles[1].HealthChecks[0].Interval = -time.Second }, `role "app64": health check "http": interval -1s is negative`},
		{"a negative failure threshold is refused", func(s *Spec) { s.Roles[1].HealthChecks[0].FailureThreshold = -1 }, `role "app64": health check "http": failure_threshold -1 < 0`},
		{"two checks of one name are refused", func(s *Spec) {
			s.Roles[1].HealthChecks = append(s.Roles[1].HealthChecks, s.Roles[1].HealthChecks[0])
		}, `role "app64": health check name "http" is used twice`},
		{"a url on a tcp check is refused", func(s *Spec) {
			s.Roles[1].HealthChecks = []HealthCheckSpec{{Kind: "tcp", Port: 80, URL: "http://x/"}}
		}, `role "app64": health check "tcp": url is only for http checks, not "tcp"`},
		{"a command check needs a command", func(s *Spec) {
			s.Roles[1].HealthChecks = []HealthCheckSpec{{Kind: "command"}}
		}, `role "app64": health check "command": a command check needs a command`},
		{"a dependency on an unknown role is refused", func(s *Spec) { s.Roles[1].DependsOn = []string{"cache"} }, `role "app64": depends_on names unknown role "cache"`},
		{"a dependency on itself is refused", func(s *Spec) { s.Roles[1].DependsOn = []string{"app64"} }, `role "app64": depends_on names the role itself`},
		{"a dependency cycle is refused once, with its path", func(s *Spec) { s.Roles[0].DependsOn = []string{"app64"} }, `role "app64": depends_on makes a cycle: db -> app64 -> db`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := validSpec()
			tt.change(&s)
			err := s.Validate()
			if err == nil {
				t.Fatal("Validate accepted the spec")
			}
			fes := FieldErrors(err)
			if len(fes) != 1 {
				t.Fatalf("got %d errors, want 1:\n%v", len(fes), err)
			}
			if fes[0].Error() != tt.want {
				t.Fatalf("error\n got: %s\nwant: %s", fes[0].Error(), tt.want)
			}
		})
	}
}

func TestValidateReportsEveryProblemAtOnce(t *testing.T) {
	s := validSpec()
	s.Roles[0].Image = ""
	s.Roles[1].Min, s.Roles[1].Max = 5, 3
	s.Roles[1].ZoneStrategy = "zigzag"
	err := s.Validate()
	fes := FieldErrors(err)
	if len(fes) != 3 {
		t.Fatalf("got %d errors, want 3: %v", len(fes), err)
	}
	wantPaths := []string{"roles[0].image", "roles[1].min", "roles[1].zone_strategy"}
	for i, fe := range fes {
		if fe.Path != wantPaths[i] {
			t.Errorf("error %d path %q, want %q", i, fe.Path, wantPaths[i])
		}
	}
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Role != "db" {
		t.Fatalf("errors.As does not find the first FieldError: %v", fe)
	}
}

func TestValidateAcceptsAGoCheckWithoutKind(t *testing.T) {
	s := validSpec()
	s.Roles[1].HealthChecks = []HealthCheckSpec{{Name: "custom", Check: HealthCheckFunc(func(context.Context, Server) error { return nil })}}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
}

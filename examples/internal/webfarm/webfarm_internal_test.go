package webfarm

import (
	"strings"
	"testing"
	"time"
)

func TestIndent(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"nothing stays nothing", "", ""},
		{"trailing newlines do not make empty lines", "a\n\n", "          | a\n"},
		{"every line is prefixed", "a\nb", "          | a\n          | b\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := indent(tt.in); got != tt.want {
				t.Errorf("indent(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestDescribeRolesSaysWhatEachRoleIsMadeOf(t *testing.T) {
	s := Shape{Name: "webfarm", Image: "img", InstanceType: "small", DNSZone: "farm.test", BindScripts: true, Evaluation: time.Second}
	app := AppRole(s)
	app.LoadBalancer = "www"
	got := describeRoles(Spec(s, DBRole(s), app))
	want := "db (1..2 × img small, BeforeHostUp → mysql-install, DNS db.farm.test); " +
		"app64 (2..6 × img small, HostUp → apache-install, NewDBMaster → db-reconnect, DNS int-app64.farm.test, scaling on load1, load balancer www)"
	if got != want {
		t.Errorf("describeRoles:\n got %s\nwant %s", got, want)
	}
}

func TestPrintCountsSortsByName(t *testing.T) {
	var b strings.Builder
	newTimeline(&b).PrintCounts("API calls", map[string]int{"RunInstances": 3, "DescribeInstances": 11})
	if _, line, _ := strings.Cut(b.String(), "s  "); line != "API calls: DescribeInstances 11, RunInstances 3\n" {
		t.Errorf("line %q", b.String())
	}
}

package farm

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

func TestPlanSpec(t *testing.T) {
	cur := Spec{Name: "shop", Roles: []RoleSpec{
		{Name: "app", Image: "ami-1", InstanceType: "m1.small", Min: 2, Max: 6,
			Scripts: []ScriptBinding{{Event: HostUp, Script: "deploy", Version: 1}}},
		{Name: "db", Image: "ami-db", Min: 1, Max: 1},
	}}
	srvs := []Server{
		{ID: "i-1", Role: "app", Image: "ami-1", InstanceType: "m1.small", State: StateRunning},
		{ID: "i-2", Role: "app", Image: "ami-1", InstanceType: "m1.small", State: StateRunning},
		{ID: "i-3", Role: "app", Image: "ami-2", InstanceType: "m1.small", State: StateInitializing},
		{ID: "i-4", Role: "app", Image: "ami-1", InstanceType: "m1.small", State: StateTerminated},
		{ID: "i-9", Role: "db", Image: "ami-db", State: StateRunning},
	}
	edit := func(fn func(s *Spec)) Spec {
		s := cur.Clone()
		fn(&s)
		return s
	}
	tests := []struct {
		name string
		next Spec
		want string
		// unsupported is the joined Unsupported list.
		unsupported string
	}{
		{name: "the same spec changes nothing", next: cur.Clone(), want: `farm "shop": no changes
`},
		{name: "a new image replaces the servers of another image, in batches", next: edit(func(s *Spec) { s.Roles[0].Image = "ami-2" }),
			want: `farm "shop": 1 role changes
~ role app
    image: ami-1 -> ami-2 (replace 2 servers in batches)
`},
		{name: "a new instance type replaces every server of another type", next: edit(func(s *Spec) { s.Roles[0].InstanceType = "m1.large" }),
			want: `farm "shop": 1 role changes
~ role app
    instance type: m1.small -> m1.large (replace 3 servers in batches)
`},
		{name: "a higher min launches the servers missing", next: edit(func(s *Spec) { s.Roles[0].Min, s.Roles[0].Max = 5, 8 }),
			want: `farm "shop": 1 role changes
~ role app
    min: 2 -> 5
    max: 6 -> 8
    launch 2 servers (new bounds)
`},
		{name: "a lower max terminates the servers over it", next: edit(func(s *Spec) { s.Roles[0].Min, s.Roles[0].Max = 1, 1 }),
			want: `farm "shop": 1 role changes
~ role app
    min: 2 -> 1
    max: 6 -> 1
    terminate 2 servers (new bounds)
`},
		{name: "a new script version can be re-run on the servers in service", next: edit(func(s *Spec) { s.Roles[0].Scripts[0].Version = 2 }),
			want: `farm "shop": 1 role changes
~ role app
    script deploy (HostUp): version 1 -> 2 (re-run on 2 servers with RerunScripts)
`},
		{name: "a binding added is shown and refused", next: edit(func(s *Spec) {
			s.Roles[1].Scripts = []ScriptBinding{{Event: HostInit, Script: "tune"}}
		}), want: `farm "shop": 1 role changes
~ role db
    + script tune (HostInit) version latest
`, unsupported: `role "db": a HostInit binding of script "tune" is added`},
		{name: "an added and a removed role are shown and refused", next: edit(func(s *Spec) {
			s.Roles[1] = RoleSpec{Name: "cache", Image: "ami-c", Min: 3, Max: 3}
		}), want: `farm "shop": 2 roles change
+ role cache (launch 3 servers)
- role db (terminate 1 server)
`, unsupported: `role "cache" is added; role "db" is removed`},
		{name: "DNS names and zones are shown and refused", next: edit(func(s *Spec) {
			s.Roles[0].DNS = []DNSName{{Name: "app.example.com"}}
			s.Roles[0].Zones = []string{"a"}
		}), want: `farm "shop": 1 role changes
~ role app
    dns + app.example.com
    zones changes (not applied to a running farm)
`, unsupported: `role "app": DNS names change (+app.example.com); role "app": zones changes`},
		{name: "empty and missing variables are the same", next: edit(func(s *Spec) { s.Roles[1].Variables = map[string]string{} }),
			want: `farm "shop": no changes
`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := planSpec(cur, srvs, tc.next)
			if got := p.String(); got != tc.want {
				t.Errorf("plan:\n%s\nwant:\n%s", got, tc.want)
			}
			if got := strings.Join(p.Unsupported(), "; "); got != tc.unsupported {
				t.Errorf("unsupported %q, want %q", got, tc.unsupported)
			}
			if p.Empty() != (tc.want == `farm "shop": no changes`+"\n") {
				t.Errorf("Empty() = %v", p.Empty())
			}
		})
	}
}

// The plan the README's "Changing a running farm" section prints is what
// planSpec prints for that change.
func TestReadmePlanIsPrinted(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	sec := string(readme)
	i := strings.Index(sec, "## Changing a running farm: plan and apply")
	if i < 0 {
		t.Fatal("README has no section on plan and apply")
	}
	sec = sec[i:]
	j := strings.Index(sec, "```\nfarm ")
	if j < 0 {
		t.Fatal("no plan block in the README's section")
	}
	block := sec[j+4:]
	block = block[:strings.Index(block, "```\n")]

	cur := Spec{Name: "shop", Roles: []RoleSpec{{Name: "app", Image: "ami-1", Min: 2, Max: 6,
		Scripts: []ScriptBinding{{Event: HostUp, Script: "deploy", Version: 1}}}}}
	next := cur.Clone()
	next.Roles[0].Image, next.Roles[0].Max, next.Roles[0].Scripts[0].Version = "ami-2", 8, 2
	var srvs []Server
	for i := range 4 {
		srvs = append(srvs, Server{ID: fmt.Sprint("i-", i), Role: "app", Image: "ami-1", State: StateRunning})
	}
	if got := planSpec(cur, srvs, next).String(); got != block {
		t.Errorf("README shows:\n%s\nthe plan prints:\n%s", block, got)
	}
}

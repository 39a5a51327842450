package farm

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// badFarm is a farm file with one mistake and where it must be reported.
type badFarm struct {
	name  string
	yaml  string
	line  int    // the line of the mistake
	role  string // the role named, "" for a farm-level field
	field string // the field named in the message
	says  string // more of the message
}

// roleHead is the start of a good role; cases append the line at fault.
const roleHead = `name: shop
roles:
  - name: app
    image: img
    min: 1
    max: 2
`

var badFarms = []badFarm{
	{"an unknown role key suggests the right one", roleHead + "    instnce_type: m1.small\n", 7, "app", `"instnce_type"`, `did you mean "instance_type"?`},
	{"a camel-case key suggests the snake-case one", roleHead + "    loadBalancer: www\n", 7, "app", `"loadBalancer"`, `did you mean "load_balancer"?`},
	{"an unknown farm key suggests the right one", "name: shop\ntimezone: UTC\nroles:\n  - {name: app, image: img, max: 1}\n", 2, "", `"timezone"`, `did you mean "time_zone"?`},
	{"an unknown key far from any is named without a guess", roleHead + "    colour: red\n", 7, "app", `"colour"`, `in a role`},
	{"an unknown key in a health check", roleHead + "    health_checks:\n      - {kind: tcp, prot: 80}\n", 8, "app", `health_checks[0]: unknown key "prot"`, `did you mean "port"?`},
	{"an unknown key in a threshold", roleHead + "    scaling:\n      thresholds:\n        - {metric: load1, up_abov: 2}\n", 9, "app", `scaling.thresholds[0]: unknown key "up_abov"`, `did you mean "up_above"?`},
	{"text where a number goes", "name: shop\nroles:\n  - name: app\n    image: img\n    min: two\n    max: 2\n", 5, "app", "min:", `want a whole number, got "two"`},
	{"a fraction where a whole number goes", roleHead + "    desired: 1.5\n", 7, "app", "desired:", `want a whole number, got "1.5"`},
	{"a number out of range", "name: shop\nroles:\n  - name: app\n    image: img\n    max: 99999999999999999999\n", 5, "app", "max:", "number 99999999999999999999 is out of range"},
	{"a list where text goes", roleHead + "    image_id: x\n", 7, "app", `"image_id"`, `did you mean "image"?`},
	{"a mapping where a list goes", roleHead + "    zones: {a: 1}\n", 7, "app", "zones:", "want a list of text values, got a mapping"},
	{"text where a list goes", roleHead + "    depends_on: db\n", 7, "app", "depends_on:", `want a list of text values, got "db"`},
	{"a duration without a unit", roleHead + "    launch_timeout: 300\n", 7, "app", "launch_timeout:", `"300" is not a duration (a number needs a unit: s, m or h)`},
	{"a duration in words", roleHead + "    health_checks:\n      - {kind: tcp, port: 80, interval: 5 minutes}\n", 8, "app", "health_checks[0].interval:", `"5 minutes" is not a duration`},
	{"a yes-no where true or false goes", roleHead + "    scripts:\n      - {event: HostInit, script: s, blocking: maybe}\n", 8, "app", "scripts[0].blocking:", `want true or false, got "maybe"`},
	{"text where a number goes in a threshold", roleHead + "    scaling:\n      thresholds:\n        - {metric: load1, up_above: high}\n", 9, "app", "scaling.thresholds[0].up_above:", `want a number, got "high"`},
	{"text where a section goes", roleHead + "    database: yes\n", 7, "app", "database:", `want a database section (key: value lines), got "yes"`},
	{"min over max", "name: shop\nroles:\n  - name: app\n    image: img\n    min: 5\n    max: 3\n", 5, "app", "min 5", "> max 3"},
	{"a billion servers", "name: shop\nroles:\n  - name: app\n    image: img\n    max: 1000000000\n", 5, "app", "max 1000000000", "is over 10000 servers"},
	{"a misspelt built-in event", roleHead + "    scripts:\n      - {event: HostUpp, script: hello}\n", 8, "app", `event "HostUpp"`, `did you mean "HostUp"?`},
	{"an undeclared custom event", "name: shop\nevents: [deploy]\nroles:\n  - name: app\n    image: img\n    max: 1\n    scripts:\n      - {event: deploj, script: s}\n", 8, "app", `event "deploj"`, `did you mean "deploy"?`},
	{"a built-in event declared as custom", "name: shop\nevents: [deploy, HostUp]\nroles:\n  - {name: app, image: img, max: 1}\n", 2, "", `events: "HostUp"`, "is a built-in event"},
	{"an unknown farm time zone", "name: shop\ntime_zone: Mars/Olympus\nroles:\n  - {name: app, image: img, max: 1}\n", 2, "", `time_zone "Mars/Olympus"`, "not a known IANA time zone"},
	{"an unknown schedule time zone points at its line", roleHead + "    scaling:\n      schedule:\n        time_zone: Mars/Base\n        windows:\n          - {cron: '@daily', duration: 1h, min: 2}\n", 9, "app", `scaling.schedule.time_zone "Mars/Base"`, "not a known IANA time zone"},
	{"a bad window points at the window", roleHead + "    scaling:\n      schedule:\n        windows:\n          - {days: [mon], start: '08:00', end: '18:00', min: 1}\n          - {days: [tue], start: '25:00', end: '18:00', min: 1}\n", 11, "app", "scaling.schedule.windows[1]", `start "25:00"`},
	{"a bad weekday points at the day", roleHead + "    scaling:\n      schedule:\n        windows:\n          - days: [mon, funday]\n            start: '08:00'\n            end: '18:00'\n", 10, "app", "scaling.schedule.windows[0].days[1]", `"funday" is not a weekday`},
	{"a health check port out of range", roleHead + "    health_checks:\n      - name: web\n        kind: tcp\n        port: 99999\n", 10, "app", `health check "web"`, "port 99999"},
	{"an unknown dependency", roleHead + "    depends_on: [dbb]\n", 7, "app", "depends_on", `"dbb"`},
	{"a variable scripts cannot use", "name: shop\nvariables:\n  DB_HOST: x\nroles:\n  - {name: app, image: img, max: 1}\n", 3, "", `variable "DB_HOST"`, "cannot be used in scripts"},
	{"a second role with one name", roleHead + "  - name: app\n    image: img\n    max: 1\n", 7, "app", "duplicate role name", "roles[0]"},
}

func TestBadFarmFilesNameFileLineRoleAndField(t *testing.T) {
	if len(badFarms) < 20 {
		t.Fatalf("only %d bad farm files", len(badFarms))
	}
	dir := t.TempDir()
	for i, c := range badFarms {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, fmt.Sprintf("bad%02d.yaml", i))
			if err := os.WriteFile(path, []byte(c.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := LoadFile(path)
			if err == nil {
				t.Fatalf("LoadFile accepted:\n%s", c.yaml)
			}
			fes := FieldErrors(err)
			if len(fes) != 1 {
				t.Fatalf("%d problems, want 1:\n%v", len(fes), err)
			}
			msg := fes[0].Error()
			prefix := fmt.Sprintf("%s:%d: ", path, c.line)
			if c.role != "" {
				prefix += fmt.Sprintf("role %q: ", c.role)
			}
			if !strings.HasPrefix(msg, prefix) {
				t.Errorf("message %q\ndoes not start with %q", msg, prefix)
			}
			for _, want := range []string{c.field, c.says} {
				if !strings.Contains(msg, want) {
					t.Errorf("message %q does not name %q", msg, want)
				}
			}
			for _, goType := range []string{"!!", "farm.", "int64", "float64", "time.Duration", "unmarshal"} {
				if strings.Contains(msg, goType) {
					t.Errorf("message %q speaks of %q", msg, goType)
				}
			}
		})
	}
}

func TestBadFarmFileReportsEveryProblemAtOnceInLineOrder(t *testing.T) {
	yaml := `name: shop
roles:
  - name: db
    image: img
    min: 3
    max: 1
  - name: app
    image: img
    max: lots
    launch_timeout: 10
    helth_checks: []
    scripts:
      - {event: HostUpp, script: s}
`
	_, err := ParseYAML([]byte(yaml), "shop.yaml")
	want := []string{
		`shop.yaml:5: role "db": min 3 > max 1`,
		`shop.yaml:9: role "app": max: want a whole number, got "lots"`,
		`shop.yaml:10: role "app": launch_timeout: "10" is not a duration (a number needs a unit: s, m or h); write it like "30s", "10m" or "1h30m"`,
		`shop.yaml:11: role "app": unknown key "helth_checks" in a role; did you mean "health_checks"?`,
		`shop.yaml:13: role "app": scripts[0] ("s"): event "HostUpp" is not a built-in event; did you mean "HostUp"?`,
	}
	if err == nil || err.Error() != strings.Join(want, "\n") {
		t.Fatalf("errors:\n%v\nwant:\n%s", err, strings.Join(want, "\n"))
	}
}

// A problem that only farm.New can find (a script the library lacks) still
// names the file and the line of a spec read from a file.
func TestNewNamesTheFileAndLineOfALoadedSpec(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shop.yaml")
	yaml := roleHead + "    scripts:\n      - {event: HostUp, script: install-apache}\n"
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	spec, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	err = newWithLibrary(t, spec, map[string]string{"hello": "echo hi"})
	want := path + `:8: role "app": scripts[0]: script "install-apache" is not in the scripting library`
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("error %v\nwant it to start with %s", err, want)
	}
}

func TestSuggest(t *testing.T) {
	keys := []string{"name", "image", "instance_type", "min", "max", "health_checks", "port"}
	for _, c := range []struct{ name, word, want string }{
		{"a swapped pair of letters", "prot", "port"},
		{"a missing letter", "imge", "image"},
		{"camel case for snake case", "instanceType", "instance_type"},
		{"a suffix to a key", "image_id", "image"},
		{"a word far from every key", "colour", ""},
		{"a short word is not stretched to a key", "mx", "max"},
		{"two letters off a short key is too far", "xyz", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := suggest(c.word, keys); got != c.want {
				t.Errorf("suggest(%q) = %q, want %q", c.word, got, c.want)
			}
		})
	}
}

package farm

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadFileReadsAFullDefinition(t *testing.T) {
	spec, err := LoadFile("testdata/shop.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if spec.Name != "shop" || spec.TimeZone != "Europe/Berlin" || spec.Variables["site"] != "shop.example.com" {
		t.Fatalf("farm fields: %+v", spec)
	}
	app, ok := spec.Role("app64")
	if !ok {
		t.Fatal("role app64 missing")
	}
	if app.Min != 2 || app.Max != 5 || app.LaunchTimeout != 10*time.Minute || app.InitTimeout != 5*time.Minute {
		t.Fatalf("app64 bounds and timeouts: %+v", app)
	}
	if app.HealthAction != HealthRebootThenReplace || len(app.Zones) != 2 || app.DependsOn[0] != "db" {
		t.Fatalf("app64 fields: %+v", app)
	}
	if !strings.Contains(app.UserData, "packages: [apache2]") || app.Tags["team"] != "web" || app.Variables["docroot"] != "/var/www" {
		t.Fatalf("app64 user data, tags, variables: %+v", app)
	}
	hc := app.HealthChecks[0]
	if hc.Name != "web" || hc.Interval != 15*time.Second || hc.Timeout != 2*time.Second || hc.ExpectStatus != 200 || hc.FailureThreshold != 3 {
		t.Fatalf("health check: %+v", hc)
	}
	db, _ := spec.Role("db")
	if db.TerminationPolicy != NewestFirst || db.HealthChecks[0].Port != 5432 {
		t.Fatalf("db: %+v", db)
	}
}

func TestParseYAMLErrorsNameFileAndLine(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{
			name: "validation errors point at the offending lines",
			yaml: `name: shop
roles:
  - name: app64
    image: ami-1
    min: 5
    max: 3
  - name: db
    image: ""
    min: 1
    max: 1
    zone_strategy: zigzag
`,
			want: []string{
				`farm.yaml:5: role "app64": min 5 > max 3`,
				`farm.yaml:8: role "db": image is empty`,
				`farm.yaml:11: role "db": zone_strategy "zigzag" is not "even" or "ordered"`,
			},
		},
		{
			name: "a missing field points at its role",
			yaml: `name: shop
roles:
  - name: db
    min: 1
    max: 1
`,
			want: []string{`farm.yaml:3: role "db": image is empty`},
		},
		{
			name: "a misspelt field is an error with its line",
			yaml: `name: shop
roles:
  - name: db
    image: ami-1
    minn: 1
    max: 1
`,
			want: []string{`farm.yaml:5: role "db": unknown key "minn" in a role; did you mean "min"?`},
		},
		{
			name: "a duration without unit is explained",
			yaml: `name: shop
roles:
  - name: db
    image: ami-1
    max: 1
    launch_timeout: 30
`,
			want: []string{`farm.yaml:6: role "db": launch_timeout: "30" is not a duration (a number needs a unit: s, m or h); write it like "30s", "10m" or "1h30m"`},
		},
		{
			name: "a health check problem points into the check",
			yaml: `name: shop
roles:
  - name: web
    image: ami-1
    max: 2
    health_checks:
      - kind: http
        url: http://%internal_ip%/
      - name: port
        kind: tcp
        port: 99999
`,
			want: []string{`farm.yaml:11: role "web": health check "port": port 99999 is not within 1..65535`},
		},
		{
			name: "a dependency cycle points at the dependency",
			yaml: `name: shop
roles:
  - name: a
    image: ami-1
    max: 1
    depends_on: [b]
  - name: b
    image: ami-1
    max: 1
    depends_on:
      - a
`,
			want: []string{`farm.yaml:11: role "b": depends_on makes a cycle: a -> b -> a`},
		},
		{
			name: "broken YAML syntax names the line the parser reports",
			yaml: "name: shop\nroles:\n  - name: [db\n",
			want: []string{"farm.yaml:2: not valid YAML: did not find expected ',' or ']'"},
		},
		{
			name: "an empty file is an error",
			yaml: "# nothing here\n",
			want: []string{"farm.yaml: the file holds no farm definition"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseYAML([]byte(tt.yaml), "farm.yaml")
			if err == nil {
				t.Fatal("ParseYAML accepted the file")
			}
			got := strings.Split(err.Error(), "\n")
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Fatalf("errors\n got: %q\nwant: %q", got, tt.want)
			}
			for _, fe := range FieldErrors(err) {
				if fe.File != "farm.yaml" {
					t.Errorf("FieldError.File = %q", fe.File)
				}
			}
		})
	}
}

func TestLoadFileReportsAMissingFile(t *testing.T) {
	_, err := LoadFile(filepath.Join(t.TempDir(), "nope.yaml"))
	if !os.IsNotExist(err) {
		t.Fatalf("err = %v, want a not-exist error", err)
	}
}

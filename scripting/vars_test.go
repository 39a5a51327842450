package scripting

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

func testContext() Context {
	return Context{
		Farm:   FarmInfo{ID: "farm-1", Name: "shop", CloudLocation: "us-east-1"},
		Server: ServerInfo{ID: "i-2", Role: "app64", Index: 2, InternalIP: "10.0.0.2", ExternalIP: "54.0.0.2", Zone: "us-east-1a", ImageID: "ami-1"},
		Event: &EventInfo{
			Name:   "HostUp",
			Server: &ServerInfo{ID: "i-9", Role: "mysql", Index: 1, InternalIP: "10.0.0.9"},
			Params: Vars{"reason": "scale-out", "tier": "event"},
		},
		FarmVars:   Vars{"tier": "farm", "db": "farm-db", "admin": "ops@example.com"},
		RoleVars:   Vars{"tier": "role", "db": "role-db"},
		ServerVars: Vars{"db": "server-db"},
	}
}

func TestContextVars(t *testing.T) {
	v, err := testContext().Vars()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"role_name": "app64", "server_id": "i-2", "instance_index": "2", "internal_ip": "10.0.0.2",
		"external_ip": "54.0.0.2", "zone": "us-east-1a", "image_id": "ami-1", "farm_id": "farm-1",
		"farm_name": "shop", "cloud_location": "us-east-1", "event_name": "HostUp",
		"event_role_name": "mysql", "event_internal_ip": "10.0.0.9", "event_server_id": "i-9",
		"reason": "scale-out",
		"db":     "server-db",       // server overrides role overrides farm
		"tier":   "event",           // an event parameter overrides user variables
		"admin":  "ops@example.com", // a farm variable nobody overrides
	}
	for name, value := range want {
		if got, ok := v[name]; !ok || got != value {
			t.Errorf("%%%s%% = %q (defined %v), want %q", name, got, ok, value)
		}
	}
}

func TestContextVarsWithoutEventLeavesEventNamesUnknown(t *testing.T) {
	c := testContext()
	c.Event = nil
	v, err := c.Vars()
	if err != nil {
		t.Fatal(err)
	}
	_, err = Script{Name: "s", Body: "%event_name%"}.Render(v)
	if err == nil || !strings.Contains(err.Error(), "%event_name%") {
		t.Errorf("rendering %%event_name%% without an event: %v, want an unknown variable error", err)
	}
}

func TestContextVarsRejects(t *testing.T) {
	cases := []struct {
		name   string
		modify func(*Context)
		want   string
	}{
		{"a farm variable named like a built-in", func(c *Context) { c.FarmVars["role_name"] = "x" }, `farm variable "role_name": the name is reserved`},
		{"a server variable with the event prefix", func(c *Context) { c.ServerVars["event_x"] = "x" }, `server variable "event_x"`},
		{"an event parameter named like a built-in", func(c *Context) { c.Event.Params["zone"] = "x" }, `event "HostUp" parameter "zone"`},
		{"an invalid name", func(c *Context) { c.RoleVars["bad-name"] = "x" }, `variable "bad-name": invalid name`},
		{"a NUL byte in a value", func(c *Context) { c.RoleVars["k"] = "a\x00b" }, `variable "k": value has a NUL byte`},
		{"names differing only in case", func(c *Context) { c.RoleVars["DB"] = "x" }, `variables "DB" and "db" differ only in case`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := testContext()
			c.modify(&ctx)
			_, err := ctx.Vars()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Vars() error = %v, want it to contain %q", err, c.want)
			}
		})
	}
}

func TestEnv(t *testing.T) {
	got := Vars{"role_name": "app", "b": "x y"}.Env()
	if want := []string{"FARM_B=x y", "FARM_ROLE_NAME=app"}; !slices.Equal(got, want) {
		t.Errorf("Env() = %q, want %q", got, want)
	}
}

func TestShellQuote(t *testing.T) {
	cases := []struct{ in, want string }{
		{"plain", "plain"},
		{"", "''"},
		{"a b", "'a b'"},
		{"it's", `'it'\''s'`},
		{"$HOME", "'$HOME'"},
		{"a=b", "'a=b'"},
	}
	for _, c := range cases {
		if got := ShellQuote(c.in); got != c.want {
			t.Errorf("ShellQuote(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}

// TestEnvCommandSurvivesARealShell runs the generated command with /bin/sh
// and checks that hostile values arrive byte for byte.
func TestEnvCommandSurvivesARealShell(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	vars := Vars{
		"quote":   `it's "quoted" $HOME ` + "`id`",
		"newline": "line1\nline2\n",
		"glob":    "* ? [a]",
		"empty":   "",
	}
	cmd := EnvCommand(vars, `sh -c 'printf "%s|%s|%s|%s" "$FARM_QUOTE" "$FARM_NEWLINE" "$FARM_GLOB" "${FARM_EMPTY-unset}"'`)
	out, err := exec.Command("sh", "-c", cmd).Output()
	if err != nil {
		t.Fatalf("%s: %v", cmd, err)
	}
	want := vars["quote"] + "|" + vars["newline"] + "|" + vars["glob"] + "|"
	if string(out) != want {
		t.Errorf("output = %q, want %q", out, want)
	}
}

package scripting

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestRender(t *testing.T) {
	vars := Vars{"role_name": "app64", "internal_ip": "10.0.0.5", "empty": ""}
	cases := []struct {
		name, body, want string
	}{
		{"a reference is replaced by its value", "echo I am a %role_name%", "echo I am a app64"},
		{"two references next to each other", "%role_name%%internal_ip%", "app6410.0.0.5"},
		{"an empty value renders as nothing", "[%empty%]", "[]"},
		{"an escaped percent sign is literal", `date +\%Y-\%m-\%d`, "date +%Y-%m-%d"},
		{"an escaped reference stays text", `echo \%role_name\%`, "echo %role_name%"},
		{"other backslashes are copied", `printf 'a\n\\b' %role_name%`, `printf 'a\n\\b' app64`},
		{"a backslash before an escaped percent stays", `\\%`, `\%`},
		{"text without references is unchanged", "apt-get -y install apache2\n", "apt-get -y install apache2\n"},
		{"a value with a percent sign is not re-expanded", "%internal_ip%", "10.0.0.5"},
		{"an empty body renders empty", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Render(c.body, vars)
			if err != nil {
				t.Fatalf("Render(%q): %v", c.body, err)
			}
			if got != c.want {
				t.Errorf("Render(%q) = %q, want %q", c.body, got, c.want)
			}
		})
	}
}

func TestParseSyntaxErrors(t *testing.T) {
	cases := []struct {
		name, body string
		line, col  int
		msg        string
	}{
		{"a lone percent sign at the end", "echo 100%", 1, 9, "lone"},
		{"a lone percent sign before a space", "echo 50% off", 1, 8, "lone"},
		{"an unterminated reference", "echo %role_name", 1, 6, `unterminated variable reference "%role_name"`},
		{"a date format without escapes", "x\ndate +%Y-%m", 2, 7, `"%Y"`},
		{"two percent signs", "echo %%", 1, 6, "empty variable name"},
		{"a name starting with a digit", "echo %1abc%", 1, 6, "invalid variable name"},
		{"a name that is too long", "%" + strings.Repeat("a", 129) + "%", 1, 1, "invalid variable name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(c.body)
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) error = %v, want *SyntaxError", c.body, err)
			}
			if se.Line != c.line || se.Column != c.col {
				t.Errorf("position = line %d column %d, want line %d column %d", se.Line, se.Column, c.line, c.col)
			}
			if !strings.Contains(se.Error(), c.msg) {
				t.Errorf("error %q does not say %q", se.Error(), c.msg)
			}
			if !errors.Is(err, ErrTemplate) {
				t.Errorf("errors.Is(%v, ErrTemplate) = false", err)
			}
		})
	}
}

func TestUnknownVariablesAreAllNamedWithTheScript(t *testing.T) {
	s := Script{Name: "Tell me your name", Version: 3, Body: "echo %role_name% %db_host% %db_port% %db_host%"}
	_, err := s.Render(Vars{"role_name": "app"})
	var ue *UnknownVariablesError
	if !errors.As(err, &ue) {
		t.Fatalf("Render error = %v, want *UnknownVariablesError", err)
	}
	if !slices.Equal(ue.Names, []string{"db_host", "db_port"}) {
		t.Errorf("Names = %v, want [db_host db_port]", ue.Names)
	}
	want := `script "Tell me your name" version 3: unknown variables %db_host%, %db_port%`
	if err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
}

func TestSyntaxErrorNamesTheScript(t *testing.T) {
	_, err := Script{Name: "backup", Version: 2, Body: "tar czf /b-%date.tgz"}.Render(nil)
	if err == nil || !strings.HasPrefix(err.Error(), `script "backup" version 2: line 1, column 12:`) {
		t.Errorf("error = %v, want it to start with the script, version and position", err)
	}
}

func TestTemplateNames(t *testing.T) {
	tpl, err := Parse("%b% %a% %b% \\%c\\%")
	if err != nil {
		t.Fatal(err)
	}
	if got := tpl.Names(); !slices.Equal(got, []string{"b", "a"}) {
		t.Errorf("Names() = %v, want [b a] (each once, in order, escapes ignored)", got)
	}
}

func TestEscapeRoundTrips(t *testing.T) {
	for _, s := range []string{"", "100%", `\%`, `%role_name%`, `a\\%b%%c\`, "%\n%"} {
		got, err := Render(Escape(s), nil)
		if err != nil || got != s {
			t.Errorf("Render(Escape(%q)) = %q, %v; want the input back", s, got, err)
		}
	}
}

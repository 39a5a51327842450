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
		{"a date format is left alone", "date +%F", "date +%F"},
		{"a date format of one-letter conversions is left alone", "tar czf /b/%role_name%-$(date +%Y%m%d_%H%M%S).tgz", "tar czf /b/app64-$(date +%Y%m%d_%H%M%S).tgz"},
		{"printf conversions are left alone", `printf "%s\n" %role_name%; printf "%s%s\n" a b; printf "%-10s|%5.1f%%\n" x 2`, `printf "%s\n" app64; printf "%s%s\n" a b; printf "%-10s|%5.1f%%\n" x 2`},
		{"an awk program with a literal percent is left alone", `df | awk '$5 > 90%' | awk '{printf "%d%%\n", $5}'`, `df | awk '$5 > 90%' | awk '{printf "%d%%\n", $5}'`},
		{"shell suffix removal is left alone", `f=${name%.txt}; g=${name%%_*}`, `f=${name%.txt}; g=${name%%_*}`},
		{"a lone percent sign is text", "echo 100% done; echo 50 %", "echo 100% done; echo 50 %"},
		{"a name starting with a digit is text", "echo %1abc%", "echo %1abc%"},
		{"a percent sign before a reference is text", "echo %%role_name%", "echo %app64"},
		{"an unterminated reference is text", "echo %role_name", "echo %role_name"},
		{"an ISO date format is left alone", "date +%FT%T%z; date -u +%Y-%m-%dT%H:%M:%SZ", "date +%FT%T%z; date -u +%Y-%m-%dT%H:%M:%SZ"},
		{"a name ending in an underscore is text", "date +%d_%m_%Y", "date +%d_%m_%Y"},
		{"an upper-case name is text", "echo %ROLE_NAME%", "echo %ROLE_NAME%"},
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
		{"a name that is too long", "%" + strings.Repeat("a", 129) + "%", 1, 1, "is over 128 bytes"},
		{"a long name on a later line", "ok\necho %" + strings.Repeat("b", 200) + "%", 2, 6, "is over 128 bytes"},
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

func TestUnknownNameShapedReferencesAreStillRefused(t *testing.T) {
	for _, body := range []string{"echo %db_host%", "date +%F; echo %db_host%", "printf '%s' %db2%", "%ld%"} {
		_, err := Render(body, Vars{"role_name": "app"})
		var ue *UnknownVariablesError
		if !errors.As(err, &ue) || len(ue.Names) != 1 {
			t.Errorf("Render(%q) = %v, want one unknown variable", body, err)
		}
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
	want := `script "Tell me your name" version 3: unknown variables %db_host%, %db_port% (write \% for a literal percent sign)`
	if err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
}

func TestSyntaxErrorNamesTheScript(t *testing.T) {
	_, err := Script{Name: "backup", Version: 2, Body: "tar czf /b-%" + strings.Repeat("x", 130) + "%.tgz"}.Render(nil)
	if err == nil || !strings.HasPrefix(err.Error(), `script "backup" version 2: line 1, column 12:`) {
		t.Errorf("error = %v, want it to start with the script, version and position", err)
	}
}

func TestTemplateNames(t *testing.T) {
	tpl, err := Parse("%bb% %aa% %bb% \\%cc\\% %d%")
	if err != nil {
		t.Fatal(err)
	}
	if got := tpl.Names(); !slices.Equal(got, []string{"bb", "aa"}) {
		t.Errorf("Names() = %v, want [bb aa] (each once, in order, escapes and one-letter conversions ignored)", got)
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

func TestReferable(t *testing.T) {
	for name, want := range map[string]bool{
		"role_name": true, "db2": true, "ab": true, "a": false, "A": false, "FT": false, "Role": false,
		"d_": false, "_ab": false, "2ab": false, strings.Repeat("a", 128): true, strings.Repeat("a", 129): false,
	} {
		if got := Referable(name); got != want {
			t.Errorf("Referable(%q) = %v, want %v", name, got, want)
		}
	}
}

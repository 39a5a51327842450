package scripting

import (
	"errors"
	"strings"
	"testing"
)

// FuzzRender checks the template engine on arbitrary bodies: it never
// panics, error positions are inside the body, escaping round-trips, and a
// rendered body never keeps a reference to a variable it was given.
func FuzzRender(f *testing.F) {
	for _, s := range []string{
		"echo I am a %role_name%", `date +\%Y`, "100%", "%%", "%aa%%bb%", "date +%Y%m%d", `printf "%s%%\n"`, `\\%x%`,
		"%event_internal_ip%\n%1%", "%\n", "é%zone%ü", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		if got, err := Render(Escape(body), nil); err != nil || got != body {
			t.Fatalf("Render(Escape(%q)) = %q, %v", body, got, err)
		}
		tpl, err := Parse(body)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse error %v is not a *SyntaxError", err)
			}
			if se.Offset < 0 || se.Offset >= len(body) || body[se.Offset] != '%' {
				t.Fatalf("error offset %d does not point at a %% in %q", se.Offset, body)
			}
			return
		}
		vars := Vars{}
		for _, n := range tpl.Names() {
			vars[n] = "<" + strings.ToUpper(n) + ">"
		}
		out, err := tpl.Render(vars)
		if err != nil {
			t.Fatalf("Render with every name defined: %v", err)
		}
		if !strings.Contains(body, "\\") {
			// Without escapes, putting each reference back gives the body.
			back := out
			for _, n := range tpl.Names() {
				back = strings.ReplaceAll(back, "<"+strings.ToUpper(n)+">", "%"+n+"%")
			}
			if back != body {
				t.Fatalf("body %q rendered %q, which does not give the body back", body, out)
			}
		}
		if names := tpl.Names(); len(names) > 0 {
			delete(vars, names[0])
			_, err := tpl.Render(vars)
			var ue *UnknownVariablesError
			if !errors.As(err, &ue) || len(ue.Names) != 1 || ue.Names[0] != names[0] {
				t.Fatalf("Render without %q: %v, want it named as the one unknown variable", names[0], err)
			}
		}
	})
}

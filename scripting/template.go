package scripting

import (
	"errors"
	"fmt"
	"strings"
)

// maxNameLen bounds a variable name; longer names are a syntax error.
const maxNameLen = 128

// Template is a parsed script body: literal text and %name% references.
// Parse it once (the [Library] does when a script is saved) and render it
// for every server with that server's [Vars].
type Template struct {
	parts []part
	names []string // referenced names, each once, in order of first use
}

type part struct {
	text  string // literal text, or the variable name when isVar
	isVar bool
}

// SyntaxError reports a malformed template: a reference whose name is too
// long. Offset is in bytes from the start of
// the body; Line and Column count from 1 (Column in bytes).
type SyntaxError struct {
	Script  string // script name, when known
	Version int    // script version, when known
	Offset  int
	Line    int
	Column  int
	Msg     string
}

// Error gives the line, column and what is wrong.
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%sline %d, column %d: %s", scriptPrefix(e.Script, e.Version), e.Line, e.Column, e.Msg)
}

// UnknownVariablesError reports every variable a template references that
// the variable set does not define. Names are sorted as first referenced.
type UnknownVariablesError struct {
	Script  string // script name, when known
	Version int    // script version, when known
	Names   []string
}

// Error names every variable no scope defines.
func (e *UnknownVariablesError) Error() string {
	refs := make([]string, len(e.Names))
	for i, n := range e.Names {
		refs[i] = "%" + n + "%"
	}
	noun := "variable"
	if len(refs) > 1 {
		noun = "variables"
	}
	return fmt.Sprintf("%sunknown %s %s (write \\%% for a literal percent sign)", scriptPrefix(e.Script, e.Version), noun, strings.Join(refs, ", "))
}

// ErrTemplate is matched (with errors.Is) by every [SyntaxError] and
// [UnknownVariablesError].
var ErrTemplate = errors.New("scripting: template error")

// Is reports whether target is ErrTemplate.
func (e *SyntaxError) Is(target error) bool { return target == ErrTemplate }

// Is reports whether target is ErrTemplate.
func (e *UnknownVariablesError) Is(target error) bool { return target == ErrTemplate }

func scriptPrefix(name string, version int) string {
	switch {
	case name == "":
		return ""
	case version > 0:
		return fmt.Sprintf("script %q version %d: ", name, version)
	default:
		return fmt.Sprintf("script %q: ", name)
	}
}

// Parse parses a script body. A reference is a percent sign, a name and a
// percent sign: "%role_name%", where the name is a lower-case ASCII letter,
// then lower-case letters, digits and underscores, at least two bytes and
// not ending in an underscore ([Referable]). Every other percent sign is
// literal text, so that scripts keep the percent signs of the tools they
// call: date +%F, date +%Y%m%d_%H%M%S, date +%FT%T, printf "%s%s\n", awk
// '{printf "%d%%"}', ${file%.txt} (the conversions of date and printf are
// one letter, or upper case). A backslash directly
// before a percent sign makes it a literal percent sign ("\%", which also
// keeps "\%role_name%" as text); every other backslash is copied unchanged.
// The only [SyntaxError] is a reference whose name is over 128 bytes.
func Parse(body string) (*Template, error) {
	t := &Template{}
	seen := map[string]bool{}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			t.parts = append(t.parts, part{text: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(body); {
		c := body[i]
		if c == '\\' && i+1 < len(body) && body[i+1] == '%' {
			lit.WriteByte('%')
			i += 2
			continue
		}
		if c != '%' {
			// Copy the run of ordinary bytes up to the next % or \ at once.
			j := i + 1
			for j < len(body) && body[j] != '%' && body[j] != '\\' {
				j++
			}
			lit.WriteString(body[i:j])
			i = j
			continue
		}
		j := i + 1
		for j < len(body) && isNameByte(body[j]) {
			j++
		}
		name := body[i+1 : j]
		if j == len(body) || body[j] != '%' || !referable(name) {
			// Not a reference: the percent sign is text.
			lit.WriteByte('%')
			i++
			continue
		}
		if len(name) > maxNameLen {
			return nil, syntaxError(body, i, fmt.Sprintf("variable name %q is over %d bytes; write \\%% for a literal percent sign", clip(name), maxNameLen))
		}
		flush()
		t.parts = append(t.parts, part{text: name, isVar: true})
		if !seen[name] {
			seen[name] = true
			t.names = append(t.names, name)
		}
		i = j + 1
	}
	flush()
	return t, nil
}

// Referable reports whether a template can refer to the variable name as
// %name%: a lower-case ASCII letter, then lower-case letters, digits and
// underscores, two to 128 bytes, not ending in an underscore. Other valid
// names ([ValidName]) are still exported to the environment.
func Referable(name string) bool { return referable(name) && len(name) <= maxNameLen }

// referable is Referable without the length limit, which Parse reports as
// an error instead.
func referable(name string) bool {
	if len(name) < 2 || name[0] < 'a' || name[0] > 'z' || name[len(name)-1] == '_' {
		return false
	}
	for i := 1; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// Names returns the variables the template references, each once, in the
// order of first use.
func (t *Template) Names() []string { return append([]string(nil), t.names...) }

// Missing returns the referenced names that vars does not define.
func (t *Template) Missing(vars Vars) []string {
	var missing []string
	for _, n := range t.names {
		if _, ok := vars[n]; !ok {
			missing = append(missing, n)
		}
	}
	return missing
}

// Render replaces every reference with its value. When any referenced
// variable is not in vars it returns an [*UnknownVariablesError] naming all
// of them, and no text.
func (t *Template) Render(vars Vars) (string, error) {
	if missing := t.Missing(vars); len(missing) > 0 {
		return "", &UnknownVariablesError{Names: missing}
	}
	n := 0
	for _, p := range t.parts {
		if p.isVar {
			n += len(vars[p.text])
		} else {
			n += len(p.text)
		}
	}
	var b strings.Builder
	b.Grow(n)
	for _, p := range t.parts {
		if p.isVar {
			b.WriteString(vars[p.text])
		} else {
			b.WriteString(p.text)
		}
	}
	return b.String(), nil
}

// Render parses body and renders it with vars.
func Render(body string, vars Vars) (string, error) {
	t, err := Parse(body)
	if err != nil {
		return "", err
	}
	return t.Render(vars)
}

// Escape returns a template that renders to s: every percent sign gets a
// backslash before it.
func Escape(s string) string {
	return strings.ReplaceAll(s, "%", `\%`)
}

// ValidName reports whether name can be a variable: an ASCII letter, then
// up to 127 ASCII letters, digits and underscores. A template refers only
// to the [Referable] ones; the others are still exported to the
// environment. Names are case-sensitive
// in templates, but two names that differ only in case cannot be in one
// variable set, because both would be exported as the same FARM_ variable.
func ValidName(name string) bool {
	if name == "" || len(name) > maxNameLen || !isLetter(name[0]) {
		return false
	}
	for i := 1; i < len(name); i++ {
		if !isNameByte(name[i]) {
			return false
		}
	}
	return true
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func isNameByte(c byte) bool { return isLetter(c) || c >= '0' && c <= '9' || c == '_' }

func syntaxError(body string, offset int, msg string) *SyntaxError {
	line := 1 + strings.Count(body[:offset], "\n")
	col := offset + 1
	if nl := strings.LastIndexByte(body[:offset], '\n'); nl >= 0 {
		col = offset - nl
	}
	return &SyntaxError{Offset: offset, Line: line, Column: col, Msg: msg}
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

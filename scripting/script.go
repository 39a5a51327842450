package scripting

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/farmhand/farmhand/clock"
)

// Script is one version of a named script. The body is a template (see
// [Parse]); it runs with /bin/sh unless it starts with "#!", in which case
// it is uploaded and run by its own interpreter.
type Script struct {
	Name        string    // what bindings and ScriptRefs call it
	Version     int       // from 1; assigned by the Library
	Body        string    // the template the script runs
	Description string    // for people
	Created     time.Time // assigned by the Library
}

// Latest asks [Library.Get] for the newest version.
const Latest = 0

// ScriptRef names a script version; Version [Latest] means the newest one at
// the time it is resolved. Event bindings hold a ScriptRef.
type ScriptRef struct {
	Name    string // the script's name
	Version int    // a version, or Latest
}

// String is "name@version", or "name@latest".
func (r ScriptRef) String() string {
	if r.Version == Latest {
		return r.Name + "@latest"
	}
	return fmt.Sprintf("%s@%d", r.Name, r.Version)
}

// Ref returns the reference to exactly this version.
func (s Script) Ref() ScriptRef { return ScriptRef{Name: s.Name, Version: s.Version} }

// Template parses the body; errors name the script and version.
func (s Script) Template() (*Template, error) {
	t, err := Parse(s.Body)
	if err != nil {
		var se *SyntaxError
		if errors.As(err, &se) {
			se.Script, se.Version = s.Name, s.Version
		}
		return nil, err
	}
	return t, nil
}

// Render renders the body with vars. Unknown variables give an
// [*UnknownVariablesError] naming all of them and the script.
func (s Script) Render(vars Vars) (string, error) {
	t, err := s.Template()
	if err != nil {
		return "", err
	}
	out, err := t.Render(vars)
	if err != nil {
		var ue *UnknownVariablesError
		if errors.As(err, &ue) {
			ue.Script, ue.Version = s.Name, s.Version
		}
		return "", err
	}
	return out, nil
}

// Errors of the [Library].
var (
	ErrScriptNotFound  = errors.New("scripting: script not found")
	ErrVersionNotFound = errors.New("scripting: script version not found")
)

// LibraryOptions configure a [Library]. The zero value is valid.
type LibraryOptions struct {
	Clock clock.Clock // stamps Script.Created; nil means the real clock
}

// Library keeps scripts and all their versions in memory. One Library is
// shared by every farm that uses its scripts, so a script tried on a test
// farm is the same script the live farm runs. It is safe for concurrent use.
type Library struct {
	clock   clock.Clock
	mu      sync.RWMutex
	scripts map[string][]Script // versions in order; index i is version i+1
}

// NewLibrary returns an empty library. opts may be nil.
func NewLibrary(opts *LibraryOptions) *Library {
	if opts == nil {
		opts = &LibraryOptions{}
	}
	return &Library{clock: clock.Or(opts.Clock), scripts: map[string][]Script{}}
}

// Save stores s as the next version of the script named s.Name (version 1
// for a new name) and returns it with Version and Created set. The body
// must parse, so a template mistake is reported when the script is saved,
// not when it first runs.
func (l *Library) Save(s Script) (Script, error) {
	if err := checkScriptName(s.Name); err != nil {
		return Script{}, err
	}
	if _, err := (Script{Name: s.Name, Body: s.Body}).Template(); err != nil {
		return Script{}, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	versions := l.scripts[s.Name]
	s.Version = len(versions) + 1
	s.Created = l.clock.Now()
	l.scripts[s.Name] = append(versions, s)
	return s, nil
}

// Get returns version v of the named script, or the newest for [Latest].
func (l *Library) Get(name string, version int) (Script, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	versions, ok := l.scripts[name]
	if !ok {
		return Script{}, fmt.Errorf("script %q: %w", name, ErrScriptNotFound)
	}
	if version == Latest {
		return versions[len(versions)-1], nil
	}
	if version < 1 || version > len(versions) {
		return Script{}, fmt.Errorf("script %q version %d (has 1 to %d): %w", name, version, len(versions), ErrVersionNotFound)
	}
	return versions[version-1], nil
}

// Resolve returns the script a reference names.
func (l *Library) Resolve(ref ScriptRef) (Script, error) { return l.Get(ref.Name, ref.Version) }

// Versions returns every version of the named script, oldest first.
func (l *Library) Versions(name string) ([]Script, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	versions, ok := l.scripts[name]
	if !ok {
		return nil, fmt.Errorf("script %q: %w", name, ErrScriptNotFound)
	}
	return slices.Clone(versions), nil
}

// Names returns the names of all scripts, sorted.
func (l *Library) Names() []string {
	l.mu.RLock()
	defer l.mu.RUnlock()
	names := make([]string, 0, len(l.scripts))
	for n := range l.scripts {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func checkScriptName(name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return fmt.Errorf("script name %q: must not be empty", name)
	case len(name) > 200:
		return fmt.Errorf("script name %q: longer than 200 bytes", clip(name))
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return fmt.Errorf("script name %q: has a control character", name)
	}
	return nil
}

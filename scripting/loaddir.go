package scripting

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// MaxScriptFileBytes bounds a script file that [LoadDir] reads.
const MaxScriptFileBytes = 1 << 20

// SaveIfChanged stores s as the next version of its name unless the newest
// version already has the same body, in which case it returns that version
// and false. It is how scripts kept in files are versioned by content:
// loading an unchanged file again adds no version. The check and the save
// are one step, so two farms loading the same files make one version.
func (l *Library) SaveIfChanged(s Script) (Script, bool, error) {
	if err := checkScriptName(s.Name); err != nil {
		return Script{}, false, err
	}
	if _, err := (Script{Name: s.Name, Body: s.Body}).Template(); err != nil {
		return Script{}, false, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	versions := l.scripts[s.Name]
	if n := len(versions); n > 0 && versions[n-1].Body == s.Body {
		return versions[n-1], false, nil
	}
	s.Version = len(versions) + 1
	s.Created = l.clock.Now()
	l.scripts[s.Name] = append(versions, s)
	return s, true, nil
}

// LoadDir loads every script file of dir into lib and returns the versions
// now in force, sorted by name. A file's name without its extension is the
// script's name ("install-apache.sh" is the script "install-apache"); its
// content is the body, versioned by content ([Library.SaveIfChanged]): a
// changed file becomes a new version, an unchanged one adds nothing.
//
// Sub-directories and files whose names start with '.' are skipped. Every
// problem is reported at once, each naming its file (and for a template
// mistake, the line and column): two files that give one name, a file over
// [MaxScriptFileBytes], a body that does not parse. Nothing is saved when
// any file is at fault.
func LoadDir(lib *Library, dir string) ([]Script, error) {
	if lib == nil {
		return nil, errors.New("scripting: LoadDir: nil library")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("scripting: scripts directory: %w", err)
	}
	var (
		errs    []error
		scripts []Script
		from    = map[string]string{} // script name → file
	)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") || e.IsDir() {
			continue
		}
		path := filepath.Join(dir, e.Name())
		name := strings.TrimSuffix(e.Name(), filepath.Ext(e.Name()))
		if name == "" {
			continue
		}
		if other, dup := from[name]; dup {
			errs = append(errs, fmt.Errorf("%s: gives the script name %q, as %s does", path, name, other))
			continue
		}
		from[name] = path
		info, err := os.Stat(path) // follows links
		switch {
		case err != nil:
			errs = append(errs, err)
			continue
		case !info.Mode().IsRegular():
			errs = append(errs, fmt.Errorf("%s: not a regular file", path))
			continue
		case info.Size() > MaxScriptFileBytes:
			errs = append(errs, fmt.Errorf("%s: %d bytes, over the %d a script may have", path, info.Size(), MaxScriptFileBytes))
			continue
		}
		body, err := os.ReadFile(path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s := Script{Name: name, Body: string(body), Description: "from " + path}
		if err := checkScriptName(name); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", path, err))
			continue
		}
		if _, err := Parse(s.Body); err != nil {
			var se *SyntaxError
			if errors.As(err, &se) {
				err = fmt.Errorf("%s:%d:%d: %s", path, se.Line, se.Column, se.Msg)
			}
			errs = append(errs, err)
			continue
		}
		scripts = append(scripts, s)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	slices.SortFunc(scripts, func(a, b Script) int { return strings.Compare(a.Name, b.Name) })
	for i, s := range scripts {
		saved, _, err := lib.SaveIfChanged(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", from[s.Name], err)
		}
		scripts[i] = saved
	}
	return scripts, nil
}

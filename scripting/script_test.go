package scripting

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/farmhand/farmhand/clock"
)

func TestLibraryKeepsVersions(t *testing.T) {
	fc := clock.NewFake(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	lib := NewLibrary(&LibraryOptions{Clock: fc})
	v1, err := lib.Save(Script{Name: "Tell me your name", Body: `echo "I am a %role_name%"`})
	if err != nil {
		t.Fatal(err)
	}
	fc.Advance(time.Hour)
	v2, err := lib.Save(Script{Name: "Tell me your name", Body: `echo "I am a %role_name%, and I have apache installed now"`})
	if err != nil {
		t.Fatal(err)
	}
	if v1.Version != 1 || v2.Version != 2 {
		t.Fatalf("versions = %d, %d; want 1, 2", v1.Version, v2.Version)
	}
	if !v2.Created.Equal(v1.Created.Add(time.Hour)) {
		t.Errorf("Created = %v then %v, want an hour apart from the clock", v1.Created, v2.Created)
	}
	cases := []struct {
		name    string
		version int
		want    string
		err     error
	}{
		{"latest is the newest version", Latest, v2.Body, nil},
		{"an old version stays available", 1, v1.Body, nil},
		{"a version past the newest is not found", 3, "", ErrVersionNotFound},
		{"a negative version is not found", -1, "", ErrVersionNotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := lib.Get("Tell me your name", c.version)
			if !errors.Is(err, c.err) {
				t.Fatalf("Get error = %v, want %v", err, c.err)
			}
			if s.Body != c.want {
				t.Errorf("Body = %q, want %q", s.Body, c.want)
			}
		})
	}
	if _, err := lib.Resolve(ScriptRef{Name: "nope"}); !errors.Is(err, ErrScriptNotFound) {
		t.Errorf("Resolve(unknown) = %v, want ErrScriptNotFound", err)
	}
}

func TestLibrarySaveRejectsBadScripts(t *testing.T) {
	lib := NewLibrary(nil)
	if _, err := lib.Save(Script{Name: " ", Body: "true"}); err == nil {
		t.Error("Save with a blank name succeeded")
	}
	_, err := lib.Save(Script{Name: "disk", Body: "echo %" + strings.Repeat("n", 200) + "%"})
	var se *SyntaxError
	if !errors.As(err, &se) || se.Script != "disk" {
		t.Errorf("Save with an overlong name = %v, want a *SyntaxError naming the script", err)
	}
	if names := lib.Names(); len(names) != 0 {
		t.Errorf("rejected scripts were stored: %v", names)
	}
}

func TestLibraryIsSafeForConcurrentUse(t *testing.T) {
	lib := NewLibrary(nil)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 20 {
				if _, err := lib.Save(Script{Name: fmt.Sprint("s", i%2), Body: fmt.Sprint("echo ", j)}); err != nil {
					t.Error(err)
				}
				_, _ = lib.Get(fmt.Sprint("s", i%2), Latest)
			}
		})
	}
	wg.Wait()
	for _, name := range []string{"s0", "s1"} {
		vs, err := lib.Versions(name)
		if err != nil || len(vs) != 80 {
			t.Fatalf("Versions(%s) = %d, %v; want 80", name, len(vs), err)
		}
		for i, s := range vs {
			if s.Version != i+1 {
				t.Fatalf("%s version at %d = %d", name, i, s.Version)
			}
		}
	}
}

// Package readmeprogram holds the test that the README's "Write your own
// program" section works as written: its commands make a module next to
// this repository, its program builds against it and prints what the
// README says.
package readmeprogram

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// section returns the README's text from heading to the next "## ".
func section(t *testing.T, heading string) string {
	t.Helper()
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	i := strings.Index(text, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("README has no %q section", heading)
	}
	text = text[i+len(heading)+2:]
	if j := strings.Index(text, "\n## "); j >= 0 {
		text = text[:j]
	}
	return text
}

var fenceRE = regexp.MustCompile("(?s)```(\\w+)\\n(.*?)```")

func TestWriteYourOwnProgramRunsAsWritten(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program against the repository (-short)")
	}
	text := section(t, "## Write your own program")
	var sh []string
	var program string
	for _, m := range fenceRE.FindAllStringSubmatch(text, -1) {
		switch m[1] {
		case "sh":
			sh = append(sh, m[2])
		case "go":
			program = m[2]
		}
	}
	if len(sh) != 2 || program == "" {
		t.Fatalf("want two sh blocks and a go block, found %d sh blocks and go %v", len(sh), program != "")
	}
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	// The README puts the repository next to the program as ../farmhand.
	dir := t.TempDir()
	if err := os.Symlink(repo, filepath.Join(dir, "farmhand")); err != nil {
		t.Fatal(err)
	}
	gobin := filepath.Join(runtime.GOROOT(), "bin")
	env := append(os.Environ(),
		"PATH="+gobin+string(os.PathListSeparator)+os.Getenv("PATH"),
		// Tests talk to nothing off the machine: the modules come from the
		// cache the repository's own build filled.
		"GOPROXY=off", "GOSUMDB=off", "GOFLAGS=-mod=mod")
	run := func(dir, script string) string {
		t.Helper()
		cmd := exec.Command("/bin/sh", "-ec", script)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s\n%v\n%s", script, err, out)
		}
		return string(out)
	}
	run(dir, sh[0])
	myfarm := filepath.Join(dir, "myfarm")
	if err := os.WriteFile(filepath.Join(myfarm, "main.go"), []byte(program), 0o644); err != nil {
		t.Fatal(err)
	}
	line := strings.TrimSpace(sh[1])
	command, comment, _ := strings.Cut(line, "#")
	want := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(comment), "prints:"))
	out := run(myfarm, command)
	if want == "" || !strings.Contains(out, want) {
		t.Fatalf("go run printed %q, want %q", out, want)
	}
	gomod, err := os.ReadFile(filepath.Join(myfarm, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(gomod), "replace github.com/farmhand/farmhand => ../farmhand") {
		t.Errorf("go.mod lacks the replace directive:\n%s", gomod)
	}
}

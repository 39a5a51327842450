package readmetest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// repoRoot is the module's directory (two levels above this file).
func repoRoot(t *testing.T) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("no caller")
	}
	return filepath.Dir(filepath.Dir(filepath.Dir(file)))
}

// block returns the first fenced block of the language after heading.
func block(t *testing.T, readme, heading, lang string) string {
	t.Helper()
	i := strings.Index(readme, heading)
	if i < 0 {
		t.Fatalf("README has no %q", heading)
	}
	rest := readme[i:]
	fence := "```" + lang + "\n"
	j := strings.Index(rest, fence)
	if j < 0 {
		t.Fatalf("no ```%s block after %q", lang, heading)
	}
	rest = rest[j+len(fence):]
	k := strings.Index(rest, "```\n")
	if k < 0 {
		t.Fatalf("unterminated ```%s block after %q", lang, heading)
	}
	return rest[:k]
}

// program writes the README's program and YAML into a module of their
// own that requires this repository through a replace, and builds it.
func program(t *testing.T, edit func(goSrc, yaml string) (string, string)) (dir, bin string) {
	t.Helper()
	root := repoRoot(t)
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	goSrc := block(t, string(b), "## A farm in Go", "go")
	yaml := block(t, string(b), "## A farm in Go", "yaml")
	if edit != nil {
		goSrc, yaml = edit(goSrc, yaml)
	}
	dir = t.TempDir()
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"main.go":   goSrc,
		"shop.yaml": yaml,
		"go.mod": "module shop\n\ngo 1.26\n\nrequire github.com/farmhand/farmhand v0.0.0\n\n" +
			"replace github.com/farmhand/farmhand => " + root + "\n",
		"go.sum": string(sum),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		gobin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin = filepath.Join(dir, "shop")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, gobin, "build", "-mod=mod", "-o", bin, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build of the README's program: %v\n%s", err, out)
	}
	return dir, bin
}

func runProgram(t *testing.T, dir, bin string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	return string(out), code
}

// The README's program runs as written on the fake cloud: its scripts run
// over SSH and print, the farm scales to 3 app servers and terminates,
// and the program exits 0. With the HostUp script failing, it exits
// non-zero and says which server failed.
func TestTheREADMEProgramRunsAsWritten(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program: not in -short")
	}
	dir, bin := program(t, nil)
	out, code := runProgram(t, dir, bin)
	for _, want := range []string{
		`HostUp script "install-apache" v1 on app64/`,
		"| installing apache on app64 #1",
		"| installing apache on app64 #2",
		"| installing apache on app64 #3",
		"role app64      desired 3 (min 2, max 5): 3 Running",
		"event FarmTerminated",
		"fake-1a", "fake-1b", // zones [a, b] on the fake's zones
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Contains(out, "fake-1c") {
		t.Errorf("a server in fake-1c: app64's zones are [a, b] and db has one server")
	}
	if code != 0 || t.Failed() {
		t.Fatalf("exit status %d; output:\n%s", code, out)
	}

	t.Run("a failing script makes it exit non-zero, naming the server", func(t *testing.T) {
		dir, bin := program(t, func(goSrc, yaml string) (string, string) {
			return strings.Replace(goSrc, "&& touch apache-ready", "&& exit 3", 1), yaml
		})
		out, code := runProgram(t, dir, bin)
		if code == 0 || !strings.Contains(out, "ScriptFailed app64/i-") || !strings.Contains(out, `HostUp script "install-apache" v1: exit status 3`) {
			t.Fatalf("exit status %d; output:\n%s", code, out)
		}
	})
}

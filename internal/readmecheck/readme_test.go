package readmecheck

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func readme(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var fenceRE = regexp.MustCompile("(?s)```(\\w*)\\n(.*?)```")

// lines is text as its non-blank lines, each without surrounding space:
// a snippet matches its test's code whatever the indentation.
func lines(text string) []string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func contains(hay, needle []string) bool {
	for i := 0; i+len(needle) <= len(hay); i++ {
		ok := true
		for j := range needle {
			if hay[i+j] != needle[j] {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// testSources is every _test.go file of the repository, as lines.
func testSources(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	err := filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, "_test.go") {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			out[path] = lines(string(b))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Every Go snippet of the README is, line for line, code in a test (a test
// that compiles it, and most also run it). Whole programs (package main) are
// built and run from the README's text by internal/readmetest and
// internal/readmeprogram.
func TestEveryGoSnippetIsInATest(t *testing.T) {
	srcs := testSources(t)
	n := 0
	for _, m := range fenceRE.FindAllStringSubmatch(readme(t), -1) {
		if m[1] != "go" {
			continue
		}
		snippet := lines(m[2])
		if len(snippet) > 0 && snippet[0] == "package main" {
			continue
		}
		n++
		found := false
		for _, src := range srcs {
			if contains(src, snippet) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("README snippet is in no _test.go file as written:\n%s", m[2])
		}
	}
	if n < 5 {
		t.Fatalf("found only %d Go snippets in the README", n)
	}
}

var commandRE = regexp.MustCompile(`^go (run|test)\b[^#]*?\s(\./[\w./-]+)`)

// Every go run / go test command of the README names a package that exists.
func TestEveryCommandNamesAPackage(t *testing.T) {
	n := 0
	for _, m := range fenceRE.FindAllStringSubmatch(readme(t), -1) {
		if m[1] != "sh" {
			continue
		}
		for _, l := range lines(m[2]) {
			c := commandRE.FindStringSubmatch(l)
			if c == nil {
				continue
			}
			n++
			dir := filepath.Join("../..", strings.TrimSuffix(c[2], "/..."))
			if goFiles(t, dir) == 0 && !strings.HasSuffix(c[2], "/...") {
				t.Errorf("%q: %s holds no Go package", l, c[2])
			}
		}
	}
	// The performance table's commands too.
	for _, c := range regexp.MustCompile("`go (?:run|test)[^`]*?(\\./[\\w/-]+)`").FindAllStringSubmatch(readme(t), -1) {
		n++
		if c[1] == "./" {
			continue // ./... : every package
		}
		if goFiles(t, filepath.Join("../..", c[1])) == 0 {
			t.Errorf("%q: %s holds no Go package", c[0], c[1])
		}
	}
	if n < 10 {
		t.Fatalf("found only %d commands in the README", n)
	}
}

func goFiles(t *testing.T, dir string) int {
	t.Helper()
	ms, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	return len(ms)
}

// The package map names every package: the public ones by path, the
// examples and internal packages in their rows.
func TestPackageMapNamesEveryPackage(t *testing.T) {
	text := readme(t)
	i := strings.Index(text, "| package | what it gives |")
	if i < 0 {
		t.Fatal("README has no package map")
	}
	table := text[i:]
	if j := strings.Index(table, "\n\n"); j >= 0 {
		table = table[:j]
	}
	err := filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel("../..", path)
		rel = filepath.ToSlash(rel)
		if d.Name() == ".git" || d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".") && rel != "." {
			return filepath.SkipDir
		}
		if rel == "." || goFiles(t, path) == 0 {
			return nil
		}
		if all, _ := filepath.Glob(filepath.Join(path, "*_test.go")); len(all) == goFiles(t, path) {
			return nil // tests only
		}
		// A package is named by its path, or within its row (examples,
		// internal) by the rest of it.
		named := false
		for _, name := range []string{rel, strings.TrimPrefix(rel, "examples/"), strings.TrimPrefix(rel, "internal/"), filepath.Base(rel)} {
			if strings.Contains(table, "`"+name+"`") {
				named = true
			}
		}
		if !named {
			t.Errorf("the package map (README.md) does not name %s: add it to its row", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The README's apt-get line installs every Debian package .ci/run does.
func TestInstallLineMatchesCI(t *testing.T) {
	ci, err := os.ReadFile("../../.ci/run")
	if err != nil {
		t.Fatal(err)
	}
	text := readme(t)
	i := strings.Index(text, "apt-get install -y ")
	if i < 0 {
		t.Fatal("README has no apt-get install line")
	}
	line := text[i:]
	line = line[:strings.Index(line, "`")]
	have := map[string]bool{}
	for _, f := range strings.Fields(line) {
		have[f] = true
	}
	pkgs := regexp.MustCompile(`need\+=\(([\w.-]+)\)`).FindAllStringSubmatch(string(ci), -1)
	if len(pkgs) < 5 {
		t.Fatalf("found %d packages in .ci/run", len(pkgs))
	}
	for _, m := range pkgs {
		if !have[m[1]] {
			t.Errorf(".ci/run installs %s; the README's apt-get line does not", m[1])
		}
	}
}

// The repository files the README links to or names by path exist.
func TestNamedFilesExist(t *testing.T) {
	text := readme(t)
	var paths []string
	for _, m := range regexp.MustCompile(`\]\(([^)#:]+)\)`).FindAllStringSubmatch(text, -1) {
		paths = append(paths, m[1])
	}
	// Paths inside the repository: a directory part that is one of its
	// top-level directories.
	for _, m := range regexp.MustCompile("`((?:cluster|docs|examples|farm|internal|provider|scaling|scripting|dnsupdate|store|clock)/[\\w./-]+)`").FindAllStringSubmatch(text, -1) {
		paths = append(paths, strings.TrimSuffix(m[1], "/..."))
	}
	for _, m := range regexp.MustCompile(`\b(scaling/testdata/[\w.-]+|examples/[\w-]+/testdata/[\w.-]+)`).FindAllStringSubmatch(text, -1) {
		paths = append(paths, m[1])
	}
	if len(paths) < 10 {
		t.Fatalf("found only %d paths in the README", len(paths))
	}
	for _, p := range paths {
		if _, err := os.Stat(filepath.Join("../..", p)); err != nil {
			t.Errorf("the README names %s: %v", p, err)
		}
	}
}

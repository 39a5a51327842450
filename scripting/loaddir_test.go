package scripting

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLoadDirVersionsScriptsByContent(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"install-apache.sh": "apt-get -y install apache2 # on %role_name%\n",
		"backup":            "tar czf /b/$(date +%Y%m%d).tgz /srv\n",
		".hidden.sh":        "ignored",
	})
	if err := os.Mkdir(filepath.Join(dir, "old"), 0o755); err != nil {
		t.Fatal(err)
	}
	lib := NewLibrary(nil)
	got, err := LoadDir(lib, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Name != "backup" || got[1].Name != "install-apache" || got[0].Version != 1 || got[1].Version != 1 {
		t.Fatalf("loaded %+v, want backup and install-apache at version 1", got)
	}
	if names := lib.Names(); strings.Join(names, " ") != "backup install-apache" {
		t.Fatalf("library holds %v", names)
	}

	// Loading the same files again adds no version; a changed file adds one.
	if got, err = LoadDir(lib, dir); err != nil || got[0].Version != 1 || got[1].Version != 1 {
		t.Fatalf("second load: %+v, %v; want the same versions", got, err)
	}
	writeFiles(t, dir, map[string]string{"install-apache.sh": "apt-get -y install apache2 nginx\n"})
	if got, err = LoadDir(lib, dir); err != nil || got[0].Version != 1 || got[1].Version != 2 {
		t.Fatalf("load after a change: %+v, %v; want install-apache at version 2", got, err)
	}
	if s, _ := lib.Get("install-apache", 1); !strings.Contains(s.Body, "%role_name%") {
		t.Errorf("version 1 lost its body: %q", s.Body)
	}
}

func TestLoadDirReportsEveryBadFileAndSavesNothing(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"setup.sh":  "echo ok",
		"setup.py":  "print('ok')",
		"long.sh":   "true\necho %" + strings.Repeat("x", 200) + "%\n",
		"fine.sh":   "true",
		"huge.sh":   strings.Repeat("#", MaxScriptFileBytes+1),
		"README.md": "# scripts",
	})
	lib := NewLibrary(nil)
	_, err := LoadDir(lib, dir)
	if err == nil {
		t.Fatal("LoadDir accepted bad files")
	}
	for _, want := range []string{
		filepath.Join(dir, "setup.sh") + `: gives the script name "setup", as ` + filepath.Join(dir, "setup.py") + " does",
		filepath.Join(dir, "long.sh") + ":2:6: variable name",
		filepath.Join(dir, "huge.sh") + ": 1048577 bytes",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if names := lib.Names(); len(names) != 0 {
		t.Errorf("scripts saved despite the errors: %v", names)
	}
	if _, err := LoadDir(lib, filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "scripts directory") {
		t.Errorf("missing directory: %v", err)
	}
}

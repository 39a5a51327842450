package farm

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/farmhand/farmhand/provider/fake"
	"github.com/farmhand/farmhand/scripting"
)

// A farm file names a directory of scripts next to it; its bindings name
// the scripts by file name; the scripts run as written, their percent
// signs for date and printf left alone.
func TestScriptsDirNextToTheFarmFileRuns(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "scripts"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"shop.yaml": `name: shop
scripts_dir: scripts
roles:
  - name: app
    image: img
    min: 1
    max: 1
    scripts:
      - {event: HostUp, script: hello}
`,
		"scripts/hello.sh": `printf "%s is a %s on %s\n" "$(date +%Y)" %role_name% "$(printf '%d%%' 100)"` + "\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	spec, err := LoadFile(filepath.Join(dir, "shop.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if spec.ScriptsDir != filepath.Join(dir, "scripts") {
		t.Fatalf("ScriptsDir = %q, want the directory next to the file", spec.ScriptsDir)
	}
	r := newScriptRig(t, spec, nil, nil)
	if s, err := r.lib.Get("hello", scripting.Latest); err != nil || s.Version != 1 {
		t.Fatalf("hello in the library: %+v, %v", s, err)
	}
	r.upAll()
	got := outputs(r.entries(scripting.LogQuery{Farm: "shop", Event: "HostUp"}))
	if len(got) != 1 || !strings.HasSuffix(got[0], " is a app on 100%") || strings.Contains(got[0], "%Y") {
		t.Fatalf("HostUp output %q, want \"<year> is a app on 100%%\"", got)
	}
}

func TestScriptsDirErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.sh"), []byte("echo %"+strings.Repeat("v", 200)+"%"), 0o644); err != nil {
		t.Fatal(err)
	}
	spec := Spec{Name: "shop", ScriptsDir: dir, Roles: []RoleSpec{{Name: "app", Image: "img", Min: 1, Max: 1}}}
	err := newWithLibrary(t, spec, nil)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "a.sh")+":1:6:") {
		t.Fatalf("error %v, want one naming a.sh:1:6", err)
	}
	cloud := fake.New(fake.Options{})
	defer cloud.Close()
	if _, err := New(spec, cloud, nil); err == nil || !strings.Contains(err.Error(), "scripts_dir") {
		t.Fatalf("scripts_dir without scripting: %v", err)
	}
}

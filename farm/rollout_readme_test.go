package farm_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/farmhand/farmhand/farm"
	"github.com/farmhand/farmhand/provider/fake"
	"github.com/farmhand/farmhand/scripting"
)

// applyFile is the README's "Changing a running farm" snippet, as
// written there.
func applyFile(ctx context.Context, f *farm.Farm, path string) error {
	next, err := farm.LoadFile(path) // the farm file, edited: a new image for role app
	if err != nil {
		return err
	}
	plan, err := f.Plan(next) // changes nothing
	if err != nil {
		return err
	}
	fmt.Print(plan) // ~ role app / image: ami-1 -> ami-2 (replace 4 servers in batches)
	_, err = f.Apply(ctx, next, &farm.ApplyOptions{
		BatchPercent: 25,            // a quarter of the servers at a time
		OnFailure:    farm.RollBack, // the default; farm.Pause stops instead
		RerunScripts: true,          // a binding's new script version runs on the servers in service
	})
	if errors.Is(err, farm.ErrRolloutFailed) {
		log.Println(f.Rollouts()) // rolled back: each Rollout's Reason says why
	}
	return err
}

// The README's code applies an edited farm file to a running farm: a good
// image rolls out, a bad one is rolled back with ErrRolloutFailed.
func TestReadmeApplyFile(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	cloud := fake.New(fake.Options{BootTime: 50 * time.Millisecond, SSH: &fake.SSHOptions{Dir: t.TempDir()}})
	defer cloud.Close()
	lib := scripting.NewLibrary(nil)
	if _, err := lib.Save(scripting.Script{Name: "boot", Body: `case "%image_id%" in bad-*) exit 1;; esac`}); err != nil {
		t.Fatal(err)
	}
	key, err := scripting.GenerateKey("test")
	if err != nil {
		t.Fatal(err)
	}
	file := func(image string) string {
		path := filepath.Join(dir, "shop.yaml")
		yaml := `name: shop
roles:
  - name: app
    image: ` + image + `
    min: 4
    max: 8
    scripts:
      - {event: HostInit, script: boot, blocking: true}
`
		if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	spec, err := farm.LoadFile(file("ami-1"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := farm.New(spec, cloud, &farm.Options{TickInterval: 50 * time.Millisecond,
		Scripting: &farm.ScriptingOptions{Library: lib, Key: key}})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- f.Run(runCtx) }()
	defer func() { stop(); <-done }()
	if err := f.Launch(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if err := applyFile(ctx, f, file("ami-2")); err != nil {
		t.Fatalf("a good image: %v", err)
	}
	if ro := f.Rollouts()[0]; ro.Phase != farm.PhaseDone || ro.Replaced != 4 || ro.Batch != 4 {
		t.Errorf("rollout %s, want done in 4 batches of 1 (25%% of 4)", ro)
	}
	if err := applyFile(ctx, f, file("bad-3")); !errors.Is(err, farm.ErrRolloutFailed) {
		t.Errorf("a bad image: %v, want ErrRolloutFailed", err)
	}
	if ro := f.Rollouts()[0]; ro.Phase != farm.PhaseRolledBack || ro.To.Image != "ami-2" {
		t.Errorf("rollout %s, want rolled back to ami-2", ro)
	}
}

// The README shows applyFile's body as written.
func TestReadmeApplySnippetIsApplyFile(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("rollout_readme_test.go")
	if err != nil {
		t.Fatal(err)
	}
	const title = "## Changing a running farm: plan and apply"
	sec := string(readme)
	i := strings.Index(sec, title)
	if i < 0 {
		t.Fatalf("README has no section %q", title)
	}
	sec = sec[i:]
	start := strings.Index(sec, "```go\n")
	end := strings.Index(sec[start+6:], "```\n")
	if start < 0 || end < 0 {
		t.Fatal("no Go block in the README's section")
	}
	snippet := sec[start+6 : start+6+end]
	code := string(src)
	code = code[strings.Index(code, "func applyFile("):]
	code = code[strings.Index(code, "{\n")+2 : strings.Index(code, "\n}\n")+1]
	var want strings.Builder
	for _, line := range strings.SplitAfter(code, "\n") {
		line = strings.TrimPrefix(line, "\t")
		want.WriteString(strings.ReplaceAll(line, "\t", "    "))
	}
	if snippet != want.String() {
		t.Errorf("the README's snippet differs from applyFile's body:\nREADME:\n%s\ncode:\n%s", snippet, want.String())
	}
}

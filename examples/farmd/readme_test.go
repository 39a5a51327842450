package main

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// readmeBlock returns the shell block of the README's farmd section.
func readmeBlock(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	i := strings.Index(text, "## The reference daemon: farmd")
	if i < 0 {
		t.Fatal("README has no farmd section")
	}
	text = text[i:]
	start := strings.Index(text, "```sh\n")
	end := strings.Index(text[start+6:], "```")
	if start < 0 || end < 0 {
		t.Fatal("the farmd section has no sh block")
	}
	return text[start+6 : start+6+end]
}

// The README's farmd commands run as written, from the repository's root.
func TestReadmeFarmdCommands(t *testing.T) {
	for _, bin := range []string{"bash", "curl"} {
		if _, err := exec.LookPath(bin); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is not installed", bin)
			}
			t.Skipf("%s is not installed", bin)
		}
	}
	if ln, err := net.Listen("tcp", "127.0.0.1:8089"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the README's port is taken: %v", err)
		}
		t.Skipf("the README's port 127.0.0.1:8089 is taken: %v", err)
	} else {
		ln.Close()
	}
	block := readmeBlock(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, "bash", "-e", "-c", block)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the README's farmd commands: %v\n%s", err, out)
	}
	for _, want := range []string{
		`"name": "shop"`,
		`{"desired":3,"role":"app"}`,
		`farmhand_cost_per_hour{farm="shop",role="app"} 0.75`,
		`farmhand_servers{farm="shop",role="app",state="Running"} 3`,
		"farmd: shop.yaml changed; plan:",
		"    max: 4 -> 6",
		"farmd: shop.yaml: applied",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}

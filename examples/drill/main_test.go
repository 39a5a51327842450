package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/farmhand/farmhand/internal/netguard"
	"go.uber.org/goleak"
)

// The example's runs may connect to loopback only.
func TestMain(m *testing.M) { os.Exit(netguard.Guarded(m).Run()) }

func TestDrillPrintsItsReport(t *testing.T) {
	defer goleak.VerifyNone(t)
	var out strings.Builder
	if err := run(&out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	text := out.String()
	for _, want := range []string{
		"farm is ready: 4 app servers\n",
		"refused: farm: drill refused: it would kill 4 servers, more than its blast radius of 2 (MaxVictims)\n",
		"dry run: drill 0.5 of role app: kill 2 server(s) (blast radius 2)\n  kill app/",
		"drill #1 0.5 of role app at ",
		"  killed   app/",
		"  replaced app/",
		"  no script failed\n",
		"1 drill report(s) kept in the store\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if n := strings.Count(text, "  killed   app/"); n != 2 {
		t.Errorf("%d servers killed, want 2", n)
	}
	if n := strings.Count(text, "  replaced app/"); n != 2 {
		t.Errorf("%d replacements, want 2", n)
	}
	if !regexp.MustCompile(`detected in [0-9.]+m?s, healed in [0-9.]+m?s`).MatchString(text) {
		t.Errorf("output lacks the durations")
	}
	if t.Failed() {
		t.Logf("output:\n%s", text)
	}
}

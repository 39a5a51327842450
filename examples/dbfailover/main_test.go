package main

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/farmhand/farmhand/internal/bindtest"
)

// checkOutput asserts the failover's story in the program's output.
func checkOutput(t *testing.T, out string, dnsName string) {
	t.Helper()
	m := regexp.MustCompile(`failover of role db: (i-\d+) \((\S+)\) -> (i-\d+) \((\S+)\)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("output lacks the failover:\n%s", out)
	}
	oldID, oldIP, newID, newIP := m[1], m[2], m[3], m[4]
	wants := []string{
		`--- crashing the master db/` + oldID + ` (` + oldIP + `)`,
		`event HostDown            db/` + oldID + ` cloud reports the server terminated`,
		`NewDBMaster script "promote" on db/` + newID + `: exit 0: promoted at `,
		`; master was ` + oldID + ` (` + oldIP + `)`,
		dnsName + ` answers db.example.test. = [` + newIP + `]`,
		`db.example.test.         A ` + newIP,
		`event FarmTerminated`,
		`db.example.test.         (no such name)`,
	}
	for _, app := range []string{"i-000003", "i-000004"} {
		wants = append(wants, `NewDBMaster script "reconnect" on app/`+app+`: exit 0: db.example.test is now `+newIP+` (`+newID+`)`)
	}
	for _, want := range wants {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if !regexp.MustCompile(`(?m)^failover detect_ms=\d+ promote_ms=\d+ dns_ms=\d+ total_ms=\d+$`).MatchString(out) {
		t.Error("output lacks the benchmark line")
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}

func TestFailoverWithBIND(t *testing.T) {
	bindtest.RequireNamed(t)
	defer goleak.VerifyNone(t)
	var out strings.Builder
	if err := run(context.Background(), nil, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "DNS: BIND 9 named at 127.0.0.1:") {
		t.Errorf("BIND is installed but the program did not use it")
	}
	checkOutput(t, out.String(), "BIND")
	if !regexp.MustCompile(`verified at BIND\s+\+\s*\d+ ms`).MatchString(out.String()) {
		t.Errorf("no verification at BIND in the timeline:\n%s", out.String())
	}
}

func TestFailoverWithTheMemoryUpdater(t *testing.T) {
	defer goleak.VerifyNone(t)
	var out strings.Builder
	if err := run(context.Background(), []string{"-memory-dns"}, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "DNS: in-memory updater (-memory-dns)") {
		t.Errorf("the program does not say it used the in-memory updater")
	}
	checkOutput(t, out.String(), "memory")
}

func TestBadFlagsAreRefused(t *testing.T) {
	for _, args := range [][]string{{"-mode", "explode"}, {"-runs", "0"}, {"-threshold", "0"}, {"-tick", "0s"}} {
		var out strings.Builder
		if err := run(context.Background(), args, &out); err == nil {
			t.Errorf("run %v succeeded", args)
		}
	}
}

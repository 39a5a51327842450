package main

import (
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestQuickstartRunsScriptsReplacesACrashedServerAndPrintsTheLog(t *testing.T) {
	defer goleak.VerifyNone(t)
	var out strings.Builder
	if err := run(&out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	for _, want := range []string{
		`HostInit script "db-setup" v1 on db/i-000001: exit 0 in `,
		"          | creating database shop on i-000001\n",
		`HostUp script "hello" v1 on app/`,
		"          | farm quickstart server 1 at 127.100.0.",
		"          | farm quickstart server 2 at 127.100.0.",
		`Manual script "report" v1 on app/`,
		`report on role app: 2 ok of 2`,
		`on purpose`,
		`  (cloud reports the server terminated)`,
		`event HostUp             app/i-000004 (127.100.0.4)   initialised`,
		` was replaced:`,
		`  Running          127.100.0.4 `,
		`   Terminated       127.100.0.`,
		`event FarmTerminated                                  every server is gone`,
		`scripting log of farm "quickstart" (6 entries, oldest first):`,
		`HostInit db-setup v1 on db/i-000001: exit 0: creating database shop on i-000001`,
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", out.String())
	}
}

package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

func TestAutoscaleShowsScaleOutScaleInAndTheAPI(t *testing.T) {
	var out bytes.Buffer
	if err := run(&out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	text := out.String()
	for _, want := range []string{
		"ScalingDecision 2 → 4: load1 avg 5.00 > 2.00 for 2 datapoints: +2 (2 → 4)",
		"ScalingDecision 4 → 6: load1 avg 2.50 > 2.00 for 2 datapoints: +2 (4 → 6)",
		"app: 6 running (load1 1.67 each)",
		"ScalingDecision 6 → 5: load1 avg 0.20 < 0.50 for 2 datapoints: -1 (6 → 5)",
		"ScalingDecision 3 → 2: load1 avg 0.40 < 0.50 for 2 datapoints: -1 (3 → 2)",
		"app: 2 running (load1 0.60 each), load balancer web: i-000005 i-000006",
		"without a token: 401 Unauthorized",
		"app desired now 2\n",
		`with the token: 200 OK {"desired":5,"role":"app"}; app desired now 2`,
		`GET /scaling/roles/app after the policy's evaluation: 200 OK {"role":"app","desired":5,"running":2,"min":2,"max":8}`,
		"scaling history: 8 changes; the last by policy: API-set desired 5",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	// Each server that leaves runs its hook while still registered, is
	// deregistered, and only then terminated.
	seq := regexp.MustCompile(`BeforeHostTerminate (i-\d+): draining \(still in load balancer web: true\)\n.*cloud: Deregister web \[(i-\d+)\]\n.*cloud: Terminate \[(i-\d+)\]\n`)
	m := seq.FindAllStringSubmatch(text, -1)
	if len(m) != 4 {
		t.Fatalf("%d graceful scale-ins in the output, want 4:\n%s", len(m), text)
	}
	for _, g := range m {
		if g[1] != g[2] || g[2] != g[3] {
			t.Errorf("hook, deregistration and termination name different servers: %v", g[1:])
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", text)
	}
}

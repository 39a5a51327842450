package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

func TestWebfarmFailsOverAndBacksUp(t *testing.T) {
	if missing := missingPrograms(); len(missing) > 0 {
		msg := "needs " + strings.Join(missing, ", ") + " (apt-get install -y mariadb-server mariadb-client bind9 bind9-dnsutils nginx haproxy)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	t.Log(out.String())
	for _, want := range []string{"through HAProxy: ok", "(a replica): ", "lost=0", "writable masters at once: 1", "reconnected to", "farm terminated"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

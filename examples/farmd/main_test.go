package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/farmhand/farmhand/internal/netguard"
	"go.uber.org/goleak"
)

// The daemon's runs may connect to loopback only.
func TestMain(m *testing.M) { os.Exit(netguard.Guarded(m).Run()) }

// syncBuffer is farmd's output, read while it runs.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

const shopYAML = `name: shop
roles:
  - name: app
    image: img-app
    min: 1
    max: 3
    price_per_hour: 0.25
    scaling:
      api: {}
    scripts:
      - event: HostUp
        script: hello
scripts_dir: scripts
`

func TestFarmdServesStatusMetricsAndTheScalingAPIAndAppliesChanges(t *testing.T) {
	defer goleak.VerifyNone(t)
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "scripts"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "scripts", "hello.sh"), []byte("echo hello from %role_name%\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "shop.yaml")
	if err := os.WriteFile(file, []byte(shopYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("FARMD_TEST_TOKEN", "s3cret")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	c := config{dir: dir, cloud: "fake", tokenEnv: "FARMD_TEST_TOKEN", tick: 100 * time.Millisecond, rescan: 100 * time.Millisecond, boot: 50 * time.Millisecond}
	go func() { done <- run(ctx, out, c, ln) }()
	defer func() {
		cancel()
		if err := <-done; err != context.Canceled {
			t.Errorf("run = %v", err)
		}
		if t.Failed() {
			t.Logf("farmd output:\n%s", out.String())
		}
	}()

	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	page := func() map[string]any {
		t.Helper()
		code, body := get("/status/farms/shop?format=json")
		if code != http.StatusOK {
			return nil
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Fatalf("status JSON: %v\n%s", err, body)
		}
		return v
	}
	eventually := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				_, body := get("/status/farms/shop?format=json")
				t.Fatalf("timed out waiting for %s; status:\n%s", what, body)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	metric := func(line string) bool {
		_, body := get("/metrics")
		return strings.Contains(body, line)
	}
	eventually("one app server running", func() bool {
		return metric(`farmhand_servers{farm="shop",role="app",state="Running"} 1`)
	})
	if !metric(`farmhand_cost_per_hour{farm="shop",role="app"} 0.25`) {
		t.Errorf("/metrics lacks the cost per hour")
	}
	if p := page(); p == nil || !strings.Contains(mustJSON(t, p), `"app"`) {
		t.Fatalf("status page JSON %v", p)
	}

	// The scaling API, with and without the token.
	post := func(token, body string) int {
		t.Helper()
		req, _ := http.NewRequest("POST", base+"/farms/shop/scaling/roles/app/desired", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("wrong", `{"desired": 2}`); code != http.StatusUnauthorized {
		t.Fatalf("a call with a wrong token: %d, want 401", code)
	}
	if code := post("s3cret", `{"desired": 2}`); code != http.StatusOK {
		t.Fatalf("a call with the token: %d, want 200", code)
	}
	eventually("two app servers running", func() bool {
		return metric(`farmhand_servers{farm="shop",role="app",state="Running"} 2`)
	})

	// A changed file is planned and applied to the running farm.
	if err := os.WriteFile(file, []byte(strings.Replace(shopYAML, "max: 3", "max: 5", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	eventually("the new max in force", func() bool {
		return metric(`farmhand_role_max_servers{farm="shop",role="app"} 5`)
	})
	for _, want := range []string{
		"farmd: shop.yaml: farm \"shop\" launched (1 roles)\n",
		"farmd: shop.yaml changed; plan:\n",
		"max: 3 -> 5",
		"farmd: shop.yaml: applied\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "farmd.db")); err != nil {
		t.Errorf("no bbolt file: %v", err)
	}
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

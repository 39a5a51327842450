package status_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/farmhand/farmhand/dnsupdate"
	"github.com/farmhand/farmhand/farm"
	"github.com/farmhand/farmhand/farm/metrics"
	"github.com/farmhand/farmhand/farm/status"
	"github.com/farmhand/farmhand/provider"
	"github.com/farmhand/farmhand/provider/fake"
	"github.com/farmhand/farmhand/scripting"
)

// readmeMetrics holds the README's Prometheus snippet as written there.
func readmeMetrics(spec farm.Spec, cloud provider.Provider, updater dnsupdate.Updater, lib *scripting.Library,
	key *scripting.KeyPair, reg *prometheus.Registry, mux *http.ServeMux) (*farm.Farm, error) {
	c := metrics.New(nil)
	reg.MustRegister(c) // reg: a *prometheus.Registry, or prometheus.DefaultRegisterer
	f, err := farm.New(spec, c.Provider(cloud), &farm.Options{
		DNS:       c.DNS(updater),
		Scripting: &farm.ScriptingOptions{Library: lib, Key: key, OnResult: c.ScriptResult},
	})
	if err != nil {
		return nil, err
	}
	if _, err := c.Watch(f); err != nil { // its stop function ends the watch
		return nil, err
	}
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return f, nil
}

// readmeStatus holds the README's status page snippet as written there.
func readmeStatus(f *farm.Farm, mux *http.ServeMux) error {
	h := status.NewHandler(&status.Options{Title: "shop"})
	if _, err := h.Watch(f); err != nil {
		return err
	}
	mux.Handle("/status/", http.StripPrefix("/status", h))
	return nil
}

// The README's snippets are the functions above, line for line, and they
// serve what the README says.
func TestReadmeObservingAFarm(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("readme_test.go")
	if err != nil {
		t.Fatal(err)
	}
	sec := string(readme)
	i := strings.Index(sec, "## Observing a farm")
	if i < 0 {
		t.Fatal(`README has no section "Observing a farm"`)
	}
	sec = sec[i+1:]
	sec = sec[:strings.Index(sec, "\n## ")]
	blocks := strings.Split(sec, "```go\n")[1:]
	if len(blocks) != 2 {
		t.Fatalf("%d Go blocks in the section, want 2", len(blocks))
	}
	code := strings.ReplaceAll(strings.ReplaceAll(string(src), "\n\t", "\n"), "\t", "    ")
	for _, b := range blocks {
		b = b[:strings.Index(b, "```\n")]
		if !strings.Contains(code, b) {
			t.Errorf("README block is not in readme_test.go as written:\n%s", b)
		}
	}

	cloud := fake.New(fake.Options{BootTime: 20 * time.Millisecond})
	defer cloud.Close()
	key, err := scripting.GenerateKey("readme")
	if err != nil {
		t.Fatal(err)
	}
	spec := farm.Spec{Name: "shop", Roles: []farm.RoleSpec{{Name: "app", Image: "img", Min: 1, Max: 2,
		DNS: []farm.DNSName{{Name: "int-app.example.test"}}}}}
	mux := http.NewServeMux()
	f, err := readmeMetrics(spec, cloud, dnsupdate.NewMemory(nil), scripting.NewLibrary(nil), key, prometheus.NewRegistry(), mux)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := readmeStatus(f, mux); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := f.Launch(ctx); err != nil {
		t.Fatal(err)
	}
	for !f.Status().Ready() {
		if err := f.Reconcile(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := f.Settle(ctx); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for path, want := range map[string]string{
		"/metrics":                 `farmhand_servers{farm="shop",role="app",state="Running"} 1`,
		"/status/":                 `href="farms/shop"`,
		"/status/farms/shop":       `<table id="servers">`,
		"/status/?format=json":     `"name": "shop"`,
		"/metrics?name[]=dns":      `farmhand_dns_updates_total{operation="set",result="ok"}`,
		"/metrics?name[]=provider": `farmhand_provider_calls_total{operation="launch",provider="fake"} 1`,
	} {
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Errorf("GET %s = %d, want %q in:\n%.1500s", path, resp.StatusCode, want, body)
		}
	}
}

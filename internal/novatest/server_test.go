package novatest

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// recorder collects the violations a server reports.
type recorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *recorder) add(msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, msg)
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.msgs
	r.msgs = nil
	return out
}

func start(t *testing.T) (*Server, *recorder) {
	t.Helper()
	rec := &recorder{}
	s := Start(&Options{Violation: rec.add, Images: []string{"img"}, Flavors: []string{"flv"}})
	t.Cleanup(s.Close)
	return s, rec
}

func do(t *testing.T, method, url, token, contentType, body string) (int, map[string]any, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("X-Auth-Token", token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(data, &out)
	return resp.StatusCode, out, resp.Header
}

func login(t *testing.T, s *Server) string {
	t.Helper()
	status, body, _ := do(t, "POST", s.IdentityV2URL()+"tokens", "", "application/json",
		`{"auth":{"RAX-KSKEY:apiKeyCredentials":{"username":"`+DefaultUsername+`","apiKey":"`+DefaultAPIKey+`"}}}`)
	if status != 200 {
		t.Fatalf("API-key login: HTTP %d %v", status, body)
	}
	return body["access"].(map[string]any)["token"].(map[string]any)["id"].(string)
}

func TestRequestsThatBreakTheWireFormatAreReported(t *testing.T) {
	s, rec := start(t)
	token := login(t, s)
	servers := s.ComputeURL("RegionOne") + "/servers"
	good := `{"server":{"name":"a","imageRef":"img","flavorRef":"flv"}}`
	for _, c := range []struct {
		name                            string
		method, url, token, ctype, body string
		status                          int
		violation                       string
	}{
		{"no token", "GET", servers + "/detail", "", "", "", 401, "without X-Auth-Token"},
		{"a token the server never issued", "GET", servers + "/detail", "made-up", "", "", 401, "never issued"},
		{"a body that is not JSON by its Content-Type", "POST", servers, token, "text/plain", good, 415, "Content-Type"},
		{"an unknown field in servers create", "POST", servers, token, "application/json",
			`{"server":{"name":"a","imageRef":"img","flavorRef":"flv","colour":"red"}}`, 400, "unknown field"},
		{"servers create without flavorRef", "POST", servers, token, "application/json",
			`{"server":{"name":"a","imageRef":"img"}}`, 400, "flavorRef"},
		{"user data that is not base64", "POST", servers, token, "application/json",
			`{"server":{"name":"a","imageRef":"img","flavorRef":"flv","user_data":"#!/bin/sh"}}`, 400, "base 64"},
		{"a route Nova does not have", "GET", s.ComputeURL("RegionOne") + "/os-floating-ips-bulk", token, "", "", 404, "no such compute route"},
		{"another project's URL", "GET", s.URL + "/RegionOne/compute/v2.1/other-project/servers/detail", token, "", "", 403, "project"},
		{"an action on an unknown server is the cloud's 404, not a violation", "POST", servers + "/x/action", token, "application/json", `{"reboot":{"type":"SOFT"}}`, 0, ""},
		{"two credentials in one v2.0 login", "POST", s.IdentityV2URL() + "tokens", "", "application/json",
			`{"auth":{"passwordCredentials":{"username":"u","password":"p"},"RAX-KSKEY:apiKeyCredentials":{"username":"u","apiKey":"k"}}}`, 400, "exactly one"},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, body, _ := do(t, c.method, c.url, c.token, c.ctype, c.body)
			got := rec.take()
			if c.status == 0 { // semantic: not found, no violation
				if len(got) != 0 {
					t.Fatalf("violations %q for a request a cloud may get", got)
				}
				return
			}
			if status != c.status {
				t.Errorf("HTTP %d %v, want %d", status, body, c.status)
			}
			if len(got) != 1 || !strings.Contains(got[0], c.violation) {
				t.Fatalf("violations %q, want one mentioning %q", got, c.violation)
			}
		})
	}
}

func TestWellFormedRequestsPassAndSemanticRefusalsAreNotViolations(t *testing.T) {
	s, rec := start(t)
	token := login(t, s)
	servers := s.ComputeURL("RegionOne") + "/servers"
	status, body, _ := do(t, "POST", servers, token, "application/json",
		`{"server":{"name":"web","imageRef":"img","flavorRef":"flv","min_count":2,"max_count":3,"metadata":{"farmhand:farm":"web"},"user_data":"IyEvYmluL3NoCg=="}}`)
	if status != 202 || body["server"] == nil {
		t.Fatalf("create: HTTP %d %v", status, body)
	}
	if ids := s.Servers(); len(ids) != 3 {
		t.Fatalf("create with max_count 3 made %d servers", len(ids))
	}
	status, _, _ = do(t, "POST", servers, token, "application/json", `{"server":{"name":"web","imageRef":"nope","flavorRef":"flv"}}`)
	if status != 400 {
		t.Fatalf("create with an unknown image: HTTP %d, want 400", status)
	}
	// A full page carries a next link; the page after the last one is empty.
	status, body, _ = do(t, "GET", servers+"/detail?limit=3", token, "", "")
	if status != 200 || len(body["servers"].([]any)) != 3 || body["servers_links"] == nil {
		t.Fatalf("detail?limit=3: HTTP %d, %d servers, links %v", status, len(body["servers"].([]any)), body["servers_links"])
	}
	next := body["servers_links"].([]any)[0].(map[string]any)["href"].(string)
	status, body, _ = do(t, "GET", next, token, "", "")
	if status != 200 || len(body["servers"].([]any)) != 0 || body["servers_links"] != nil {
		t.Fatalf("next page: HTTP %d %v, want an empty last page", status, body)
	}
	if got := rec.take(); len(got) != 0 {
		t.Fatalf("violations %q for well-formed requests", got)
	}
}

func TestKeystoneV3IssuesATokenInXSubjectToken(t *testing.T) {
	s, rec := start(t)
	status, body, header := do(t, "POST", s.IdentityV3URL()+"auth/tokens", "", "application/json",
		`{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"`+DefaultUsername+`","domain":{"name":"Default"},"password":"`+DefaultPassword+`"}}},"scope":{"project":{"name":"`+DefaultProjectName+`","domain":{"name":"Default"}}}}}`)
	token := header.Get("X-Subject-Token")
	if status != 201 || token == "" || body["token"].(map[string]any)["catalog"] == nil {
		t.Fatalf("v3 login: HTTP %d, token %q, body %v", status, token, body)
	}
	if status, _, _ := do(t, "GET", s.ComputeURL("RegionOne")+"/os-availability-zone", token, "", ""); status != 200 {
		t.Fatalf("compute with the v3 token: HTTP %d", status)
	}
	status, _, _ = do(t, "POST", s.IdentityV3URL()+"auth/tokens", "", "application/json",
		`{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"`+DefaultUsername+`","domain":{"name":"Default"},"password":"wrong"}}}}}`)
	if status != 401 {
		t.Fatalf("v3 login with a wrong password: HTTP %d, want 401", status)
	}
	if got := rec.take(); len(got) != 0 {
		t.Fatalf("violations %q", got)
	}
}

func TestLoopbackIPsAndHostKeyOptions(t *testing.T) {
	const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPinnedKeyOfTheOneTestSshdXXXXXXXXXXXXXXXXXX"
	rec := &recorder{}
	s := Start(&Options{Violation: rec.add, LoopbackIPs: true, HostKey: key})
	t.Cleanup(s.Close)
	token := login(t, s)
	servers := s.ComputeURL("RegionOne") + "/servers"
	if status, body, _ := do(t, "POST", servers, token, "application/json",
		`{"server":{"name":"web","imageRef":"img","flavorRef":"flv","min_count":2,"max_count":2}}`); status != 202 {
		t.Fatalf("create: HTTP %d %v", status, body)
	}
	s.Settle()
	for _, id := range s.Servers() {
		if got := s.HostKey(id); got != key {
			t.Fatalf("server %s prints host key %q, want the option's", id, got)
		}
		status, body, _ := do(t, "GET", servers+"/"+id, token, "", "")
		addrs, _ := body["server"].(map[string]any)["addresses"].(map[string]any)
		private, _ := addrs["private"].([]any)
		if status != 200 || len(private) != 1 || addrs["public"] != nil {
			t.Fatalf("server %s: HTTP %d, addresses %v; want one private address and no public one", id, status, addrs)
		}
		if ip := private[0].(map[string]any)["addr"].(string); !strings.HasPrefix(ip, "127.2.") {
			t.Fatalf("server %s has private address %s, want 127.2.x.y", id, ip)
		}
		status, body, _ = do(t, "POST", servers+"/"+id+"/action", token, "application/json", `{"os-getConsoleOutput":{}}`)
		if out, _ := body["output"].(string); status != 200 || !strings.Contains(out, key) {
			t.Fatalf("console of %s: HTTP %d %v, want the option's key", id, status, body)
		}
	}
	if got := rec.take(); len(got) != 0 {
		t.Fatalf("violations %q", got)
	}
}

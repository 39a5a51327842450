package novatest

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"slices"
	"time"
)

// tokenLifetime is how long an issued token stays valid.
const tokenLifetime = 24 * time.Hour

func (s *Server) issueToken() *token {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	tk := &token{id: "gAAAAA" + hex.EncodeToString(b), expires: s.opts.Now().Add(tokenLifetime)}
	s.mu.Lock()
	s.tokens[tk.id] = tk
	s.mu.Unlock()
	return tk
}

// versions answers Keystone's version discovery at the root, /v2.0 and /v3.
func (s *Server) versions(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		s.badRequest(w, r, http.StatusMethodNotAllowed, "version discovery is GET only")
		return
	}
	v3 := map[string]any{"id": "v3.14", "status": "stable", "updated": "2020-04-07T00:00:00Z",
		"links": []any{map[string]any{"rel": "self", "href": s.IdentityV3URL()}}}
	v2 := map[string]any{"id": "v2.0", "status": "deprecated", "updated": "2016-08-04T00:00:00Z",
		"links": []any{map[string]any{"rel": "self", "href": s.IdentityV2URL()}}}
	switch r.URL.Path {
	case "/v3", "/v3/":
		writeJSON(w, http.StatusOK, map[string]any{"version": v3})
	case "/v2.0", "/v2.0/":
		writeJSON(w, http.StatusOK, map[string]any{"version": v2})
	default:
		writeJSON(w, http.StatusMultipleChoices, map[string]any{"versions": map[string]any{"values": []any{v3, v2}}})
	}
}

// v2AuthRequest is POST /v2.0/tokens: password, Rackspace API key or token
// credentials, optionally scoped to a tenant.
type v2AuthRequest struct {
	Auth struct {
		PasswordCredentials *struct {
			Username string `json:"username"`
			Password string `json:"password"`
		} `json:"passwordCredentials,omitempty"`
		APIKeyCredentials *struct {
			Username string `json:"username"`
			APIKey   string `json:"apiKey"`
		} `json:"RAX-KSKEY:apiKeyCredentials,omitempty"`
		Token *struct {
			ID string `json:"id"`
		} `json:"token,omitempty"`
		TenantID   string `json:"tenantId,omitempty"`
		TenantName string `json:"tenantName,omitempty"`
	} `json:"auth"`
}

func (s *Server) identityV2(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		s.badRequest(w, r, http.StatusMethodNotAllowed, "tokens is POST only")
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		s.badRequest(w, r, http.StatusUnsupportedMediaType, "Content-Type is %q, want application/json", ct)
		return
	}
	if r.Header.Get("X-Auth-Token") != "" {
		s.badRequest(w, r, http.StatusBadRequest, "token request carries an X-Auth-Token")
		return
	}
	var req v2AuthRequest
	if !s.decode(w, r, &req) {
		return
	}
	a := req.Auth
	n := 0
	for _, set := range []bool{a.PasswordCredentials != nil, a.APIKeyCredentials != nil, a.Token != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		s.badRequest(w, r, http.StatusBadRequest, "want exactly one of passwordCredentials, RAX-KSKEY:apiKeyCredentials, token; got %d", n)
		return
	}
	ok := false
	method := ""
	switch {
	case a.PasswordCredentials != nil:
		c := a.PasswordCredentials
		if c.Username == "" || c.Password == "" {
			s.badRequest(w, r, http.StatusBadRequest, "passwordCredentials needs username and password")
			return
		}
		ok, method = c.Username == s.opts.Username && c.Password == s.opts.Password, "PASSWORD"
	case a.APIKeyCredentials != nil:
		c := a.APIKeyCredentials
		if c.Username == "" || c.APIKey == "" {
			s.badRequest(w, r, http.StatusBadRequest, "RAX-KSKEY:apiKeyCredentials needs username and apiKey")
			return
		}
		ok, method = c.Username == s.opts.Username && c.APIKey == s.opts.APIKey, "APIKEY"
	case a.Token != nil:
		s.mu.Lock()
		tk := s.tokens[a.Token.ID]
		s.mu.Unlock()
		ok, method = tk != nil && !tk.revoked, "TOKEN"
	}
	if ok && (a.TenantID != "" && a.TenantID != s.opts.ProjectID || a.TenantName != "" && a.TenantName != s.opts.ProjectName) {
		ok = false
	}
	if !ok {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"unauthorized": map[string]any{
			"code": 401, "message": "Username or api key is invalid."}})
		return
	}
	tk := s.issueToken()
	catalog := []any{}
	var compute, volume []any
	for _, region := range s.opts.Regions {
		compute = append(compute, map[string]any{
			"region": region, "tenantId": s.opts.ProjectID,
			"publicURL": s.ComputeURL(region), "internalURL": s.ComputeURL(region),
			"versionId": "2", "versionInfo": s.ComputeURL(region), "versionList": s.URL + "/" + region + "/compute/",
		})
		volume = append(volume, map[string]any{
			"region": region, "tenantId": s.opts.ProjectID,
			"publicURL": s.VolumeURL(region), "internalURL": s.VolumeURL(region),
		})
	}
	catalog = append(catalog,
		map[string]any{"name": "cloudServersOpenStack", "type": "compute", "endpoints": compute},
		map[string]any{"name": "cloudBlockStorage", "type": "volumev3", "endpoints": volume},
	)
	writeJSON(w, http.StatusOK, map[string]any{"access": map[string]any{
		"token": map[string]any{
			"id":                       tk.id,
			"expires":                  tk.expires.UTC().Format("2006-01-02T15:04:05.000Z"),
			"tenant":                   map[string]any{"id": s.opts.ProjectID, "name": s.opts.ProjectName},
			"RAX-AUTH:authenticatedBy": []string{method},
		},
		"serviceCatalog": catalog,
		"user": map[string]any{
			"id": "u-" + s.opts.Username, "name": s.opts.Username,
			"roles":                  []any{map[string]any{"id": "3", "name": "compute:default"}},
			"RAX-AUTH:defaultRegion": s.opts.Regions[0],
		},
	}})
}

type v3Domain struct {
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
}

type v3User struct {
	ID       string    `json:"id,omitempty"`
	Name     string    `json:"name,omitempty"`
	Password string    `json:"password,omitempty"`
	Domain   *v3Domain `json:"domain,omitempty"`
}

// v3AuthRequest is POST /v3/auth/tokens as the Identity API v3 documents it.
type v3AuthRequest struct {
	Auth struct {
		Identity struct {
			Methods  []string `json:"methods"`
			Password *struct {
				User v3User `json:"user"`
			} `json:"password,omitempty"`
			Token *struct {
				ID string `json:"id"`
			} `json:"token,omitempty"`
			ApplicationCredential *struct {
				ID     string  `json:"id,omitempty"`
				Name   string  `json:"name,omitempty"`
				Secret string  `json:"secret"`
				User   *v3User `json:"user,omitempty"`
			} `json:"application_credential,omitempty"`
		} `json:"identity"`
		Scope *struct {
			Project *struct {
				ID     string    `json:"id,omitempty"`
				Name   string    `json:"name,omitempty"`
				Domain *v3Domain `json:"domain,omitempty"`
			} `json:"project,omitempty"`
			Domain *v3Domain `json:"domain,omitempty"`
		} `json:"scope,omitempty"`
	} `json:"auth"`
}

func (s *Server) identityV3(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		s.validateV3(w, r)
		return
	case http.MethodPost:
	default:
		s.badRequest(w, r, http.StatusMethodNotAllowed, "auth/tokens is GET or POST")
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		s.badRequest(w, r, http.StatusUnsupportedMediaType, "Content-Type is %q, want application/json", ct)
		return
	}
	var req v3AuthRequest
	if !s.decode(w, r, &req) {
		return
	}
	id := req.Auth.Identity
	if len(id.Methods) != 1 {
		s.badRequest(w, r, http.StatusBadRequest, "want one identity method, got %q", id.Methods)
		return
	}
	ok := false
	switch id.Methods[0] {
	case "password":
		if id.Password == nil {
			s.badRequest(w, r, http.StatusBadRequest, "method password without a password object")
			return
		}
		u := id.Password.User
		if u.ID == "" && (u.Name == "" || u.Domain == nil || u.Domain.ID == "" && u.Domain.Name == "") {
			s.badRequest(w, r, http.StatusBadRequest, "password user needs an id, or a name and a domain")
			return
		}
		ok = (u.ID == "u-"+s.opts.Username || u.Name == s.opts.Username && s.domainOK(u.Domain)) && u.Password == s.opts.Password
	case "application_credential":
		ac := id.ApplicationCredential
		if ac == nil || ac.Secret == "" || ac.ID == "" && ac.Name == "" {
			s.badRequest(w, r, http.StatusBadRequest, "application_credential needs an id (or a name) and a secret")
			return
		}
		if req.Auth.Scope != nil {
			s.badRequest(w, r, http.StatusBadRequest, "an application credential token cannot be rescoped")
			return
		}
		ok = ac.ID == s.opts.AppCredentialID && ac.Secret == s.opts.AppCredentialSecret
	case "token":
		if id.Token == nil || id.Token.ID == "" {
			s.badRequest(w, r, http.StatusBadRequest, "method token without a token id")
			return
		}
		s.mu.Lock()
		tk := s.tokens[id.Token.ID]
		s.mu.Unlock()
		ok = tk != nil && !tk.revoked
	default:
		s.badRequest(w, r, http.StatusBadRequest, "unsupported identity method %q", id.Methods[0])
		return
	}
	if sc := req.Auth.Scope; ok && sc != nil {
		switch p := sc.Project; {
		case p == nil:
			ok = false // domain scope has no compute catalog here
		case p.ID != "":
			ok = p.ID == s.opts.ProjectID
		default:
			ok = p.Name == s.opts.ProjectName && s.domainOK(p.Domain)
		}
	}
	if !ok {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": map[string]any{
			"code": 401, "title": "Unauthorized",
			"message": "The request you have made requires authentication.",
		}})
		return
	}
	tk := s.issueToken()
	w.Header().Set("X-Subject-Token", tk.id)
	writeJSON(w, http.StatusCreated, s.v3TokenBody(tk, id.Methods))
}

func (s *Server) domainOK(d *v3Domain) bool {
	return d != nil && (d.Name == s.opts.Domain || d.ID == "default" && s.opts.Domain == DefaultDomain)
}

// validateV3 is GET /v3/auth/tokens: a token checking itself (or another).
func (s *Server) validateV3(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	caller, subject := s.tokens[r.Header.Get("X-Auth-Token")], s.tokens[r.Header.Get("X-Subject-Token")]
	s.mu.Unlock()
	if caller == nil || caller.revoked {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": map[string]any{
			"code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."}})
		return
	}
	if subject == nil || subject.revoked {
		writeJSON(w, http.StatusNotFound, map[string]any{"error": map[string]any{
			"code": 404, "title": "Not Found", "message": "Could not find token."}})
		return
	}
	w.Header().Set("X-Subject-Token", subject.id)
	writeJSON(w, http.StatusOK, s.v3TokenBody(subject, []string{"token"}))
}

func (s *Server) v3TokenBody(tk *token, methods []string) map[string]any {
	domain := map[string]any{"id": "default", "name": s.opts.Domain}
	var catalog []any
	endpoints := func(url func(string) string) []any {
		var out []any
		for _, region := range s.opts.Regions {
			for _, iface := range []string{"public", "internal"} {
				out = append(out, map[string]any{
					"id": region + "-" + iface, "interface": iface,
					"region": region, "region_id": region, "url": url(region),
				})
			}
		}
		return out
	}
	catalog = append(catalog,
		map[string]any{"id": "c0mpute", "type": "compute", "name": "nova", "endpoints": endpoints(s.ComputeURL)},
		map[string]any{"id": "b10ck", "type": "block-storage", "name": "cinderv3", "endpoints": endpoints(s.VolumeURL)},
	)
	now := s.opts.Now().UTC()
	return map[string]any{"token": map[string]any{
		"methods":    slices.Clone(methods),
		"expires_at": tk.expires.UTC().Format("2006-01-02T15:04:05.000000Z"),
		"issued_at":  now.Format("2006-01-02T15:04:05.000000Z"),
		"user":       map[string]any{"id": "u-" + s.opts.Username, "name": s.opts.Username, "domain": domain},
		"project":    map[string]any{"id": s.opts.ProjectID, "name": s.opts.ProjectName, "domain": domain},
		"roles":      []any{map[string]any{"id": "r1", "name": "member"}},
		"catalog":    catalog,
	}}
}

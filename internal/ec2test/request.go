package ec2test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// request is one parsed, checked Query API request.
type request struct {
	service string // "ec2" or "elasticloadbalancing"
	action  string
	form    url.Values
}

// violation is a request that breaks the wire format: the test fails, and
// the client gets code with status.
type violation struct {
	status  int
	code    string
	service string
	msg     string
}

func badRequest(service, code, format string, args ...any) *violation {
	return &violation{status: http.StatusBadRequest, code: code, service: service, msg: fmt.Sprintf(format, args...)}
}

// parse reads and checks a request as EC2 and ELB do: a form-encoded POST,
// signed with Signature Version 4 by the server's access key for its region
// and the right service, naming a known Action of the right Version with
// only parameters that action has and the required ones present.
func (s *Server) parse(r *http.Request) (*request, *violation) {
	if r.Method != http.MethodPost {
		return nil, badRequest("ec2", "InvalidAction", "method %s, want POST", r.Method)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		return nil, badRequest("ec2", "MalformedQueryString", "Content-Type %q, want application/x-www-form-urlencoded", ct)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, badRequest("ec2", "MalformedQueryString", "reading body: %v", err)
	}
	service, verr := s.checkSignature(r, body)
	if verr != nil {
		return nil, verr
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, badRequest(service, "MalformedQueryString", "body is not form-encoded: %v", err)
	}
	if len(r.URL.Query()) > 0 {
		return nil, badRequest(service, "MalformedQueryString", "parameters in the URL query %q; the SDK sends them in the body", r.URL.RawQuery)
	}
	for k, v := range form {
		if len(v) != 1 {
			return nil, badRequest(service, "MalformedQueryString", "parameter %s given %d times", k, len(v))
		}
	}
	req := &request{service: service, action: form.Get("Action"), form: form}
	wantVersion := EC2Version
	if service == "elasticloadbalancing" {
		wantVersion = ELBVersion
	}
	if v := form.Get("Version"); v != wantVersion {
		return nil, badRequest(service, "InvalidParameterValue", "%s: Version %q, want %q", req.action, v, wantVersion)
	}
	act, ok := actions[service][req.action]
	if !ok {
		return nil, badRequest(service, "InvalidAction", "unknown %s action %q", service, req.action)
	}
	for k := range form {
		if k == "Action" || k == "Version" {
			continue
		}
		if !slices.Contains(act.params, shapeOf(k)) {
			return nil, badRequest(service, "UnknownParameter", "%s: unknown parameter %s", req.action, k)
		}
	}
	for _, k := range act.required {
		if form.Get(k) == "" {
			return nil, badRequest(service, "MissingParameter", "%s: the request must contain the parameter %s", req.action, k)
		}
	}
	return req, nil
}

var numberSegment = regexp.MustCompile(`\.[0-9]+(\.|$)`)

// shapeOf turns a flattened parameter name into its shape:
// "TagSpecification.1.Tag.2.Key" becomes "TagSpecification.N.Tag.N.Key".
func shapeOf(name string) string {
	for {
		next := numberSegment.ReplaceAllString(name, ".N$1")
		if next == name {
			return name
		}
		name = next
	}
}

var authHeader = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$`)

// checkSignature verifies the SigV4 Authorization header by signing the
// same request again with the server's secret, and returns the service the
// request was signed for.
func (s *Server) checkSignature(r *http.Request, body []byte) (string, *violation) {
	auth := r.Header.Get("Authorization")
	m := authHeader.FindStringSubmatch(auth)
	if m == nil {
		return "", &violation{status: http.StatusUnauthorized, code: "AuthFailure", service: "ec2", msg: "missing or malformed SigV4 Authorization header"}
	}
	keyID, date, region, service, signed, signature := m[1], m[2], m[3], m[4], m[5], m[6]
	fail := func(format string, args ...any) (string, *violation) {
		return "", &violation{status: http.StatusUnauthorized, code: "AuthFailure", service: service, msg: fmt.Sprintf(format, args...)}
	}
	if service != "ec2" && service != "elasticloadbalancing" {
		return fail("request signed for service %q, want ec2 or elasticloadbalancing", service)
	}
	if keyID != s.opts.AccessKeyID {
		return fail("request signed with access key %q, want the test key %q", keyID, s.opts.AccessKeyID)
	}
	if region != s.opts.Region {
		return fail("request signed for region %q, want %q", region, s.opts.Region)
	}
	when, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil || when.Format("20060102") != date {
		return fail("X-Amz-Date %q does not match the credential date %s", r.Header.Get("X-Amz-Date"), date)
	}
	again, err := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return fail("rebuilding the request: %v", err)
	}
	again.ContentLength = r.ContentLength
	for _, h := range strings.Split(signed, ";") {
		if h == "host" {
			continue
		}
		for _, v := range r.Header.Values(h) {
			again.Header.Add(h, v)
		}
	}
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: s.opts.AccessKeyID, SecretAccessKey: s.opts.SecretAccessKey}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, again, hex.EncodeToString(sum[:]), service, region, when); err != nil {
		return fail("re-signing the request: %v", err)
	}
	want := authHeader.FindStringSubmatch(again.Header.Get("Authorization"))
	if want == nil || want[5] != signed || want[6] != signature {
		return fail("SigV4 signature does not match the test secret (signed headers %s)", signed)
	}
	return service, nil
}

// attemptOf reads the attempt number from the SDK's amz-sdk-request header.
func attemptOf(r *http.Request) int {
	for _, part := range strings.Split(r.Header.Get("Amz-Sdk-Request"), ";") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(part), "attempt="); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	return 0
}

// list returns the values of a flattened list parameter: prefix.1,
// prefix.2, ... up to the first gap.
func list(form url.Values, prefix string) []string {
	var out []string
	for i := 1; ; i++ {
		v, ok := form[prefix+"."+strconv.Itoa(i)]
		if !ok {
			return out
		}
		out = append(out, v[0])
	}
}

// filter is one Filter.N of a Describe call: a resource matches when the
// named attribute has any of the values.
type filter struct {
	name   string
	values []string
}

func filters(form url.Values) []filter {
	var out []filter
	for i := 1; ; i++ {
		p := "Filter." + strconv.Itoa(i)
		name, ok := form[p+".Name"]
		if !ok {
			return out
		}
		out = append(out, filter{name: name[0], values: list(form, p+".Value")})
	}
}

// tagSpecs returns the tags of each TagSpecification.N by resource type.
func tagSpecs(form url.Values) (map[string]map[string]string, *apiError) {
	out := map[string]map[string]string{}
	for i := 1; ; i++ {
		p := "TagSpecification." + strconv.Itoa(i)
		rt, ok := form[p+".ResourceType"]
		if !ok {
			return out, nil
		}
		if _, dup := out[rt[0]]; dup {
			return nil, newAPIError("InvalidParameterValue", "The same resource type may not be specified more than once in tag specifications: %s", rt[0])
		}
		tags := map[string]string{}
		for j := 1; ; j++ {
			tp := p + ".Tag." + strconv.Itoa(j)
			k, ok := form[tp+".Key"]
			if !ok {
				break
			}
			if k[0] == "" || strings.HasPrefix(strings.ToLower(k[0]), "aws:") {
				return nil, newAPIError("InvalidParameterValue", "Tag key %q is not allowed", k[0])
			}
			tags[k[0]] = form.Get(tp + ".Value")
		}
		if len(tags) == 0 {
			return nil, newAPIError("InvalidParameterValue", "Tag specification for %s has no tags", rt[0])
		}
		out[rt[0]] = tags
	}
}

// pageParams reads MaxResults and NextToken: MaxResults must be 5..1000 as
// EC2 requires, and the token one this server issued.
func (s *Server) pageParams(form url.Values, total int) (start, end int, aerr *apiError) {
	size := total
	if v := form.Get("MaxResults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 5 || n > 1000 {
			return 0, 0, newAPIError("InvalidParameterValue", "Value ( %s ) for parameter maxResults is invalid. Expecting a value between 5 and 1000.", v)
		}
		size = n
	}
	if s.opts.PageSize > 0 && size > s.opts.PageSize {
		size = s.opts.PageSize
	}
	if tok := form.Get("NextToken"); tok != "" {
		n, ok := parseToken(tok)
		if !ok || n > total {
			return 0, 0, newAPIError("InvalidParameterValue", "Invalid value '%s' for nextToken", tok)
		}
		start = n
	}
	end = min(start+size, total)
	return start, end, nil
}

const tokenPrefix = "ec2test-next-"

func nextToken(end, total int) string {
	if end >= total {
		return ""
	}
	return tokenPrefix + strconv.Itoa(end)
}

func parseToken(tok string) (int, bool) {
	v, ok := strings.CutPrefix(tok, tokenPrefix)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(v)
	return n, err == nil && n >= 0
}

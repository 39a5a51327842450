package ec2test_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/farmhand/farmhand/internal/ec2test"
)

// recorder collects violations instead of failing the test.
type recorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *recorder) record(msg string) {
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

func newServer(t *testing.T, opts ec2test.Options) (*ec2test.Server, *recorder) {
	rec := &recorder{}
	opts.Violation = rec.record
	return ec2test.New(t, &opts), rec
}

// request is a raw Query API request, signed unless unsigned is set.
type request struct {
	service  string // "ec2" (default) or "elasticloadbalancing"
	method   string
	form     url.Values
	query    string
	keyID    string
	secret   string
	region   string
	unsigned bool
	tamper   bool // change the body after signing
}

func ec2Form(action string, kv ...string) url.Values {
	f := url.Values{"Action": {action}, "Version": {ec2test.EC2Version}}
	for i := 0; i+1 < len(kv); i += 2 {
		f.Set(kv[i], kv[i+1])
	}
	return f
}

func do(t *testing.T, srv *ec2test.Server, r request) (int, string) {
	t.Helper()
	status, body, err := send(t, srv, r)
	if err != nil {
		t.Fatal(err)
	}
	return status, body
}

// send makes the request; err is a transport error (no answer).
func send(t *testing.T, srv *ec2test.Server, r request) (int, string, error) {
	t.Helper()
	if r.service == "" {
		r.service = "ec2"
	}
	if r.method == "" {
		r.method = http.MethodPost
	}
	if r.keyID == "" {
		r.keyID = ec2test.DefaultAccessKeyID
	}
	if r.secret == "" {
		r.secret = ec2test.DefaultSecretAccessKey
	}
	if r.region == "" {
		r.region = ec2test.DefaultRegion
	}
	body := r.form.Encode()
	u := srv.URL + "/"
	if r.query != "" {
		u += "?" + r.query
	}
	req, err := http.NewRequest(r.method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	if !r.unsigned {
		sum := sha256.Sum256([]byte(body))
		creds := aws.Credentials{AccessKeyID: r.keyID, SecretAccessKey: r.secret}
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), r.service, r.region, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if r.tamper {
		body = strings.Replace(body, "MaxCount=1", "MaxCount=9", 1)
		req.Body = io.NopCloser(strings.NewReader(body))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out), err
}

var codeOf = regexp.MustCompile(`<Code>([^<]*)</Code>`)

func errorCode(body string) string {
	if m := codeOf.FindStringSubmatch(body); m != nil {
		return m[1]
	}
	return ""
}

func TestMalformedRequestsFailTheTest(t *testing.T) {
	run := ec2Form("RunInstances", "ImageId", "ami-0123456789abcdef0", "MinCount", "1", "MaxCount", "1")
	for _, c := range []struct {
		name   string
		req    request
		status int
		code   string
		says   string
	}{
		{"an unsigned request", request{form: run, unsigned: true}, 401, "AuthFailure", "Authorization"},
		{"a request signed with another access key", request{form: run, keyID: "AKIAOTHER"}, 401, "AuthFailure", "access key"},
		{"a request signed with the wrong secret", request{form: run, secret: "nope"}, 401, "AuthFailure", "signature does not match"},
		{"a request signed for another region", request{form: run, region: "eu-west-1"}, 401, "AuthFailure", "region"},
		{"a request changed after signing", request{form: run, tamper: true}, 401, "AuthFailure", "signature does not match"},
		{"a GET", request{form: run, method: http.MethodGet}, 400, "InvalidAction", "POST"},
		{"parameters in the URL", request{form: run, query: "Action=RunInstances"}, 400, "MalformedQueryString", "URL"},
		{"a wrong API version", request{form: ec2Form("DescribeInstances", "Version", "2014-01-01")}, 400, "InvalidParameterValue", "Version"},
		{"an unknown action", request{form: ec2Form("LaunchEverything")}, 400, "InvalidAction", "LaunchEverything"},
		{"an unknown parameter", request{form: ec2Form("DescribeInstances", "InstanceIds.1", "i-0123456789abcdef0")}, 400, "UnknownParameter", "InstanceIds.1"},
		{"a missing required parameter", request{form: ec2Form("RunInstances", "ImageId", "ami-0123456789abcdef0", "MaxCount", "1")}, 400, "MissingParameter", "MinCount"},
		{"an ELB action signed for EC2", request{form: url.Values{"Action": {"RegisterInstancesWithLoadBalancer"}, "Version": {ec2test.ELBVersion}}}, 400, "InvalidParameterValue", "Version"},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv, rec := newServer(t, ec2test.Options{})
			status, body := do(t, srv, c.req)
			if status != c.status || errorCode(body) != c.code {
				t.Errorf("answer %d %s, want %d %s: %s", status, errorCode(body), c.status, c.code, body)
			}
			v := rec.take()
			if len(v) != 1 || !strings.Contains(v[0], c.says) {
				t.Errorf("violations %q, want one that says %q", v, c.says)
			}
			if len(srv.Instances()) != 0 {
				t.Errorf("a malformed request launched instances")
			}
		})
	}
}

func TestAnswersAreShapedAsTheEC2APIReferenceShowsThem(t *testing.T) {
	srv, rec := newServer(t, ec2test.Options{})
	status, body := do(t, srv, request{form: ec2Form("RunInstances",
		"ImageId", "ami-0123456789abcdef0", "MinCount", "2", "MaxCount", "2", "ClientToken", "tok-1",
		"Placement.AvailabilityZone", "us-test-1b", "InstanceType", "t3.micro",
		"TagSpecification.1.ResourceType", "instance", "TagSpecification.1.Tag.1.Key", "farm", "TagSpecification.1.Tag.1.Value", "shop")})
	if status != 200 {
		t.Fatalf("RunInstances: %d %s", status, body)
	}
	for _, want := range []string{
		`<?xml version="1.0" encoding="UTF-8"?>`,
		`<RunInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>`,
		`</requestId><reservationId>r-`,
		`<ownerId>123456789012</ownerId>`,
		`<instancesSet><item><instanceId>i-`,
		`<imageId>ami-0123456789abcdef0</imageId><instanceState><code>0</code><name>pending</name></instanceState>`,
		`<instanceType>t3.micro</instanceType><launchTime>`,
		`<placement><availabilityZone>us-test-1b</availabilityZone>`,
		`<clientToken>tok-1</clientToken><tagSet><item><key>farm</key><value>shop</value></item></tagSet>`,
		`</item></instancesSet></RunInstancesResponse>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("RunInstances answer lacks %s:\n%s", want, body)
		}
	}
	if regexp.MustCompile(`<launchTime>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z</launchTime>`).FindString(body) == "" {
		t.Errorf("launchTime is not ISO 8601 with milliseconds:\n%s", body)
	}
	reservation := regexp.MustCompile(`<reservationId>(r-[0-9a-f]+)</reservationId>`).FindStringSubmatch(body)[1]

	_, again := do(t, srv, request{form: ec2Form("RunInstances",
		"ImageId", "ami-0123456789abcdef0", "MinCount", "2", "MaxCount", "2", "ClientToken", "tok-1",
		"Placement.AvailabilityZone", "us-test-1b", "InstanceType", "t3.micro",
		"TagSpecification.1.ResourceType", "instance", "TagSpecification.1.Tag.1.Key", "farm", "TagSpecification.1.Tag.1.Value", "shop")})
	if !strings.Contains(again, "<reservationId>"+reservation+"</reservationId>") || len(srv.Instances()) != 2 {
		t.Errorf("a repeated ClientToken gave another reservation or more instances:\n%s", again)
	}

	status, body = do(t, srv, request{form: ec2Form("DescribeInstances", "InstanceId.1", "i-0fffffffffffffff0")})
	wantErr := regexp.MustCompile(`^<\?xml version="1.0" encoding="UTF-8"\?>\n<Response><Errors><Error><Code>InvalidInstanceID.NotFound</Code><Message>The instance ID &#39;i-0fffffffffffffff0&#39; does not exist</Message></Error></Errors><RequestID>[0-9a-f-]+</RequestID></Response>$`)
	if status != 400 || !wantErr.MatchString(body) {
		t.Errorf("unknown instance: %d\n%s", status, body)
	}
	status, body = do(t, srv, request{service: "elasticloadbalancing", form: url.Values{
		"Action": {"RegisterInstancesWithLoadBalancer"}, "Version": {ec2test.ELBVersion},
		"LoadBalancerName": {"web"}, "Instances.member.1.InstanceId": {"i-0fffffffffffffff0"},
	}})
	if status != 400 || !strings.Contains(body, `<ErrorResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2012-06-01/"><Error><Type>Sender</Type><Code>LoadBalancerNotFound</Code>`) {
		t.Errorf("unknown load balancer: %d\n%s", status, body)
	}
	srv.AddLoadBalancer("web")
	id := srv.Instances()[0].ID
	status, body = do(t, srv, request{service: "elasticloadbalancing", form: url.Values{
		"Action": {"RegisterInstancesWithLoadBalancer"}, "Version": {ec2test.ELBVersion},
		"LoadBalancerName": {"web"}, "Instances.member.1.InstanceId": {id},
	}})
	if status != 200 || !strings.Contains(body, `<RegisterInstancesWithLoadBalancerResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2012-06-01/"><RegisterInstancesWithLoadBalancerResult><Instances><member><InstanceId>`+id+`</InstanceId></member></Instances></RegisterInstancesWithLoadBalancerResult><ResponseMetadata><RequestId>`) {
		t.Errorf("register: %d\n%s", status, body)
	}
	if v := rec.take(); len(v) != 0 {
		t.Errorf("well-formed requests were called violations: %q", v)
	}
}

func TestSemanticRefusalsAreAnsweredAsEC2DoesWithoutFailingTheTest(t *testing.T) {
	srv, rec := newServer(t, ec2test.Options{})
	run := func(kv ...string) []string {
		return append([]string{"ImageId", "ami-0123456789abcdef0", "MinCount", "1", "MaxCount", "1"}, kv...)
	}
	if status, body := do(t, srv, request{form: ec2Form("RunInstances", run("ClientToken", "t1")...)}); status != 200 {
		t.Fatalf("RunInstances: %d %s", status, body)
	}
	for _, c := range []struct {
		name   string
		form   url.Values
		status int
		code   string
	}{
		{"a reused token with other parameters", ec2Form("RunInstances", run("ClientToken", "t1", "InstanceType", "m5.large")...), 400, "IdempotentParameterMismatch"},
		{"a token over 64 characters", ec2Form("RunInstances", run("ClientToken", strings.Repeat("x", 65))...), 400, "InvalidParameterValue"},
		{"a malformed image ID", ec2Form("RunInstances", "ImageId", "image-1", "MinCount", "1", "MaxCount", "1"), 400, "InvalidAMIID.Malformed"},
		{"an unknown zone", ec2Form("RunInstances", run("Placement.AvailabilityZone", "mars-1a")...), 400, "InvalidParameterValue"},
		{"an unknown key pair", ec2Form("RunInstances", run("KeyName", "nobody")...), 400, "InvalidKeyPair.NotFound"},
		{"user data that is not base64", ec2Form("RunInstances", run("UserData", "%%%")...), 400, "InvalidParameterValue"},
		{"MaxResults below 5", ec2Form("DescribeInstances", "MaxResults", "4"), 400, "InvalidParameterValue"},
		{"MaxResults with instance IDs", ec2Form("DescribeInstances", "MaxResults", "5", "InstanceId.1", "i-0fffffffffffffff0"), 400, "InvalidParameterCombination"},
		{"an unknown filter", ec2Form("DescribeInstances", "Filter.1.Name", "colour", "Filter.1.Value.1", "red"), 400, "InvalidParameterValue"},
		{"a token the server never issued", ec2Form("DescribeInstances", "NextToken", "abc"), 400, "InvalidParameterValue"},
		{"a malformed instance ID", ec2Form("TerminateInstances", "InstanceId.1", "web-1"), 400, "InvalidInstanceID.Malformed"},
		{"a dry run", ec2Form("DescribeInstances", "DryRun", "true"), 412, "DryRunOperation"},
		{"an unknown snapshot", ec2Form("DeleteSnapshot", "SnapshotId", "snap-0fffffffffffffff0"), 400, "InvalidSnapshot.NotFound"},
	} {
		status, body := do(t, srv, request{form: c.form})
		if status != c.status || errorCode(body) != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.name, status, errorCode(body), c.status, c.code)
		}
	}
	if v := rec.take(); len(v) != 0 {
		t.Errorf("semantic refusals were called violations: %q", v)
	}
	if n := len(srv.Instances()); n != 1 {
		t.Errorf("%d instances, want the 1 of the first launch", n)
	}
}

func TestKnobs(t *testing.T) {
	srv, _ := newServer(t, ec2test.Options{})
	launch := func(zone string, min, max string) (int, string) {
		return do(t, srv, request{form: ec2Form("RunInstances", "ImageId", "ami-0123456789abcdef0", "MinCount", min, "MaxCount", max, "Placement.AvailabilityZone", zone)})
	}
	srv.FailNext("DescribeInstances", 2, "RequestLimitExceeded")
	for i := range 3 {
		status, body := do(t, srv, request{form: ec2Form("DescribeInstances")})
		want := 503
		if i == 2 {
			want = 200
		}
		if status != want {
			t.Fatalf("DescribeInstances %d: %d %s, want %d", i+1, status, errorCode(body), want)
		}
	}
	srv.SetCapacity("us-test-1a", 3)
	if status, body := launch("us-test-1a", "4", "4"); status != 500 || errorCode(body) != "InsufficientInstanceCapacity" || !strings.Contains(body, "us-test-1a") {
		t.Fatalf("launch beyond capacity: %d %s", status, body)
	}
	if status, _ := launch("us-test-1a", "2", "5"); status != 200 || len(srv.Instances()) != 3 {
		t.Fatalf("launch of 2..5 with room for 3: %d, %d instances", status, len(srv.Instances()))
	}
	srv.SetInstanceLimit(4)
	if status, body := launch("us-test-1b", "2", "2"); status != 400 || errorCode(body) != "InstanceLimitExceeded" {
		t.Fatalf("launch beyond the instance limit: %d %s", status, body)
	}
	srv.SetInstanceLimit(-1)
	srv.DropNext("RunInstances", 1)
	before := len(srv.Instances())
	if _, _, err := send(t, srv, request{form: ec2Form("RunInstances", "ImageId", "ami-0123456789abcdef0", "MinCount", "1", "MaxCount", "1", "Placement.AvailabilityZone", "us-test-1b")}); err == nil {
		t.Fatal("a dropped RunInstances got an answer")
	}
	if got := len(srv.Instances()); got != before+1 {
		t.Fatalf("a dropped RunInstances left %d instances, want %d: it must take effect", got, before+1)
	}
	if n := srv.Count("RunInstances"); n != 4 {
		t.Fatalf("Count(RunInstances) = %d, want 4", n)
	}
}

func TestSettleMovesStatesOn(t *testing.T) {
	srv, _ := newServer(t, ec2test.Options{})
	do(t, srv, request{form: ec2Form("RunInstances", "ImageId", "ami-0123456789abcdef0", "MinCount", "2", "MaxCount", "2")})
	ids := []string{srv.Instances()[0].ID, srv.Instances()[1].ID}
	do(t, srv, request{form: ec2Form("CreateSnapshot", "VolumeId", srv.Instances()[0].RootVolumeID)})
	srv.Settle()
	for _, in := range srv.Instances() {
		if in.State != "running" || in.PublicIP == "" || !strings.HasPrefix(in.HostKey, "ssh-ed25519 ") {
			t.Fatalf("after Settle: %+v", in)
		}
	}
	if s := srv.Snapshots(); len(s) != 1 || s[0].Status != "completed" {
		t.Fatalf("snapshots after Settle: %+v", s)
	}
	do(t, srv, request{form: ec2Form("TerminateInstances", "InstanceId.1", ids[0])})
	if in, _ := srv.Instance(ids[0]); in.State != "shutting-down" {
		t.Fatalf("just terminated: %s", in.State)
	}
	srv.Settle()
	if in, _ := srv.Instance(ids[0]); in.State != "terminated" || in.PrivateIP == "" {
		t.Fatalf("after Settle: %+v", in)
	}
	srv.Purge()
	if _, ok := srv.Instance(ids[0]); ok || len(srv.Instances()) != 1 {
		t.Fatalf("Purge kept the terminated instance")
	}
}

func TestDelayVisibilityHidesNewInstancesFromDescribeInstances(t *testing.T) {
	srv, _ := newServer(t, ec2test.Options{})
	srv.DelayVisibility(2)
	do(t, srv, request{form: ec2Form("RunInstances", "ImageId", "ami-0123456789abcdef0", "MinCount", "1", "MaxCount", "1")})
	id := srv.Instances()[0].ID
	if _, body := do(t, srv, request{form: ec2Form("DescribeInstances")}); strings.Contains(body, id) {
		t.Fatalf("the first listing shows the new instance:\n%s", body)
	}
	if status, body := do(t, srv, request{form: ec2Form("DescribeInstances", "InstanceId.1", id)}); status != 400 || errorCode(body) != "InvalidInstanceID.NotFound" {
		t.Fatalf("the second, by ID: %d %s, want InvalidInstanceID.NotFound", status, errorCode(body))
	}
	if _, body := do(t, srv, request{form: ec2Form("DescribeInstances")}); !strings.Contains(body, id) {
		t.Fatalf("the third listing still hides the instance:\n%s", body)
	}
}

func TestHostKeyOptionIsPrintedOnEveryConsole(t *testing.T) {
	const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPinnedKeyOfTheOneTestSshdXXXXXXXXXXXXXXXXXX"
	srv, _ := newServer(t, ec2test.Options{LoopbackIPs: true, HostKey: key})
	do(t, srv, request{form: ec2Form("RunInstances", "ImageId", "ami-0123456789abcdef0", "MinCount", "2", "MaxCount", "2")})
	srv.Settle()
	for _, in := range srv.Instances() {
		if in.HostKey != key || !strings.HasPrefix(in.PrivateIP, "127.1.") || in.PublicIP != "" {
			t.Fatalf("instance %s: host key %q, IPs %q/%q; want the option's key on a 127.1.x.y address and no public IP", in.ID, in.HostKey, in.PrivateIP, in.PublicIP)
		}
		_, body := do(t, srv, request{form: ec2Form("GetConsoleOutput", "InstanceId", in.ID)})
		m := regexp.MustCompile(`<output>([^<]*)</output>`).FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("GetConsoleOutput of %s has no output: %s", in.ID, body)
		}
		console, err := base64.StdEncoding.DecodeString(m[1])
		if err != nil || !strings.Contains(string(console), "-----BEGIN SSH HOST KEY KEYS-----\r\n"+key+" root@") {
			t.Fatalf("console of %s does not print the option's key (%v):\n%s", in.ID, err, console)
		}
	}
}

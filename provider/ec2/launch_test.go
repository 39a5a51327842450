package ec2_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/farmhand/farmhand/internal/ec2test"
	"github.com/farmhand/farmhand/provider"
	"github.com/farmhand/farmhand/provider/ec2"
)

const testImage = "ami-0123456789abcdef0"

func spec(token string, count int, zone string) provider.LaunchSpec {
	return provider.LaunchSpec{
		Token:        token,
		Count:        count,
		Image:        testImage,
		InstanceType: "t3.micro",
		Zone:         zone,
		Tags: map[string]string{
			provider.TagFarm:  "shop",
			provider.TagRole:  "app",
			provider.TagToken: token,
		},
		UserData: []byte("#!/bin/sh\necho hello\n"),
	}
}

func newSSHKey(t *testing.T) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp))) + " farmer@laptop"
}

func TestLaunchSendsOneRunInstancesWithEverythingInIt(t *testing.T) {
	ctx := context.Background()
	srv := ec2test.New(t, nil)
	cfg := srv.Config()
	zone := srv.Options().Zones[1]
	p, err := ec2.New(ctx, ec2.Options{
		AWSConfig:        &cfg,
		SecurityGroupIDs: []string{"sg-0aaaaaaaaaaaaaaa1"},
		Subnets:          map[string]string{zone: "subnet-0bbbbbbbbbbbbbbb2"},
		InstanceProfile:  "farm-role",
		KeyNamePrefix:    "shop-",
	})
	if err != nil {
		t.Fatal(err)
	}
	sp := spec("shop-app-1", 4, zone)
	sp.MinCount = 2
	sp.SSHPublicKey = newSSHKey(t)
	got, err := p.Launch(ctx, sp)
	if err != nil {
		t.Fatalf("Launch: %v", err)
	}
	if len(got) != 4 {
		t.Fatalf("Launch returned %d servers, want 4", len(got))
	}
	calls := srv.Calls("RunInstances")
	if len(calls) != 1 {
		t.Fatalf("%d RunInstances calls, want 1", len(calls))
	}
	params := calls[0].Params
	want := map[string]string{
		"MinCount":                        "2",
		"MaxCount":                        "4",
		"ClientToken":                     "shop-app-1",
		"ImageId":                         testImage,
		"InstanceType":                    "t3.micro",
		"Placement.AvailabilityZone":      zone,
		"SubnetId":                        "subnet-0bbbbbbbbbbbbbbb2",
		"SecurityGroupId.1":               "sg-0aaaaaaaaaaaaaaa1",
		"IamInstanceProfile.Name":         "farm-role",
		"TagSpecification.1.ResourceType": "instance",
		"TagSpecification.2.ResourceType": "volume",
		"UserData":                        base64.StdEncoding.EncodeToString(sp.UserData),
	}
	for k, v := range want {
		if got := first(params[k]); got != v {
			t.Errorf("RunInstances parameter %s = %q, want %q", k, got, v)
		}
	}
	if !strings.HasPrefix(first(params["KeyName"]), "shop-") {
		t.Errorf("KeyName %q does not start with the prefix shop-", first(params["KeyName"]))
	}
	if kp := srv.KeyPairs(); len(kp) != 1 || kp[0] != first(params["KeyName"]) {
		t.Errorf("key pairs at EC2 %v, want the one RunInstances named %q", kp, first(params["KeyName"]))
	}
	for _, in := range srv.Instances() {
		for k, v := range sp.Tags {
			if in.Tags[k] != v {
				t.Errorf("instance %s: tag %s = %q at EC2, want %q", in.ID, k, in.Tags[k], v)
			}
		}
		if string(in.UserData) != string(sp.UserData) {
			t.Errorf("instance %s: user data %q, want %q", in.ID, in.UserData, sp.UserData)
		}
	}
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

func TestKeyPairIsImportedOncePerKey(t *testing.T) {
	ctx := context.Background()
	p, srv := newProvider(t, nil)
	keyA, keyB := newSSHKey(t), newSSHKey(t)
	for i, key := range []string{keyA, keyA, keyB, keyA, keyB} {
		sp := spec(fmt.Sprintf("key-%d", i), 1, "")
		sp.SSHPublicKey = key
		if _, err := p.Launch(ctx, sp); err != nil {
			t.Fatalf("Launch %d: %v", i, err)
		}
	}
	if n := srv.Count("ImportKeyPair"); n != 2 {
		t.Fatalf("%d ImportKeyPair calls for 2 distinct keys, want 2", n)
	}
	// A second controller finds the key pair there already.
	other, err := ec2.New(ctx, ec2.Options{AWSConfig: ptr(srv.Config())})
	if err != nil {
		t.Fatal(err)
	}
	sp := spec("key-other", 1, "")
	sp.SSHPublicKey = keyA
	if _, err := other.Launch(ctx, sp); err != nil {
		t.Fatalf("Launch by a second controller with an imported key: %v", err)
	}
	if kp := srv.KeyPairs(); len(kp) != 2 {
		t.Fatalf("key pairs %v, want 2", kp)
	}
	sp = spec("key-bad", 1, "")
	sp.SSHPublicKey = "ssh-ed25519 not-base64"
	_, err = p.Launch(ctx, sp)
	expectCode(t, err, provider.InvalidArgument)
}

func ptr[T any](v T) *T { return &v }

func TestLongTokensAreHashedToEC2sLimit(t *testing.T) {
	ctx := context.Background()
	p, srv := newProvider(t, nil)
	token := strings.Repeat("farm-shop-role-app-slot-17-", 4)
	a, err := p.Launch(ctx, spec(token, 1, ""))
	if err != nil {
		t.Fatalf("Launch with a %d-character token: %v", len(token), err)
	}
	b, err := p.Launch(ctx, spec(token, 1, ""))
	if err != nil {
		t.Fatalf("second Launch: %v", err)
	}
	if a[0].ID != b[0].ID {
		t.Fatalf("a repeated long token launched %s and %s", a[0].ID, b[0].ID)
	}
	ct := first(srv.Calls("RunInstances")[0].Params["ClientToken"])
	if len(ct) != 64 || ct == token[:64] {
		t.Fatalf("ClientToken %q for a long token, want a 64-character hash", ct)
	}
}

func TestSameTokenWithOtherParametersIsAlreadyExists(t *testing.T) {
	ctx := context.Background()
	p, _ := newProvider(t, nil)
	if _, err := p.Launch(ctx, spec("tok", 1, "")); err != nil {
		t.Fatal(err)
	}
	_, err := p.Launch(ctx, spec("tok", 2, ""))
	expectCode(t, err, provider.AlreadyExists)
	if !strings.Contains(err.Error(), "IdempotentParameterMismatch") {
		t.Fatalf("error %q does not name EC2's code", err)
	}
}

func TestLaunchRetriedAfterATimeoutMakesOneSetOfServers(t *testing.T) {
	ctx := context.Background()
	p, srv := newProvider(t, nil)
	srv.DropNext("RunInstances", 1)
	got, err := p.Launch(ctx, spec("lost-answer", 3, ""))
	if err != nil {
		t.Fatalf("Launch after a dropped answer: %v", err)
	}
	calls := srv.Calls("RunInstances")
	if len(calls) != 2 {
		t.Fatalf("%d RunInstances calls, want 2 (the dropped one and the SDK's retry)", len(calls))
	}
	if calls[1].Attempt != 2 || first(calls[0].Params["ClientToken"]) != first(calls[1].Params["ClientToken"]) {
		t.Fatalf("retry was attempt %d with token %q after %q; want attempt 2 with the same token",
			calls[1].Attempt, first(calls[1].Params["ClientToken"]), first(calls[0].Params["ClientToken"]))
	}
	all := srv.Instances()
	if len(all) != 3 || len(got) != 3 {
		t.Fatalf("EC2 holds %d instances and Launch returned %d, want 3 and 3", len(all), len(got))
	}
	for i := range got {
		if got[i].ID != all[i].ID {
			t.Fatalf("Launch returned %v, EC2 holds %v", ids(got), instanceIDs(all))
		}
	}
}

func ids(servers []provider.Server) []string {
	out := make([]string, len(servers))
	for i, s := range servers {
		out[i] = s.ID
	}
	return out
}

func instanceIDs(in []ec2test.Instance) []string {
	out := make([]string, len(in))
	for i, x := range in {
		out[i] = x.ID
	}
	return out
}

func TestLaunchTakesWhatFitsAboveMinCount(t *testing.T) {
	ctx := context.Background()
	p, srv := newProvider(t, nil)
	zone := srv.Options().Zones[0]
	srv.SetCapacity(zone, 3)
	sp := spec("partial", 5, zone)
	sp.MinCount = 2
	got, err := p.Launch(ctx, sp)
	if err != nil {
		t.Fatalf("Launch of 2..5 with room for 3: %v", err)
	}
	if len(got) != 3 {
		t.Fatalf("Launch returned %d servers, want the 3 that fit", len(got))
	}
}

func TestAPICallsForAHundredServersOverThreeZones(t *testing.T) {
	ctx := context.Background()
	p, srv := newProvider(t, &ec2test.Options{PageSize: 40})
	zones, err := p.Zones(ctx)
	if err != nil {
		t.Fatal(err)
	}
	key := newSSHKey(t)
	for i, z := range zones {
		sp := spec("scale-"+z, []int{34, 33, 33}[i], z)
		sp.SSHPublicKey = key
		if _, err := p.Launch(ctx, sp); err != nil {
			t.Fatalf("Launch in %s: %v", z, err)
		}
	}
	if n := srv.Count("RunInstances"); n != len(zones) {
		t.Errorf("%d RunInstances calls for 100 servers in %d zones, want %d", n, len(zones), len(zones))
	}
	if n := srv.Count("ImportKeyPair"); n != 1 {
		t.Errorf("%d ImportKeyPair calls for one key, want 1", n)
	}
	before := srv.Count("DescribeInstances")
	all, err := provider.ListAll(ctx, p, map[string]string{provider.TagFarm: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 100 {
		t.Fatalf("listed %d servers, want 100", len(all))
	}
	// The server gives at most 40 per page: 100 servers are 3 pages.
	if n := srv.Count("DescribeInstances") - before; n != 3 {
		t.Errorf("%d DescribeInstances calls to list 100 servers in pages of 40, want 3", n)
	}
	t.Logf("API calls for 100 servers in %d zones and one full listing: %v", len(zones), srv.Counts())
}

func TestListFiltersByTagAtEC2(t *testing.T) {
	ctx := context.Background()
	p, srv := newProvider(t, nil)
	if _, err := p.Launch(ctx, spec("a", 2, "")); err != nil {
		t.Fatal(err)
	}
	other := spec("b", 1, "")
	other.Tags[provider.TagFarm] = "sh*p" // a wildcard character in a tag value is matched literally
	if _, err := p.Launch(ctx, other); err != nil {
		t.Fatal(err)
	}
	page, err := p.List(ctx, provider.ListOptions{Tags: map[string]string{provider.TagFarm: "sh*p"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Servers) != 1 || page.Servers[0].Tags[provider.TagFarm] != "sh*p" {
		t.Fatalf("List by farm sh*p returned %v, want the one server of that farm", ids(page.Servers))
	}
	call := srv.Calls("DescribeInstances")[0]
	if got := first(call.Params["Filter.1.Name"]); got != "tag:"+provider.TagFarm {
		t.Fatalf("filter name %q, want tag:%s", got, provider.TagFarm)
	}
	if got := first(call.Params["MaxResults"]); got != "1000" {
		t.Fatalf("MaxResults %q without a page size, want 1000", got)
	}
}

func TestPagesFollowNextToken(t *testing.T) {
	ctx := context.Background()
	p, srv := newProvider(t, &ec2test.Options{PageSize: 4})
	launched, err := p.Launch(ctx, spec("pages", 11, ""))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name     string
		pageSize int
		pages    int
	}{
		{"the server's page limit splits a default request", 0, 3},
		{"a page size below EC2's minimum of 5 is raised and then capped", 2, 3},
		{"a page size above the server's limit is capped", 100, 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv.ResetCalls()
			opts := provider.ListOptions{Tags: map[string]string{provider.TagFarm: "shop"}, PageSize: c.pageSize}
			var seen []string
			pages := 0
			for {
				page, err := p.List(ctx, opts)
				if err != nil {
					t.Fatalf("List page %d: %v", pages+1, err)
				}
				pages++
				seen = append(seen, ids(page.Servers)...)
				if page.NextPageToken == "" {
					break
				}
				opts.PageToken = page.NextPageToken
			}
			if pages != c.pages || srv.Count("DescribeInstances") != c.pages {
				t.Errorf("%d pages in %d calls, want %d", pages, srv.Count("DescribeInstances"), c.pages)
			}
			if !slices.Equal(seen, ids(launched)) {
				t.Errorf("pages listed %v, want %v", seen, ids(launched))
			}
		})
	}
}

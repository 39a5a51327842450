package ec2_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/smithy-go"

	"github.com/farmhand/farmhand/internal/ec2test"
	"github.com/farmhand/farmhand/provider"
	"github.com/farmhand/farmhand/provider/ec2"
)

// expectCode fails unless err carries code through errors.Is and CodeOf.
func expectCode(t *testing.T, err error, code provider.Code) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %v", code)
	}
	if !errors.Is(err, code) || provider.CodeOf(err) != code {
		t.Fatalf("error %q has code %v, want %v", err, provider.CodeOf(err), code)
	}
}

// apiErrorCode returns the EC2 error code reachable with errors.As.
func apiErrorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestThrottlingIsRetriedBySDK(t *testing.T) {
	ctx := context.Background()
	p, srv := newProvider(t, nil)
	srv.FailNext("RunInstances", 2, "RequestLimitExceeded")
	got, err := p.Launch(ctx, spec("throttled", 2, ""))
	if err != nil {
		t.Fatalf("Launch after two RequestLimitExceeded answers: %v", err)
	}
	calls := srv.Calls("RunInstances")
	if len(calls) != 3 {
		t.Fatalf("%d RunInstances calls, want 3 (two throttled, one served)", len(calls))
	}
	for i, c := range calls {
		if c.Attempt != i+1 || first(c.Params["ClientToken"]) != "throttled" {
			t.Errorf("call %d: attempt %d with token %q, want attempt %d with the launch's token", i+1, c.Attempt, first(c.Params["ClientToken"]), i+1)
		}
	}
	if len(got) != 2 || len(srv.Instances()) != 2 {
		t.Fatalf("Launch returned %d servers and EC2 holds %d, want 2 and 2", len(got), len(srv.Instances()))
	}
}

func TestThrottlingPastTheRetriesIsThrottled(t *testing.T) {
	ctx := context.Background()
	srv := ec2test.New(t, nil)
	p, err := ec2.New(ctx, ec2.Options{AWSConfig: ptr(srv.Config()), RetryMaxAttempts: 3, RetryMaxBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv.FailNext("DescribeInstances", 5, "RequestLimitExceeded")
	_, err = p.List(ctx, provider.ListOptions{})
	expectCode(t, err, provider.Throttled)
	if !provider.IsRetryable(err) {
		t.Fatalf("Throttled error %q is not retryable", err)
	}
	if code := apiErrorCode(err); code != "RequestLimitExceeded" {
		t.Fatalf("errors.As reaches API code %q, want RequestLimitExceeded", code)
	}
	if n := srv.Count("DescribeInstances"); n != 3 {
		t.Fatalf("%d DescribeInstances calls with RetryMaxAttempts 3, want 3", n)
	}
}

func TestCapacityErrorInOneZoneIsInsufficientCapacityAndNotRetried(t *testing.T) {
	ctx := context.Background()
	p, srv := newProvider(t, nil)
	zones := srv.Options().Zones
	srv.SetCapacity(zones[0], 0)
	_, err := p.Launch(ctx, spec("full-zone", 4, zones[0]))
	expectCode(t, err, provider.InsufficientCapacity)
	if code := apiErrorCode(err); code != "InsufficientInstanceCapacity" {
		t.Fatalf("errors.As reaches API code %q, want InsufficientInstanceCapacity", code)
	}
	if !strings.Contains(err.Error(), zones[0]) {
		t.Fatalf("error %q does not name the zone %s", err, zones[0])
	}
	// EC2 answers capacity errors with HTTP 500, which the SDK would retry;
	// the driver makes them final so the farm can move on at once.
	if n := srv.Count("RunInstances"); n != 1 {
		t.Fatalf("%d RunInstances calls for a capacity error, want 1", n)
	}
	if len(srv.Instances()) != 0 {
		t.Fatalf("a failed launch left instances %v", instanceIDs(srv.Instances()))
	}
	got, err := p.Launch(ctx, spec("next-zone", 4, zones[1]))
	if err != nil || len(got) != 4 || got[0].Zone != zones[1] {
		t.Fatalf("Launch in the next zone: %d servers, %v", len(got), err)
	}
}

func TestInstanceLimitIsQuotaExceeded(t *testing.T) {
	ctx := context.Background()
	p, srv := newProvider(t, nil)
	srv.SetInstanceLimit(2)
	_, err := p.Launch(ctx, spec("over-limit", 3, ""))
	expectCode(t, err, provider.QuotaExceeded)
	if n := srv.Count("RunInstances"); n != 1 {
		t.Fatalf("%d RunInstances calls for a limit error, want 1", n)
	}
}

func TestAPIErrorCodesMapToProviderCodes(t *testing.T) {
	for _, c := range []struct {
		name string
		code string
		want provider.Code
	}{
		{"unauthorized operation is permission denied", "UnauthorizedOperation", provider.PermissionDenied},
		{"auth failure is permission denied", "AuthFailure", provider.PermissionDenied},
		{"an invalid parameter value is an invalid argument", "InvalidParameterValue", provider.InvalidArgument},
		{"an unknown AMI is an invalid argument", "InvalidAMIID.NotFound", provider.InvalidArgument},
		{"a vCPU limit is quota exceeded", "VcpuLimitExceeded", provider.QuotaExceeded},
		{"insufficient capacity is insufficient capacity", "InsufficientInstanceCapacity", provider.InsufficientCapacity},
		{"an internal error is unavailable", "InternalError", provider.Unavailable},
		{"an unavailable service is unavailable", "Unavailable", provider.Unavailable},
		{"throttling is throttled", "RequestLimitExceeded", provider.Throttled},
		{"a reused idempotency token is already exists", "IdempotentParameterMismatch", provider.AlreadyExists},
		{"a code nobody knows is unknown", "SomethingNew", provider.Unknown},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			srv := ec2test.New(t, nil)
			p, err := ec2.New(ctx, ec2.Options{AWSConfig: ptr(srv.Config()), RetryMaxAttempts: 1})
			if err != nil {
				t.Fatal(err)
			}
			srv.FailNext("RunInstances", 1, c.code)
			_, err = p.Launch(ctx, spec("mapped", 1, ""))
			expectCode(t, err, c.want)
			if got := apiErrorCode(err); got != c.code {
				t.Fatalf("errors.As reaches API code %q, want %q", got, c.code)
			}
			var pe *provider.Error
			if !errors.As(err, &pe) || pe.Op != "ec2.RunInstances" {
				t.Fatalf("error %q is not a *provider.Error of op ec2.RunInstances", err)
			}
		})
	}
}

func TestUnknownAndMalformedIDsAreNotFound(t *testing.T) {
	ctx := context.Background()
	p, srv := newProvider(t, nil)
	for _, id := range []string{"i-0fffffffffffffff0", "i-deadbeef", "not-an-instance", ""} {
		_, err := p.Get(ctx, id)
		expectCode(t, err, provider.NotFound)
		expectCode(t, p.Reboot(ctx, id), provider.NotFound)
		_, err = p.ConsoleOutput(ctx, id)
		expectCode(t, err, provider.NotFound)
		_, err = p.Volumes(ctx, id)
		expectCode(t, err, provider.NotFound)
	}
	_, err := p.Get(ctx, "not-an-instance")
	if code := apiErrorCode(err); code != "InvalidInstanceID.Malformed" {
		t.Fatalf("errors.As reaches %q for a malformed ID, want InvalidInstanceID.Malformed", code)
	}
	_ = srv
}

func TestRebootOfATerminatedInstanceIsInvalidArgument(t *testing.T) {
	ctx := context.Background()
	p, srv := newProvider(t, nil)
	s, err := p.Launch(ctx, spec("reboot", 1, ""))
	if err != nil {
		t.Fatal(err)
	}
	srv.Settle()
	if err := p.Reboot(ctx, s[0].ID); err != nil {
		t.Fatalf("Reboot of a running instance: %v", err)
	}
	if in, _ := srv.Instance(s[0].ID); in.Reboots != 1 {
		t.Fatalf("instance rebooted %d times, want 1", in.Reboots)
	}
	if err := p.Terminate(ctx, s[0].ID); err != nil {
		t.Fatal(err)
	}
	expectCode(t, p.Reboot(ctx, s[0].ID), provider.InvalidArgument)
}

func TestCanceledContextIsNotRetriedAndKeepsTheCause(t *testing.T) {
	p, srv := newProvider(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := p.List(ctx, provider.ListOptions{})
	if err == nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("List with a canceled context: %v, want context.Canceled in the chain", err)
	}
	if provider.IsRetryable(err) {
		t.Fatalf("canceled call %q is marked retryable", err)
	}
	if n := srv.Count("DescribeInstances"); n != 0 {
		t.Fatalf("%d calls made with a canceled context", n)
	}
}

func TestUnreachableEndpointIsUnavailable(t *testing.T) {
	ctx := context.Background()
	srv := ec2test.New(t, nil)
	cfg := srv.Config()
	srv.Close()
	p, err := ec2.New(ctx, ec2.Options{AWSConfig: &cfg, RetryMaxAttempts: 2, RetryMaxBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Zones(ctx)
	expectCode(t, err, provider.Unavailable)
}

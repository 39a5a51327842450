package ec2_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancing"
	"github.com/aws/smithy-go/logging"

	"github.com/farmhand/farmhand/internal/ec2test"
	"github.com/farmhand/farmhand/provider"
	"github.com/farmhand/farmhand/provider/ec2"
)

// syncBuffer is a bytes.Buffer safe for the SDK's and slog's concurrent
// writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestCredentialsNeverLogged(t *testing.T) {
	ctx := context.Background()
	var violations []string
	var vmu sync.Mutex
	srv := ec2test.New(t, &ec2test.Options{PageSize: 5, Violation: func(msg string) {
		vmu.Lock()
		defer vmu.Unlock()
		violations = append(violations, msg)
	}})
	srv.AddLoadBalancer("web")
	var logs, sdkLogs syncBuffer
	cfg := srv.Config()
	// A caller who asked the SDK to log everything, signing included.
	cfg.Logger = logging.LoggerFunc(func(c logging.Classification, format string, v ...any) {
		fmt.Fprintf(&sdkLogs, string(c)+" "+format+"\n", v...)
	})
	cfg.ClientLogMode = aws.LogSigning | aws.LogRetries | aws.LogRequestWithBody | aws.LogResponseWithBody
	p, err := ec2.New(ctx, ec2.Options{
		AWSConfig:       &cfg,
		Logger:          slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		RetryMaxBackoff: time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	var errs []error
	note := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	// Every operation, successful and failing, throttled and retried.
	srv.FailNext("RunInstances", 1, "RequestLimitExceeded")
	sp := spec("creds", 7, "")
	sp.SSHPublicKey = newSSHKey(t)
	s, err := p.Launch(ctx, sp)
	note(err)
	srv.Settle()
	_, err = provider.ListAll(ctx, p, map[string]string{provider.TagFarm: "shop"})
	note(err)
	_, err = p.HostKeys(ctx, s[0].ID)
	note(err)
	vols, err := p.Volumes(ctx, s[0].ID)
	note(err)
	_, err = p.CreateSnapshot(ctx, vols[0].ID, map[string]string{"k": "v"})
	note(err)
	_, err = p.ListSnapshots(ctx, nil)
	note(err)
	note(p.Register(ctx, "web", s[0].ID))
	note(p.Deregister(ctx, "web", s[0].ID))
	note(p.Reboot(ctx, s[1].ID))
	note(p.Terminate(ctx, s[2].ID, "i-0fffffffffffffff0"))
	if len(errs) > 0 {
		t.Fatalf("operations failed: %v", errs)
	}
	// And failures of every kind.
	srv.FailNext("DescribeInstances", 1, "AuthFailure")
	_, err = p.Get(ctx, s[0].ID)
	note(err)
	srv.FailNext("DescribeInstances", 1, "UnauthorizedOperation")
	_, err = p.List(ctx, provider.ListOptions{})
	note(err)
	_, err = p.Get(ctx, "i-0fffffffffffffff0")
	note(err)
	note(p.Register(ctx, "nope", s[0].ID))
	// A client with the wrong secret: the server refuses its signature.
	bad := srv.Config()
	bad.Credentials = aws.NewCredentialsCache(staticCreds{id: srv.Options().AccessKeyID, secret: "wrong/" + ec2test.DefaultSecretAccessKey})
	pb, err := ec2.New(ctx, ec2.Options{AWSConfig: &bad, RetryMaxAttempts: 1, Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	_, err = pb.Zones(ctx)
	note(err)
	if provider.CodeOf(err) != provider.PermissionDenied {
		t.Fatalf("wrong secret gave %v, want PermissionDenied", err)
	}
	if len(errs) != 5 {
		t.Fatalf("%d failures, want 5: %v", len(errs), errs)
	}
	vmu.Lock()
	if len(violations) != 1 || !strings.Contains(violations[0], "signature does not match") {
		t.Errorf("violations %q, want the one wrong signature", violations)
	}
	vmu.Unlock()

	if logs.String() == "" {
		t.Fatal("the driver logged nothing; the test would prove nothing")
	}
	secrets := []string{ec2test.DefaultSecretAccessKey, "wrong/" + ec2test.DefaultSecretAccessKey, ec2test.DefaultAccessKeyID}
	for _, secret := range secrets {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("driver logs hold %q", secret)
		}
		if strings.Contains(sdkLogs.String(), secret) {
			t.Errorf("SDK logs hold %q", secret)
		}
		for _, err := range errs {
			if strings.Contains(err.Error(), secret) || strings.Contains(fmt.Sprintf("%+v", err), secret) {
				t.Errorf("error %q holds %q", err, secret)
			}
		}
	}
	if sdkLogs.String() != "" {
		t.Errorf("the SDK logged although the driver turns its wire logging off:\n%s", sdkLogs.String())
	}
}

type staticCreds struct{ id, secret string }

func (c staticCreds) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials{AccessKeyID: c.id, SecretAccessKey: c.secret, Source: "test"}, nil
}

func TestDefaultCredentialChainFromEnvironment(t *testing.T) {
	srv := ec2test.New(t, nil)
	dir := t.TempDir()
	t.Setenv("AWS_ACCESS_KEY_ID", ec2test.DefaultAccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", ec2test.DefaultSecretAccessKey)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_REGION", ec2test.DefaultRegion)
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	p, err := ec2.New(context.Background(), ec2.Options{Endpoint: srv.URL})
	if err != nil {
		t.Fatalf("New with the environment's credentials: %v", err)
	}
	zones, err := p.Zones(context.Background())
	if err != nil || len(zones) != 3 {
		t.Fatalf("Zones with the environment's credentials: %v, %v", zones, err)
	}
}

func TestProfileFromTheSharedFiles(t *testing.T) {
	srv := ec2test.New(t, nil)
	dir := t.TempDir()
	configFile := filepath.Join(dir, "config")
	credsFile := filepath.Join(dir, "credentials")
	writeFile(t, configFile, "[profile farm]\nregion = "+ec2test.DefaultRegion+"\n")
	writeFile(t, credsFile, "[farm]\naws_access_key_id = "+ec2test.DefaultAccessKeyID+"\naws_secret_access_key = "+ec2test.DefaultSecretAccessKey+"\n")
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", configFile)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", credsFile)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	p, err := ec2.New(context.Background(), ec2.Options{Profile: "farm", Endpoint: srv.URL})
	if err != nil {
		t.Fatalf("New with profile farm: %v", err)
	}
	if p.Region() != ec2test.DefaultRegion {
		t.Fatalf("region %q, want the profile's %q", p.Region(), ec2test.DefaultRegion)
	}
	if _, err := p.Zones(context.Background()); err != nil {
		t.Fatalf("Zones with the profile's credentials: %v", err)
	}
	_, err = ec2.New(context.Background(), ec2.Options{Profile: "nope", Endpoint: srv.URL})
	expectCode(t, err, provider.InvalidArgument)
}

func writeFile(t *testing.T, name, text string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestNewWithoutRegionIsInvalidArgument(t *testing.T) {
	srv := ec2test.New(t, nil)
	cfg := srv.Config()
	cfg.Region = ""
	_, err := ec2.New(context.Background(), ec2.Options{AWSConfig: &cfg})
	expectCode(t, err, provider.InvalidArgument)
	if !strings.Contains(err.Error(), "region") {
		t.Fatalf("error %q does not say the region is missing", err)
	}
}

func TestAsHandsOutTheSDKClients(t *testing.T) {
	p, srv := newProvider(t, nil)
	var c *awsec2.Client
	if !p.As(&c) || c == nil {
		t.Fatal("As(**ec2.Client) = false")
	}
	out, err := c.DescribeAvailabilityZones(context.Background(), &awsec2.DescribeAvailabilityZonesInput{})
	if err != nil || len(out.AvailabilityZones) != len(srv.Options().Zones) {
		t.Fatalf("the handed-out client's DescribeAvailabilityZones: %v", err)
	}
	var lb *elasticloadbalancing.Client
	if !p.As(&lb) || lb == nil {
		t.Fatal("As(**elasticloadbalancing.Client) = false")
	}
	var s string
	if p.As(&s) {
		t.Fatal("As(*string) = true")
	}
}

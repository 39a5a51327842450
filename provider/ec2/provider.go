package ec2

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancing"
	"github.com/aws/smithy-go"

	"github.com/farmhand/farmhand/provider"
)

// Defaults of [Options].
const (
	DefaultKeyNamePrefix    = "farmhand-"
	DefaultRetryMaxAttempts = 8
	DefaultRetryMaxBackoff  = 20 * time.Second
)

// Options configure [New]. The zero value uses the SDK's default credential
// chain and region, EC2's default VPC and subnets, and no key pair prefix
// other than [DefaultKeyNamePrefix].
type Options struct {
	// Region is the AWS region, such as "us-east-1". Empty means the
	// region of AWSConfig, or of the default chain (AWS_REGION,
	// AWS_DEFAULT_REGION, the profile's region).
	Region string
	// Endpoint overrides the EC2 and ELB endpoint URL (tests, VPC
	// endpoints). Empty means AWS's endpoints for the region.
	Endpoint string
	// AWSConfig is used instead of loading the default credential chain
	// with config.LoadDefaultConfig. New copies it.
	AWSConfig *aws.Config
	// Profile names the shared-config profile (~/.aws/config and
	// ~/.aws/credentials) to load when AWSConfig is nil; empty means
	// AWS_PROFILE, else "default".
	Profile string

	// KeyNamePrefix starts the names of the key pairs the driver imports;
	// the rest is derived from the key's fingerprint.
	KeyNamePrefix string
	// SecurityGroupIDs are given to every RunInstances call; empty means
	// the VPC's default security group.
	SecurityGroupIDs []string
	// Subnets maps an availability zone to the subnet to launch into
	// there; a zone without one gets the default VPC's default subnet.
	Subnets map[string]string
	// InstanceProfile is an IAM instance profile name or ARN to launch
	// servers with; empty means none.
	InstanceProfile string

	// Logger receives the driver's logs; nil discards them. The SDK's own
	// wire logging is always turned off, because it prints signed
	// request headers.
	Logger *slog.Logger
	// RetryMaxAttempts is how many times the SDK tries one API call,
	// throttled (RequestLimitExceeded) and 5xx answers included; 0 means
	// DefaultRetryMaxAttempts. 1 turns retries off.
	RetryMaxAttempts int
	// RetryMaxBackoff caps the SDK's exponential back-off between
	// attempts; 0 means DefaultRetryMaxBackoff.
	RetryMaxBackoff time.Duration
}

// Provider is the EC2 driver. It is safe for concurrent use.
type Provider struct {
	ec2    *ec2.Client
	elb    *elasticloadbalancing.Client
	region string
	opts   Options
	log    *slog.Logger

	keysMu sync.Mutex
	keys   map[string]bool // key pair names imported or found to exist
}

var (
	_ provider.Provider      = (*Provider)(nil)
	_ provider.HostKeyReader = (*Provider)(nil)
	_ provider.ConsoleReader = (*Provider)(nil)
	_ provider.Snapshotter   = (*Provider)(nil)
	_ provider.LoadBalancer  = (*Provider)(nil)
	_ provider.Retrier       = (*Provider)(nil)
	_ retry.IsErrorRetryable = noRetryCodes{}
)

// New returns an EC2 driver. It loads credentials through the SDK's
// default chain unless opts.AWSConfig is set; it makes no API call, so
// wrong credentials show on the first call, as PermissionDenied.
func New(ctx context.Context, opts Options) (*Provider, error) {
	const op = "ec2.New"
	var cfg aws.Config
	if opts.AWSConfig != nil {
		cfg = opts.AWSConfig.Copy()
	} else {
		var load []func(*config.LoadOptions) error
		if opts.Profile != "" {
			load = append(load, config.WithSharedConfigProfile(opts.Profile))
		}
		var err error
		cfg, err = config.LoadDefaultConfig(ctx, load...)
		if err != nil {
			return nil, provider.NewError(provider.InvalidArgument, op, fmt.Errorf("loading the AWS configuration (profile %q): %w", opts.Profile, err))
		}
	}
	if opts.Region != "" {
		cfg.Region = opts.Region
	}
	if cfg.Region == "" {
		return nil, provider.Errorf(provider.InvalidArgument, op, "no AWS region: set Options.Region, AWS_REGION or the profile's region")
	}
	if cfg.Credentials == nil {
		return nil, provider.Errorf(provider.InvalidArgument, op, "no AWS credentials provider in Options.AWSConfig")
	}
	if opts.KeyNamePrefix == "" {
		opts.KeyNamePrefix = DefaultKeyNamePrefix
	}
	if opts.RetryMaxAttempts <= 0 {
		opts.RetryMaxAttempts = DefaultRetryMaxAttempts
	}
	if opts.RetryMaxBackoff <= 0 {
		opts.RetryMaxBackoff = DefaultRetryMaxBackoff
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	cfg.ClientLogMode = 0
	cfg.HTTPClient = withPlainBodies(cfg.HTTPClient)
	cfg.Retryer = func() aws.Retryer { return newRetryer(opts.RetryMaxAttempts, opts.RetryMaxBackoff) }
	cfg.RetryMaxAttempts = 0
	cfg.RetryMode = ""
	endpoint := func(p **string) {
		if opts.Endpoint != "" {
			*p = aws.String(opts.Endpoint)
		}
	}
	p := &Provider{
		ec2: ec2.NewFromConfig(cfg, func(o *ec2.Options) {
			endpoint(&o.BaseEndpoint)
			o.ClientLogMode = 0
		}),
		elb: elasticloadbalancing.NewFromConfig(cfg, func(o *elasticloadbalancing.Options) {
			endpoint(&o.BaseEndpoint)
			o.ClientLogMode = 0
		}),
		region: cfg.Region,
		opts:   opts,
		log:    log.With("driver", "ec2", "region", cfg.Region),
		keys:   map[string]bool{},
	}
	return p, nil
}

// newRetryer is the SDK's standard retryer with more attempts, so that a
// burst of RequestLimitExceeded (which the SDK counts as throttling and
// backs off from with a 1 s base delay) is ridden out, and with capacity
// and limit errors made final: EC2 answers InsufficientInstanceCapacity with
// HTTP 500, which the SDK would otherwise retry in the same zone, while the
// farm wants to hear it at once and try another zone.
func newRetryer(maxAttempts int, maxBackoff time.Duration) aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = maxAttempts
		o.MaxBackoff = maxBackoff
		o.Retryables = append([]retry.IsErrorRetryable{noRetryCodes{}}, o.Retryables...)
	})
}

// noRetryCodes marks the API errors no retry of the same call can fix.
type noRetryCodes struct{}

func (noRetryCodes) IsErrorRetryable(err error) aws.Ternary {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch codeOf(ae.ErrorCode()) {
		case provider.InsufficientCapacity, provider.QuotaExceeded:
			return aws.FalseTernary
		}
	}
	return aws.UnknownTernary
}

// Retried reports whether the SDK's retryer already retried the call that
// failed with err: it retries every throttled and unavailable answer
// RetryMaxAttempts times, so a caller must not retry it again.
func (p *Provider) Retried(err error) bool {
	return p.opts.RetryMaxAttempts > 1 && provider.IsRetryable(err)
}

// Name returns "ec2".
func (p *Provider) Name() string { return "ec2" }

// Region returns the AWS region the driver works in.
func (p *Provider) Region() string { return p.region }

// As sets i to the driver's EC2 client when i is a **ec2.Client, or to its
// classic ELB client when i is a **elasticloadbalancing.Client.
func (p *Provider) As(i any) bool {
	switch v := i.(type) {
	case **ec2.Client:
		*v = p.ec2
		return true
	case **elasticloadbalancing.Client:
		*v = p.elb
		return true
	}
	return false
}

// Zones returns the region's availability zones that are available, in
// the order EC2 lists them (by name). Local Zones and Wavelength Zones are
// left out.
func (p *Provider) Zones(ctx context.Context) ([]string, error) {
	const op = "ec2.DescribeAvailabilityZones"
	out, err := p.ec2.DescribeAvailabilityZones(ctx, &ec2.DescribeAvailabilityZonesInput{
		Filters: filtersOf(map[string]string{"zone-type": "availability-zone", "state": "available"}),
	})
	if err != nil {
		return nil, wrap(op, "region "+p.region, err)
	}
	var zones []string
	for _, z := range out.AvailabilityZones {
		if name := aws.ToString(z.ZoneName); name != "" && !strings.EqualFold(string(z.State), "unavailable") {
			zones = append(zones, name)
		}
	}
	return zones, nil
}

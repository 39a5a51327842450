// Package ec2 is farmhand's driver for Amazon EC2, built on
// aws-sdk-go-v2. It implements [provider.Provider] and the optional
// capabilities [provider.HostKeyReader], [provider.ConsoleReader],
// [provider.Snapshotter] (EBS) and [provider.LoadBalancer] (classic ELB).
//
//	p, err := ec2.New(ctx, ec2.Options{Region: "us-east-1"})
//
// Each portable call is one or a few EC2 API calls: Launch is one
// RunInstances for any Count (MinCount/MaxCount), List is one
// DescribeInstances page filtered by tag at EC2, Terminate is one
// TerminateInstances per 1000 IDs.
//
// # Credentials and region
//
// Without [Options].AWSConfig, New loads the SDK's default chain with
// config.LoadDefaultConfig: the environment (AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), the shared files
// (~/.aws/credentials and ~/.aws/config, profile [Options].Profile or
// AWS_PROFILE), SSO, web
// identity (EKS), and the instance's or task's IAM role. The region is
// [Options].Region, else AWS_REGION or AWS_DEFAULT_REGION, else the
// profile's; New fails with InvalidArgument when there is none.
// [Options].Endpoint points both EC2 and ELB clients elsewhere (a VPC
// endpoint, or internal/ec2test in tests).
//
// Credentials never reach a log or an error: the driver logs IDs, zones,
// counts and tokens only, and turns the SDK's own wire logging
// (ClientLogMode) off, because it prints signed request headers.
//
// # IAM permissions
//
// The credentials need these actions (Resource "*" or narrower ARNs):
//
//	ec2:RunInstances                 Launch
//	ec2:CreateTags                   Launch and CreateSnapshot (tags at creation)
//	ec2:DescribeInstances            List, Get, Volumes
//	ec2:TerminateInstances           Terminate
//	ec2:RebootInstances              Reboot
//	ec2:DescribeAvailabilityZones    Zones
//	ec2:ImportKeyPair                Launch with an SSH key
//	ec2:GetConsoleOutput             HostKeys, ConsoleOutput
//	ec2:DescribeVolumes              Volumes
//	ec2:CreateSnapshot               CreateSnapshot
//	ec2:DescribeSnapshots            ListSnapshots
//	ec2:DeleteSnapshot               DeleteSnapshot
//	elasticloadbalancing:RegisterInstancesWithLoadBalancer    Register
//	elasticloadbalancing:DeregisterInstancesFromLoadBalancer  Deregister
//	elasticloadbalancing:DescribeLoadBalancers                HasLoadBalancer (a farm's Launch)
//	iam:PassRole                     only with Options.InstanceProfile
//
// # Idempotency
//
// Launch passes [provider.LaunchSpec].Token as RunInstances' ClientToken
// (a token longer than EC2's 64 characters, or not printable ASCII, is
// replaced by its hex SHA-256). EC2 answers a repeated token with the
// first call's reservation and launches nothing, so a launch retried after
// a lost answer, by the SDK's retryer or by the farm, never makes a
// second set of servers; the same token with other parameters fails with
// AlreadyExists (IdempotentParameterMismatch). Tags go on instances and
// their volumes in the same call (TagSpecifications), so no server exists
// without its farm tags. The SSH key is imported once per distinct key as
// a key pair named KeyNamePrefix plus 32 hex digits of the key's SHA-256;
// InvalidKeyPair.Duplicate means it is there already.
//
// Terminate is idempotent: EC2 accepts terminated instances, and IDs EC2
// does not know are dropped from the batch (EC2 names them in its
// InvalidInstanceID.NotFound message; without names the driver goes one by
// one).
//
// # Eventual consistency
//
// EC2's API is eventually consistent: for a few seconds after
// RunInstances, DescribeInstances may leave a new instance out of a
// filtered listing, and Get of its ID may give NotFound; a terminated
// instance stays listed, in StateTerminated, for about an hour and is
// NotFound after. The farm copes by remembering its own launches by token
// until a listing shows them (internal/ec2test's DelayVisibility knob
// reproduces the lag in tests).
//
// # Errors
//
// Every error is a [*provider.Error]; its Code comes from the API error
// code:
//
//	InsufficientInstanceCapacity, InsufficientCapacity    InsufficientCapacity
//	InstanceLimitExceeded, VcpuLimitExceeded, ...         QuotaExceeded
//	RequestLimitExceeded, Throttling                      Throttled
//	*.NotFound, *.Malformed, LoadBalancerNotFound         NotFound
//	UnauthorizedOperation, AuthFailure, Blocked           PermissionDenied
//	InvalidParameterValue, InvalidAMIID.*, ...            InvalidArgument
//	IdempotentParameterMismatch                           AlreadyExists
//	InternalError, Unavailable, other 5xx, no answer      Unavailable
//
// A NotFound from RunInstances (a subnet, security group or key pair that
// is not there) is reported as InvalidArgument: the spec is wrong, no
// server is missing. An instance ID that is not well-formed
// (InvalidInstanceID.Malformed) names no instance, so Get and Reboot give
// NotFound for it and Terminate ignores it. The SDK's error stays
// reachable: errors.As(err, &apiErr) with a smithy.APIError gives EC2's
// code and message.
//
// The SDK retries each call itself (standard retryer,
// [Options].RetryMaxAttempts attempts, default 8, exponential back-off with
// jitter capped at RetryMaxBackoff): throttling (RequestLimitExceeded,
// with a 1 s base delay), 5xx answers and dropped connections. Capacity and
// limit errors are not retried, although EC2 sends
// InsufficientInstanceCapacity with status 500: the farm wants to hear at
// once and try another zone. What reaches the caller after the retries is
// Throttled or Unavailable, and the driver's Retried (provider.Retrier)
// says so: the farm does not retry such a call again within a tick.
//
// # Capabilities
//
//   - HostKeys reads GetConsoleOutput and parses cloud-init's "-----BEGIN
//     SSH HOST KEY KEYS-----" block, so the first SSH connection can be
//     checked against a pinned key. It returns no keys and no error while
//     the console has none (the first minutes after boot).
//   - ConsoleOutput returns the decoded console output.
//   - Volumes, CreateSnapshot, ListSnapshots and DeleteSnapshot manage EBS
//     snapshots, tagged at creation; ListSnapshots asks for the account's
//     own snapshots only (Owner self) and follows pages.
//   - Register and Deregister add and remove instances at a classic ELB.
//
// # As
//
// [Provider.As] hands out the SDK clients for what the portable API does
// not cover:
//
//	var client *ec2.Client // github.com/aws/aws-sdk-go-v2/service/ec2
//	if p.As(&client) { ... }
//	var lb *elasticloadbalancing.Client
//	if p.As(&lb) { ... }
package ec2

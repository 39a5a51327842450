// Package ec2test is an httptest server that speaks the wire formats
// farmhand's EC2 driver uses: the EC2 Query API (version 2016-11-15) and
// the classic Elastic Load Balancing Query API (2012-06-01). Requests are
// form-encoded POSTs (Action=RunInstances&Version=2016-11-15&MinCount=...
// &TagSpecification.1.Tag.1.Key=...); answers are XML shaped as the EC2 API
// reference shows them (<RunInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
// with reservationId, instancesSet/item, instanceState, tagSet/item, ...),
// and errors are EC2's
//
//	<Response><Errors><Error><Code>..</Code><Message>..</Message></Error></Errors><RequestID>..</RequestID></Response>
//
// with the HTTP status EC2 gives the code (InsufficientInstanceCapacity
// 500, RequestLimitExceeded 503, UnauthorizedOperation 403, most others
// 400), or ELB's <ErrorResponse><Error><Type>Sender</Type><Code>..</Code>.
// Any aws-sdk-go-v2 client works against it: [Server.Config] returns an
// aws.Config with the endpoint, region and test credentials.
//
// # Checking requests
//
// The server checks every request as a strict cloud would, and more: a
// form-encoded POST; a Signature Version 4 Authorization header made with
// the test access key for the server's region and the ec2 or
// elasticloadbalancing service, which the server verifies by signing the
// request again with the test secret; Version 2016-11-15 (ELB 2012-06-01);
// a known Action; only parameters that action has (in flattened form,
// Filter.N.Value.N); the required ones present. A request that breaks the
// format fails the test (t.Errorf through [Options].Violation) and gets
// the error EC2 would answer. Semantic refusals a real cloud makes too
// (MaxResults outside 5..1000, an unknown filter name, a malformed or
// unknown ID, a reused ClientToken with other parameters) are answered as
// EC2 answers them without failing the test.
//
// # State and time
//
// Instances, key pairs, volumes, snapshots and load balancers live in
// memory. RunInstances is idempotent on ClientToken (a repeat returns the
// same reservation; other parameters give IdempotentParameterMismatch),
// creates a tagged root volume per instance, and answers with the
// instances pending. [Server.Settle] moves everything in a transition on:
// pending instances run (with a public IP and a console that prints a new
// ed25519 host key between cloud-init's markers), shutting-down ones
// terminate, snapshots complete. Nothing moves by itself, so tests are
// deterministic. Terminated instances stay listed until [Server.Purge].
// DescribeInstances, DescribeVolumes and DescribeSnapshots page with
// MaxResults and NextToken; [Options].PageSize caps a page further.
//
// # Knobs
//
//   - [Server.FailNext]: the next N requests of an action fail with an
//     error code (RequestLimitExceeded, Unavailable, UnauthorizedOperation,
//     ...) and its status.
//   - [Server.SetCapacity]: a zone's capacity; RunInstances beyond it (below
//     MinCount) fails with InsufficientInstanceCapacity, otherwise launches
//     what fits.
//   - [Server.SetInstanceLimit]: the account's instance limit
//     (InstanceLimitExceeded).
//   - [Server.DropNext]: apply the next N requests of an action, then close
//     the connection without an answer; the SDK retries with the same
//     parameters (and ClientToken).
//   - [Server.DelayVisibility]: new instances are missing from the next N
//     DescribeInstances answers (EC2's eventual consistency).
//   - [Server.SetState], [Server.SetConsoleOutput], [Server.AddLoadBalancer].
//   - [Options].LoopbackIPs and [Options].HostKey: instances get 127.1.x.y
//     addresses and all print one given host key, so that one test sshd
//     (dialled through sshdtest.Server.Dial) stands in for every instance and a client
//     pinning the console's key reaches it (examples/webfarm-ec2 runs its
//     scripts this way).
//
// [Server.Count] and [Server.Calls] tell how many requests of each action
// the server got, with their parameters and the SDK's attempt number, so
// tests can assert what an operation costs in API calls.
//
// # Outside tests
//
// [Start] runs the same server for a program (an example tried without an
// account); it must be closed with [Server.Close].
package ec2test

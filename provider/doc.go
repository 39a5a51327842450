// Package provider is the contract between farmhand and a cloud.
//
// A driver (provider/ec2, provider/rackspace, provider/fake) is a thin
// translation of one cloud's API into the [Provider] interface. Validation,
// retries, waiting, spreading over zones and bookkeeping live in package farm,
// so that every driver gets them for free and stays small.
//
// # The contract
//
// The doc comment of each method of [Provider] says what a driver must do,
// as "must" sentences: which error a missing server produces, what is
// idempotent, which arguments are never empty. The conformance suite in
// provider/providertest checks those sentences; every driver's tests run it.
//
// The contract is shaped after the two APIs it has to fit directly:
//
//   - EC2 RunInstances takes MinCount/MaxCount, a ClientToken and
//     TagSpecifications, which are [LaunchSpec]'s MinCount/Count, Token and
//     Tags; DescribeInstances filters by tag and pages with NextToken, which are
//     [ListOptions].Tags and PageToken.
//   - OpenStack Nova creates servers with metadata, a key pair and user data,
//     and lists them in pages with a marker; the driver puts [TagToken] in the
//     metadata and looks for it before creating, to make launches idempotent.
//
// # Tags
//
// Every server farmhand launches carries [TagFarm], [TagRole], [TagSlot] and
// [TagToken]. A controller that restarts lists the cloud by [TagFarm] and
// adopts what it finds instead of launching again.
//
// # Errors
//
// Drivers return [*Error] values carrying a [Code]. Callers branch on the code
// with errors.Is or [CodeOf]:
//
//	if errors.Is(err, provider.InsufficientCapacity) {
//		// try another zone
//	}
//
// The SDK's own error stays reachable with errors.As, for example as a
// smithy.APIError from aws-sdk-go-v2 or a gophercloud.ErrUnexpectedResponseCode.
//
// # Capabilities
//
// What not every cloud has is a small interface of its own, found by type
// assertion: [HostKeyReader], [ConsoleReader], [Snapshotter], [LoadBalancer].
//
// # As
//
// Provider.As hands out the driver's client for what the portable API does not
// cover: a **ec2.Client from provider/ec2, a **gophercloud.ServiceClient from
// provider/rackspace.
package provider

// Package fake is an in-memory cloud for testing programs built on farmhand,
// with no credentials and no network beyond loopback.
//
// # A cloud in a test
//
// [New] returns a [Provider] that implements provider.Provider and the
// optional HostKeyReader, ConsoleReader, Snapshotter and LoadBalancer
// capabilities. It is deterministic: server IDs are "i-000001",
// "i-000002", ... in launch order; private IPs are loopback addresses
// (see "Addresses" below); host keys derive from Options.Seed. States are computed from the injected
// clock, with no goroutine behind them: a server is pending for
// Options.BootTime after launch, then running.
//
//	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
//	cloud := fake.New(fake.Options{Clock: clk})
//	defer cloud.Close()
//	servers, _ := cloud.Launch(ctx, spec) // pending
//	clk.Advance(fake.DefaultBootTime)     // now running
//
// The fake keeps the promises of the provider contract, and passes the
// conformance suite in provider/providertest: a launch token seen before
// returns the servers of that launch (the same token with a different spec
// is AlreadyExists, as EC2's IdempotentParameterMismatch); Terminate is
// idempotent; terminated servers stay listed, in state terminated, for
// [TerminatedRetention] and then vanish, as on EC2; List pages hold at most
// Options.PageSize servers so that callers really follow pages.
//
// # Addresses
//
// Nothing the fake hands out leads off the machine. Each server's private
// IP is a loopback address of its own, from 127.100.0.0 to
// 127.199.255.255 in launch order (127.100.0.1, 127.100.0.2, ...; never
// one ending in .0 or .255), clear of 127.0.0.0/16 where tests run their
// own servers. Linux routes all of 127.0.0.0/8 to the loopback interface,
// so a program can bind a server's private address (a script starting a
// database on %internal_ip%:3306, a health check on
// http://%internal_ip%:8080/) and the other servers reach it there.
// Public IPs come from the documentation ranges 203.0.113.0/24,
// 198.51.100.0/24 and 192.0.2.0/24 (RFC 5737), which are never routed;
// nothing should dial them. A terminated server's addresses are handed
// out again only after the pool has wrapped around.
//
// Without Options.SSH no server has an sshd: [Provider.SSHReachable] says
// so with an error wrapping [ErrNoSSH], and the farm's scripts, Exec and
// SSH health checks fail at once with that error instead of dialling
// anything.
//
// # Testing your program
//
// Give the program under test the fake as its provider.Provider and a
// clock.Fake as its clock, then drive both from the test: advance the clock
// to let servers boot or timeouts pass, break things with the knobs below,
// and assert on what the cloud holds at the end. [Provider.Servers] returns
// every server ever launched, including those the cloud no longer lists,
// which is what a "no duplicate launches" assertion needs; [Provider.Calls]
// returns every API call with its arguments, time and error, for "the
// program did not hammer List" or "it retried after Throttled".
//
// # Knobs: faults, latency, capacity
//
// [Provider.FailNext] fails the next n calls of an [Op] with a code;
// [Provider.FailRate] fails a fraction of them, drawn from a sequence seeded
// by Options.Seed so that a test fails the same way every run;
// [Provider.LoseNext] lets a call take effect and then fails it, as when the
// answer is lost, which is how a test proves that a retry does not launch
// twice. [OpAll] applies a knob to every operation ("30% of all calls
// fail"). [Provider.SetLatency] delays an operation on the clock, honouring
// the context. [Provider.SetZoneCapacity] caps the live servers of a zone:
// launches past it fail with InsufficientCapacity, or launch what fits when
// that is at least the spec's MinCount.
//
// # Chaos on demand
//
// [Provider.Crash], [Provider.Stop], [Provider.Fail] and [Provider.ChangeIP]
// change a server behind the program's back; [Provider.Start] brings a
// stopped one back. [Provider.Hang] keeps a server "running" at the cloud
// while its SSH endpoint stops answering, the case a health check exists
// for; a Reboot cures it. [Provider.SetLoad] sets the load averages a
// server reports.
//
// # SSH endpoints
//
// With Options.SSH set, each server listens for SSH on 127.0.0.1 at its own
// port (Server.SSHAddress) with its own ed25519 host key (the one
// [Provider.HostKeys] returns, so clients pin it instead of trusting it on
// first use) and runs "exec" requests with /bin/sh -c in a sandbox
// directory of its own, with stdin, stdout, stderr and exit status as
// OpenSSH gives them. SFTP works in the same directory. Each command runs in
// its own process group, which is killed when the client closes the
// session or the connection, or sends a signal. The endpoint answers only
// while the server is running. Scripts written for real servers then run
// unchanged in tests and in the quick start. See [SSHOptions] for what the
// sandbox is not.
//
// # Load balancers and snapshots
//
// Load balancers exist once named in Options.LoadBalancers, created with
// [Provider.CreateLoadBalancer], or asked for with
// [Provider.HasLoadBalancer], which creates the name on first ask: a farm
// asks for each load balancer its spec names when it launches, so a spec
// written for EC2 runs on the fake as it is. [Provider.Registered] tells
// who is registered. Each server has an 8 GiB root volume that can be snapshotted;
// snapshots complete at once.
package fake

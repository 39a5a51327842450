// Package fake is an in-memory cloud for testing programs built on farmhand,
// with no credentials and no network beyond loopback.
//
// # A cloud in a test
//
// [New] returns a [Provider] that implements provider.Provider and the
// optional HostKeyReader, ConsoleReader, Snapshotter and LoadBalancer
// capabilities. It is deterministic: server IDs are "i-000001",
// "i-000002", ... in launch order; private IPs come from 10.0.0.0/8 in order
// and public IPs from the documentation range 203.0.113.0/24 (never routed);
// states are computed from the injected clock: a server is pending for
// Options.BootTime after launch, then running.
//
//	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
//	cloud := fake.New(fake.Options{Clock: clk})
//	defer cloud.Close()
//	servers, _ := cloud.Launch(ctx, spec) // pending
//	clk.Advance(fake.DefaultBootTime)     // now running
//
// # Knobs: faults, latency, capacity
//
// [Provider.FailNext] fails the next n calls of an [Op] with a code;
// [Provider.FailRate] fails a fraction of them, drawn from a sequence seeded
// by Options.Seed so a test fails the same way every run;
// [Provider.LoseNext] lets a call take effect and then fails it, as when the
// answer is lost, which is how a test proves that a retry does not launch
// twice. [OpAll] applies a knob to every operation. [Provider.SetLatency]
// delays an operation on the clock. [Provider.SetZoneCapacity] caps the live
// servers of a zone, so launches fail with InsufficientCapacity.
//
// # Chaos on demand
//
// [Provider.Crash], [Provider.Stop], [Provider.Fail] and [Provider.ChangeIP]
// change a server behind the program's back; [Provider.Hang] keeps it
// "running" at the cloud while its SSH endpoint stops answering.
//
// # The record
//
// [Provider.Calls] returns every API call with its arguments, time and
// error; [Provider.Servers] returns every server ever launched, including
// those the cloud no longer lists, for assertions such as "no duplicates".
//
// # SSH endpoints
//
// With Options.SSH set, each server listens for SSH on 127.0.0.1 at its own
// port (Server.SSHAddress) with its own ed25519 host key (the one
// [Provider.HostKeys] returns) and runs commands with /bin/sh in a sandbox
// directory of its own; SFTP works too. Scripts written for real servers
// then run unchanged in tests and in the quick start. See [SSHOptions].
package fake

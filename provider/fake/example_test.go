package fake_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/farmhand/farmhand/clock"
	"github.com/farmhand/farmhand/provider"
	"github.com/farmhand/farmhand/provider/fake"
)

// A test launches servers on the fake cloud and moves its clock on to let
// them boot.
func Example() {
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	cloud := fake.New(fake.Options{Clock: clk})
	defer cloud.Close()

	servers, err := cloud.Launch(ctx, provider.LaunchSpec{
		Token: "launch-1", Count: 2, Image: "debian-12", InstanceType: "small",
		Tags: map[string]string{provider.TagFarm: "shop", provider.TagRole: "app"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range servers {
		fmt.Println(s.ID, s.State, s.PrivateIP, s.Zone)
	}

	clk.Advance(fake.DefaultBootTime)
	all, _ := provider.ListAll(ctx, cloud, map[string]string{provider.TagFarm: "shop"})
	for _, s := range all {
		fmt.Println(s.ID, s.State)
	}
	// Output:
	// i-000001 pending 127.100.0.1 fake-1a
	// i-000002 pending 127.100.0.2 fake-1a
	// i-000001 running
	// i-000002 running
}

// Faults are injected per operation; LoseNext lets a launch happen and
// loses its answer, so a test can check that the caller's retry, with the
// same token, does not launch twice.
func ExampleProvider_LoseNext() {
	ctx := context.Background()
	cloud := fake.New(fake.Options{})
	defer cloud.Close()

	spec := provider.LaunchSpec{Token: "slot-0", Count: 1, Image: "debian-12"}
	cloud.FailNext(fake.OpLaunch, 1, provider.Throttled)
	cloud.LoseNext(fake.OpLaunch, 1, provider.Unavailable)
	for attempt := 1; ; attempt++ {
		servers, err := cloud.Launch(ctx, spec)
		if err != nil {
			fmt.Printf("attempt %d: %v (retryable %v)\n", attempt, err, provider.IsRetryable(err))
			continue
		}
		fmt.Printf("attempt %d: %s\n", attempt, servers[0].ID)
		break
	}
	fmt.Println("servers launched:", len(cloud.Servers()))
	// Output:
	// attempt 1: fake.Launch: throttled: injected fault (FailNext) (retryable true)
	// attempt 2: fake.Launch: unavailable: injected fault after the call took effect (LoseNext) (retryable true)
	// attempt 3: i-000001
	// servers launched: 1
}

// A zone with no room makes launches fail with InsufficientCapacity, which
// a caller answers by trying another zone.
func ExampleProvider_SetZoneCapacity() {
	ctx := context.Background()
	cloud := fake.New(fake.Options{})
	defer cloud.Close()
	cloud.SetZoneCapacity("fake-1a", 0)

	for _, zone := range []string{"fake-1a", "fake-1b"} {
		_, err := cloud.Launch(ctx, provider.LaunchSpec{Token: "t-" + zone, Count: 1, Image: "debian-12", Zone: zone})
		fmt.Printf("%s: insufficient capacity %v\n", zone, errors.Is(err, provider.InsufficientCapacity))
	}
	// Output:
	// fake-1a: insufficient capacity true
	// fake-1b: insufficient capacity false
}

// Crash makes the cloud lose a server, as a program under test must expect.
func ExampleProvider_Crash() {
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	cloud := fake.New(fake.Options{Clock: clk})
	defer cloud.Close()

	servers, _ := cloud.Launch(ctx, provider.LaunchSpec{Token: "t", Count: 1, Image: "debian-12"})
	clk.Advance(fake.DefaultBootTime)
	_ = cloud.Crash(servers[0].ID)
	s, _ := cloud.Get(ctx, servers[0].ID)
	fmt.Println(s.ID, s.State)

	clk.Advance(fake.TerminatedRetention)
	_, err := cloud.Get(ctx, servers[0].ID)
	fmt.Println(errors.Is(err, provider.NotFound))
	// Output:
	// i-000001 terminated
	// true
}

// With SSH endpoints on, each server runs commands over SSH in a sandbox
// directory, and its host key is known from HostKeys, so the client pins it.
func ExampleSSHOptions() {
	ctx := context.Background()
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	signer, _ := ssh.NewSignerFromKey(key)
	cloud := fake.New(fake.Options{
		BootTime: -1, // running at once
		SSH:      &fake.SSHOptions{AuthorizedKeys: []ssh.PublicKey{signer.PublicKey()}},
	})
	defer cloud.Close()

	servers, _ := cloud.Launch(ctx, provider.LaunchSpec{Token: "t", Count: 1, Image: "debian-12"})
	s := servers[0]
	lines, _ := cloud.HostKeys(ctx, s.ID)
	hostKey, _, _, _, _ := ssh.ParseAuthorizedKey([]byte(lines[0]))

	raw, err := net.DialTimeout("tcp", s.SSHAddress, 5*time.Second)
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = raw.SetDeadline(time.Now().Add(5 * time.Second)) // bounds the handshake
	conn, chans, reqs, err := ssh.NewClientConn(raw, s.SSHAddress, &ssh.ClientConfig{
		User:              "admin",
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback:   ssh.FixedHostKey(hostKey),
		HostKeyAlgorithms: []string{hostKey.Type()},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = raw.SetDeadline(time.Time{})
	client := ssh.NewClient(conn, chans, reqs)
	defer client.Close()

	sess, _ := client.NewSession()
	defer sess.Close()
	out, err := sess.Output(`echo "hello from $FARMHAND_SERVER_ID"`)
	fmt.Print(string(out))
	fmt.Println(err)
	// Output:
	// hello from i-000001
	// <nil>
}

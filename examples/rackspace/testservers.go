package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/farmhand/farmhand/dnsupdate"
	"github.com/farmhand/farmhand/farm"
	"github.com/farmhand/farmhand/internal/novatest"
	"github.com/farmhand/farmhand/internal/sshdtest"
	"github.com/farmhand/farmhand/provider/rackspace"
	"github.com/farmhand/farmhand/scripting"
)

// The test cloud's image and flavor IDs.
const (
	testImage  = "debian-12-bookworm"
	testFlavor = "general1-1"
	testRegion = "DFW"
)

// testSession sets up the farm on the test servers: novatest, a Keystone +
// Nova server in this process shaped like Rackspace (API-key login, no
// availability zones) whose servers get 127.2.x.y addresses, and one real
// OpenSSH sshd listening on 0.0.0.0, which answers for every server and
// whose host key every server's console prints. The scripts really run over
// SSH, as the user running this program, with %install_cmd% an echo and
// HAProxy's configuration printed instead of written. Without sshd the farm
// runs without scripts. cleanup stops the servers.
func testSession(ctx context.Context, c *settings, stdout, stderr io.Writer) (*session, func(), error) {
	out := newTimeline(stdout)
	var closers []func()
	cleanup := func() {
		for _, fn := range slices.Backward(closers) {
			fn()
		}
	}
	logger := newLogger(c.verbose, stderr)

	var sshd *sshdtest.Server
	switch {
	case c.noSSHD:
		out.printf("-no-sshd: the farm runs without scripts\n")
	case !sshdtest.Available():
		out.printf("%s is not installed: the farm runs without scripts (install openssh-server to see them run over SSH)\n", sshdtest.Binary)
	default:
		dir, err := os.MkdirTemp("", "rackspace-sshd-")
		if err != nil {
			return nil, cleanup, err
		}
		closers = append(closers, func() { os.RemoveAll(dir) })
		sshd, err = sshdtest.Launch(ctx, dir, &sshdtest.Options{ListenAll: true})
		if err != nil {
			return nil, cleanup, fmt.Errorf("starting sshd: %w", err)
		}
		closers = append(closers, func() { sshd.Close() })
		out.printf("test sshd: OpenSSH on 0.0.0.0:%d answers for every server; host key %s\n",
			sshd.Port, ssh.FingerprintSHA256(sshd.HostKeys[0]))
	}

	opts := &novatest.Options{
		Regions: []string{testRegion}, NoAvailabilityZones: true, LoopbackIPs: true,
		Images: []string{testImage}, Flavors: []string{testFlavor},
	}
	if sshd != nil {
		opts.HostKey = sshd.HostKeyLine()
	}
	cloud := novatest.Start(opts)
	closers = append(closers, cloud.Close)
	out.printf("test cloud: Keystone v2.0 at %s, Nova at %s\n", cloud.IdentityV2URL(), cloud.ComputeURL(testRegion))

	// Nothing moves by itself at novatest: time passing is a Settle.
	closers = append(closers, settleEvery(cloud, 100*time.Millisecond))

	// Rackspace's API-key login, against the test cloud's identity.
	p, err := rackspace.New(ctx, rackspace.Options{
		IdentityEndpoint: cloud.IdentityV2URL(),
		Username:         novatest.DefaultUsername,
		APIKey:           novatest.DefaultAPIKey,
		Logger:           logger,
	})
	if err != nil {
		return nil, cleanup, err
	}

	sh := shape{
		name: "webfarm", location: p.Region(),
		image: testImage, flavor: testFlavor,
		dnsZone:    c.zone,
		installCmd: "echo would run: apt-get -y install",
		haproxyCfg: "/dev/stdout",
		reloadCmd:  "echo would run: systemctl reload haproxy",
		lbAddress:  farm.DNSPrivate,
		sshPort:    22,
		scripts:    sshd != nil,
		evaluation: time.Second,
	}
	mem := dnsupdate.NewMemory(nil)
	s := &session{
		out: out, p: p, memoryDNS: mem,
		opts: farm.Options{
			Logger:       logger,
			TickInterval: 200 * time.Millisecond,
			DNS:          mem,
		},
		readyTimeout: 45 * time.Second,
		serve:        c.serve,
		crash: func(id string) {
			// Deleted behind the farm's back, as from the control panel.
			if err := p.Terminate(context.WithoutCancel(ctx), id); err != nil {
				out.printf("crash: %v\n", err)
			}
		},
		done: func(t *timeline) {
			routes := cloud.AllCalls()
			var parts []string
			for _, r := range slices.Sorted(maps.Keys(routes)) {
				parts = append(parts, fmt.Sprintf("%s %d", r, routes[r]))
			}
			t.printf("API calls: %s\n", strings.Join(parts, ", "))
		},
	}
	if sshd != nil {
		sh.sshPort = sshd.Port
		lib, err := newLibrary()
		if err != nil {
			return nil, cleanup, err
		}
		s.opts.SSHPublicKey = strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshd.ClientSigner.PublicKey())))
		s.opts.Scripting = &farm.ScriptingOptions{
			Library: lib,
			User:    sshd.User,
			Port:    sshd.Port,
			// SSH.HostKeys nil: each server's key is read from its console
			// (os-getConsoleOutput) and nothing else is trusted.
			SSH: scripting.ExecutorOptions{
				Signers:     []ssh.Signer{sshd.ClientSigner},
				DialTimeout: 10 * time.Second,
				Logger:      logger,
			},
		}
		s.hostKeyPoll = 50 * time.Millisecond
	}
	s.spec = webFarm(sh)
	if !c.crashDB {
		s.crash = nil
	}
	return s, cleanup, nil
}

// settleEvery calls cloud.Settle every interval until the returned function
// is called, which waits for the goroutine to end.
func settleEvery(cloud *novatest.Server, interval time.Duration) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				cloud.Settle()
			case <-done:
				return
			}
		}
	})
	var once sync.Once
	return func() {
		once.Do(func() { close(done) })
		wg.Wait()
	}
}

// newLogger logs to stderr with -v and discards otherwise.
func newLogger(verbose bool, stderr io.Writer) *slog.Logger {
	if !verbose {
		return nil
	}
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

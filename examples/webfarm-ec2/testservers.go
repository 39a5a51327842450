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
	"github.com/farmhand/farmhand/internal/ec2test"
	"github.com/farmhand/farmhand/internal/sshdtest"
	"github.com/farmhand/farmhand/provider/ec2"
	"github.com/farmhand/farmhand/scripting"
)

// testImage is the AMI the test farm boots; ec2test accepts any
// well-formed ID.
const testImage = "ami-0a1b2c3d4e5f60718"

// testLoadBalancer is the classic ELB the test cloud holds.
const testLoadBalancer = "webfarm-www"

// testSession sets up the farm on the test servers: ec2test, an EC2 API
// server in this process whose instances get 127.1.x.y addresses, and one
// real OpenSSH sshd listening on 0.0.0.0, which answers for every instance
// and whose host key every instance's console prints. The scripts really
// run over SSH, as the user running this program, with %install_cmd% an
// echo. Without sshd the farm runs without scripts. cleanup stops the
// servers.
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
		dir, err := os.MkdirTemp("", "webfarm-ec2-sshd-")
		if err != nil {
			return nil, cleanup, err
		}
		closers = append(closers, func() { os.RemoveAll(dir) })
		sshd, err = sshdtest.Launch(ctx, dir, &sshdtest.Options{ListenAll: true})
		if err != nil {
			return nil, cleanup, fmt.Errorf("starting sshd: %w", err)
		}
		closers = append(closers, func() { sshd.Close() })
		out.printf("test sshd: OpenSSH on 0.0.0.0:%d answers for every instance; host key %s\n",
			sshd.Port, ssh.FingerprintSHA256(sshd.HostKeys[0]))
	}

	opts := &ec2test.Options{LoopbackIPs: true, Images: []string{testImage}}
	if sshd != nil {
		opts.HostKey = sshd.HostKeyLine()
	}
	srv := ec2test.Start(opts)
	closers = append(closers, srv.Close)
	srv.AddLoadBalancer(testLoadBalancer)
	out.printf("test EC2 API: %s (region %s, zones %s)\n", srv.URL, srv.Options().Region, strings.Join(srv.Options().Zones, " "))

	// Nothing moves by itself at ec2test: time passing is a Settle.
	stopSettle := settleEvery(srv, 100*time.Millisecond)
	closers = append(closers, stopSettle)

	cfg := srv.Config()
	p, err := ec2.New(ctx, ec2.Options{AWSConfig: &cfg, Logger: logger, KeyNamePrefix: "webfarm-"})
	if err != nil {
		return nil, cleanup, err
	}

	sh := shape{
		name: "webfarm", location: srv.Options().Region,
		image: testImage, instanceType: "t3.micro",
		dnsZone:      c.zone,
		installCmd:   "echo would run: apt-get -y install",
		loadBalancer: testLoadBalancer,
		sshPort:      22,
		scripts:      sshd != nil,
		evaluation:   time.Second,
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
			srv.SetState(id, "terminated") // as if AWS retired the instance
		},
		ready: func(t *timeline) {
			ids, _ := srv.LoadBalancerInstances(testLoadBalancer)
			t.printf("ELB %s: %d instances registered %v\n", testLoadBalancer, len(ids), ids)
		},
		done: func(t *timeline) {
			counts := srv.Counts()
			var parts []string
			for _, a := range slices.Sorted(maps.Keys(counts)) {
				parts = append(parts, fmt.Sprintf("%s %d", a, counts[a]))
			}
			t.printf("EC2 API calls: %s\n", strings.Join(parts, ", "))
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
			// (GetConsoleOutput) and nothing else is trusted.
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

// settleEvery calls srv.Settle every interval until the returned function
// is called, which waits for the goroutine to end.
func settleEvery(srv *ec2test.Server, interval time.Duration) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				srv.Settle()
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

package webfarm

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/farmhand/farmhand/dnsupdate"
	"github.com/farmhand/farmhand/farm"
	"github.com/farmhand/farmhand/internal/sshdtest"
	"github.com/farmhand/farmhand/scripting"
)

// onTestServers sets the run up on the test servers: the cloud's test
// server in this process, whose servers get loopback addresses, and one
// real OpenSSH sshd on 127.0.0.1, which answers for every server (the
// farm's SSH connections to a server's loopback address are dialled there)
// and whose host key every server's console prints. The scripts really run
// over SSH, as the user running this program, with %install_cmd% an echo.
// Without sshd the farm runs without scripts.
func (p *Program) onTestServers(ctx context.Context, s *Session, c *settings) error {
	var sshd *sshdtest.Server
	switch {
	case c.noSSHD:
		s.Out.Printf("-no-sshd: the farm runs without scripts\n")
	case !sshdtest.Available():
		s.Out.Printf("%s is not installed: the farm runs without scripts (install openssh-server to see them run over SSH)\n", sshdtest.Binary)
	default:
		dir, err := os.MkdirTemp("", p.Name+"-sshd-")
		if err != nil {
			return err
		}
		s.Cleanup(func() { os.RemoveAll(dir) })
		sshd, err = sshdtest.Launch(ctx, dir, nil)
		if err != nil {
			return fmt.Errorf("starting sshd: %w", err)
		}
		s.Cleanup(func() { sshd.Close() })
		s.Out.Printf("test sshd: OpenSSH on %s answers for every server (a connection to a server's loopback address goes there); host key %s\n",
			sshd.Addr, ssh.FingerprintSHA256(sshd.HostKeys[0]))
		s.HostKey = sshd.HostKeyLine()
	}

	s.Farm = Shape{
		Name:        "webfarm",
		DNSZone:     c.zone,
		InstallCmd:  "echo would run: apt-get -y install",
		SSHPort:     22,
		BindScripts: sshd != nil,
		Evaluation:  time.Second,
	}
	if sshd != nil {
		s.Farm.SSHPort = sshd.Port
	}
	if err := p.Cloud.TestServers(ctx, s); err != nil {
		return err
	}
	if !c.crashDB {
		s.Crash = nil
	}
	s.memoryDNS = dnsupdate.NewMemory(nil)
	s.Options = farm.Options{
		Logger:       s.Logger,
		TickInterval: 200 * time.Millisecond,
		DNS:          s.memoryDNS,
	}
	s.readyTimeout = 45 * time.Second
	if sshd == nil {
		return nil
	}
	lib, err := newLibrary(s.Scripts)
	if err != nil {
		return err
	}
	s.Options.SSHPublicKey = strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshd.ClientSigner.PublicKey())))
	s.Options.Scripting = &farm.ScriptingOptions{
		Library: lib,
		User:    sshd.User,
		Port:    sshd.Port,
		// SSH.HostKeys nil: each server's key is read from its console
		// and nothing else is trusted.
		SSH: scripting.ExecutorOptions{
			Signers:     []ssh.Signer{sshd.ClientSigner},
			DialTimeout: 10 * time.Second,
			Logger:      s.Logger,
			Dial:        sshd.Dial,
		},
	}
	s.hostKeyPoll = 50 * time.Millisecond
	return nil
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/farmhand/farmhand/dnsupdate"
	"github.com/farmhand/farmhand/farm"
	"github.com/farmhand/farmhand/provider"
	"github.com/farmhand/farmhand/provider/rackspace"
	"github.com/farmhand/farmhand/scripting"
)

// cloudSession sets up the farm on Rackspace or OpenStack, with the
// credentials of the environment (rackspace.OptionsFromEnv). missing lists
// what the run lacks, in words for people, and is empty when it can go
// ahead. It logs in (to find the compute endpoint) but launches nothing.
func cloudSession(ctx context.Context, c *settings, stdout, stderr io.Writer) (s *session, missing []string, err error) {
	opts := rackspace.OptionsFromEnv()
	if c.region != "" {
		opts.Region = c.region
	}
	if opts.APIKey == "" && opts.Password == "" && opts.ApplicationCredentialSecret == "" && opts.TokenID == "" && opts.Cloud == "" {
		missing = append(missing, "no credentials: set OS_USERNAME and OS_API_KEY (Rackspace), or OS_CLOUD, or OS_AUTH_URL and the other OS_* variables (OpenStack)")
	}
	if c.image == "" {
		missing = append(missing, "no machine image: set -image IMAGE_ID (a Debian or Ubuntu image)")
	}
	updater, mem, err := dnsUpdater(c)
	if err != nil {
		missing = append(missing, err.Error())
	}
	key, keyNote, err := loginKey(c.sshKeyFile)
	if err != nil {
		missing = append(missing, err.Error())
	}
	if len(missing) > 0 {
		return nil, missing, nil
	}

	logger := newLogger(c.verbose, stderr)
	opts.Logger = logger
	p, err := rackspace.New(ctx, opts)
	if errors.Is(err, provider.InvalidArgument) {
		// Incomplete credentials or a region the catalog lacks: the
		// driver's message names the field, never a secret.
		return nil, []string{err.Error()}, nil
	}
	if err != nil {
		return nil, nil, err
	}
	lib, err := newLibrary()
	if err != nil {
		return nil, nil, err
	}
	runAs := ""
	if c.sshUser != "root" {
		runAs = "root"
	}
	out := newTimeline(stdout)
	out.printf("%s region %s; %s\n", p.Name(), p.Region(), keyNote)
	s = &session{
		out: out, p: p, memoryDNS: mem,
		opts: farm.Options{
			Logger: logger,
			DNS:    updater,
			Scripting: &farm.ScriptingOptions{
				Library:     lib,
				Key:         key,
				User:        c.sshUser,
				UsePublicIP: !c.privateIP,
				SSH:         scripting.ExecutorOptions{DialTimeout: 30 * time.Second, Logger: logger},
			},
		},
		hostKeyPoll:  15 * time.Second,
		readyTimeout: c.readyTimeout,
		serve:        c.serve,
	}
	s.spec = webFarm(shape{
		name: "webfarm", location: p.Region(),
		image: c.image, flavor: c.flavor,
		dnsZone:    c.zone,
		installCmd: "apt-get -qq update && DEBIAN_FRONTEND=noninteractive apt-get -y install",
		haproxyCfg: "/etc/haproxy/haproxy.cfg",
		reloadCmd:  "systemctl reload haproxy",
		runAs:      runAs,
		lbAddress:  farm.DNSPublic,
		sshPort:    22,
		scripts:    true,
		evaluation: time.Minute,
		warmUp:     3 * time.Minute,
	})
	return s, nil, nil
}

// dnsUpdater builds the updater -dns names; mem is set when the names are
// only kept in memory.
func dnsUpdater(c *settings) (u dnsupdate.Updater, mem *dnsupdate.Memory, err error) {
	kind, arg, _ := strings.Cut(c.dns, ":")
	switch kind {
	case "":
		mem = dnsupdate.NewMemory(nil)
		return mem, mem, nil
	case "rfc2136":
		if c.tsigKeyFile == "" {
			return nil, nil, fmt.Errorf("-dns %s needs -tsig-key FILE (tsig-keygen's output)", c.dns)
		}
		text, err := os.ReadFile(c.tsigKeyFile)
		if err != nil {
			return nil, nil, fmt.Errorf("-tsig-key: %v", err)
		}
		key, err := dnsupdate.ParseBINDKey(string(text))
		if err != nil {
			return nil, nil, fmt.Errorf("-tsig-key %s: %v", c.tsigKeyFile, err)
		}
		r, err := dnsupdate.NewRFC2136(dnsupdate.RFC2136Options{Server: arg, Zone: c.zone, Key: &key})
		if err != nil {
			return nil, nil, fmt.Errorf("-dns %s: %v", c.dns, err)
		}
		return r, nil, nil
	}
	return nil, nil, fmt.Errorf("-dns %q: want rfc2136:HOST:PORT", c.dns)
}

// loginKey reads the farm's SSH key from path, or makes one for this run.
// note says which, without the secret.
func loginKey(path string) (key *scripting.KeyPair, note string, err error) {
	if path == "" {
		key, err := scripting.GenerateKey("farmhand-rackspace")
		if err != nil {
			return nil, "", err
		}
		return key, "SSH key made for this run (use -ssh-key to keep access to the servers): " + key.AuthorizedKey, nil
	}
	pemBytes, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("-ssh-key: %v", err)
	}
	signer, err := scripting.ParsePrivateKey(pemBytes)
	if err != nil {
		return nil, "", fmt.Errorf("-ssh-key %s: %v", path, err)
	}
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey())))
	return &scripting.KeyPair{Signer: signer, AuthorizedKey: line, PrivateKeyPEM: pemBytes}, "SSH key " + path, nil
}

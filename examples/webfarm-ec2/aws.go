package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"golang.org/x/crypto/ssh"

	"github.com/farmhand/farmhand/dnsupdate"
	"github.com/farmhand/farmhand/farm"
	"github.com/farmhand/farmhand/provider/ec2"
	"github.com/farmhand/farmhand/scripting"
)

// awsSession sets up the farm on EC2. It makes no call that launches
// anything; missing lists what the run lacks (region, credentials, image),
// in words for people, and is empty when the run can go ahead.
func awsSession(ctx context.Context, c *settings, stdout, stderr io.Writer) (s *session, missing []string, err error) {
	cfg, err := loadAWSConfig(ctx, c)
	if err != nil {
		return nil, []string{fmt.Sprintf("the AWS configuration does not load: %v", err)}, nil
	}
	if cfg.Region == "" {
		missing = append(missing, "no AWS region: set AWS_REGION or -region")
	}
	if cfg.Credentials == nil {
		missing = append(missing, "no AWS credentials")
	} else {
		credCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := cfg.Credentials.Retrieve(credCtx)
		cancel()
		if err != nil {
			missing = append(missing, "no usable AWS credentials; the SDK says:\n      "+oneLine(err.Error()))
		}
	}
	if c.image == "" {
		missing = append(missing, "no machine image: set -image ami-... (a Debian or Ubuntu AMI of the region)")
	}
	updater, mem, err := dnsUpdater(c, cfg)
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
	var groups []string
	if c.securityGroup != "" {
		groups = []string{c.securityGroup}
	}
	p, err := ec2.New(ctx, ec2.Options{AWSConfig: &cfg, SecurityGroupIDs: groups, KeyNamePrefix: "webfarm-", Logger: logger})
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
	out.printf("AWS region %s; %s\n", cfg.Region, keyNote)
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
		name: "webfarm", location: cfg.Region,
		image: c.image, instanceType: c.instanceType,
		dnsZone:      c.zone,
		installCmd:   "apt-get -qq update && DEBIAN_FRONTEND=noninteractive apt-get -y install",
		runAs:        runAs,
		loadBalancer: c.elb,
		sshPort:      22,
		scripts:      true,
		evaluation:   time.Minute,
		warmUp:       3 * time.Minute,
	})
	return s, nil, nil
}

// loadAWSConfig loads the SDK's default chain, with -region and -profile.
// It reads the environment and the shared files only: no network.
func loadAWSConfig(ctx context.Context, c *settings) (aws.Config, error) {
	var opts []func(*config.LoadOptions) error
	if c.region != "" {
		opts = append(opts, config.WithRegion(c.region))
	}
	if c.profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(c.profile))
	}
	return config.LoadDefaultConfig(ctx, opts...)
}

// dnsUpdater builds the updater -dns names; mem is set when the names are
// only kept in memory.
func dnsUpdater(c *settings, cfg aws.Config) (u dnsupdate.Updater, mem *dnsupdate.Memory, err error) {
	kind, arg, _ := strings.Cut(c.dns, ":")
	switch kind {
	case "":
		mem = dnsupdate.NewMemory(nil)
		return mem, mem, nil
	case "route53":
		r, err := dnsupdate.NewRoute53(cfg, dnsupdate.Route53Options{HostedZoneID: arg, Comment: "farmhand webfarm-ec2"})
		if err != nil {
			return nil, nil, fmt.Errorf("-dns %s: %v", c.dns, err)
		}
		return r, nil, nil
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
	return nil, nil, fmt.Errorf("-dns %q: want route53:HOSTED_ZONE_ID or rfc2136:HOST:PORT", c.dns)
}

// loginKey reads the farm's SSH key from path, or makes one for this run.
// note says which, without the secret.
func loginKey(path string) (key *scripting.KeyPair, note string, err error) {
	if path == "" {
		key, err := scripting.GenerateKey("farmhand-webfarm-ec2")
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

// oneLine keeps the first line of an error: the SDK's credential errors
// list every provider it tried.
func oneLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
}

package rackspace

import (
	"context"
	"errors"
	"strings"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"golang.org/x/crypto/ssh"

	"github.com/farmhand/farmhand/provider"
)

// The markers cloud-init's keys-to-console module prints around the host
// keys.
const (
	hostKeysBegin = "-----BEGIN SSH HOST KEY KEYS-----"
	hostKeysEnd   = "-----END SSH HOST KEY KEYS-----"
)

// ConsoleOutput returns the server's console log (os-getConsoleOutput). It
// returns "" while Nova has none to give (the server is still building).
func (p *Provider) ConsoleOutput(ctx context.Context, serverID string) (string, error) {
	const op = "rackspace.ConsoleOutput"
	if serverID == "" {
		return "", provider.Errorf(provider.InvalidArgument, op, "server ID is empty")
	}
	var out string
	err := p.call(ctx, op, "server "+serverID, func(ctx context.Context) error {
		var err error
		out, err = servers.ShowConsoleOutput(ctx, p.compute, serverID, servers.ShowConsoleOutputOpts{}).Extract()
		return err
	})
	if gophercloud.ResponseCodeIs(err, 409) {
		// "Cannot 'get_console_output' instance while it is in vm_state
		// building": nothing to read yet.
		return "", nil
	}
	return out, err
}

// HostKeys reads the SSH host keys cloud-init printed on the console. It
// returns an empty slice while the server has not printed them yet.
func (p *Provider) HostKeys(ctx context.Context, serverID string) ([]string, error) {
	out, err := p.ConsoleOutput(ctx, serverID)
	if err != nil {
		var pe *provider.Error
		if errors.As(err, &pe) {
			pe.Op = "rackspace.HostKeys"
		}
		return nil, err
	}
	return parseHostKeys(out), nil
}

// parseHostKeys returns the keys of the last complete host-key block of a
// console log, as "type base64" lines. Lines may carry a syslog or "ec2:"
// prefix; anything that does not parse as a public key is skipped.
func parseHostKeys(console string) []string {
	keys := []string{}
	var block []string
	in := false
	for _, line := range strings.Split(console, "\n") {
		switch {
		case strings.Contains(line, hostKeysBegin):
			in, block = true, nil
		case strings.Contains(line, hostKeysEnd):
			if in {
				keys = block
				if keys == nil {
					keys = []string{}
				}
			}
			in = false
		case in:
			if k, ok := parseKeyLine(line); ok {
				block = append(block, k)
			}
		}
	}
	return keys
}

func parseKeyLine(line string) (string, bool) {
	fields := strings.Fields(line)
	for i := 0; i+1 < len(fields); i++ {
		f := fields[i]
		if !strings.HasPrefix(f, "ssh-") && !strings.HasPrefix(f, "ecdsa-") && !strings.HasPrefix(f, "sk-") {
			continue
		}
		key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(f + " " + fields[i+1]))
		if err != nil {
			continue
		}
		return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key))), true
	}
	return "", false
}

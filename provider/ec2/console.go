package ec2

import (
	"context"
	"encoding/base64"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"golang.org/x/crypto/ssh"

	"github.com/farmhand/farmhand/provider"
)

// ConsoleOutput returns the instance's console output (GetConsoleOutput,
// base64-decoded). It is empty while EC2 has none yet, which is the case
// for the first minutes of a new instance. An unknown instance gives
// NotFound.
func (p *Provider) ConsoleOutput(ctx context.Context, serverID string) (string, error) {
	const op = "ec2.GetConsoleOutput"
	if serverID == "" {
		return "", provider.Errorf(provider.NotFound, op, "empty instance ID")
	}
	out, err := p.ec2.GetConsoleOutput(ctx, &ec2.GetConsoleOutputInput{InstanceId: aws.String(serverID)})
	if err != nil {
		return "", wrap(op, "instance "+serverID, err)
	}
	enc := aws.ToString(out.Output)
	if enc == "" {
		return "", nil
	}
	raw, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return "", provider.Errorf(provider.Unknown, op, "instance %s: console output is not base64: %v", serverID, err)
	}
	return string(raw), nil
}

// HostKeys returns the SSH host keys cloud-init printed to the console
// between "-----BEGIN SSH HOST KEY KEYS-----" and "-----END SSH HOST KEY
// KEYS-----", as authorized_keys lines without comments. While the console
// holds no complete block (the instance is booting) it returns an empty
// slice and no error. When the block was printed more than once (the
// instance was rebooted) the last one counts.
func (p *Provider) HostKeys(ctx context.Context, serverID string) ([]string, error) {
	out, err := p.ConsoleOutput(ctx, serverID)
	if err != nil {
		return nil, err
	}
	return parseHostKeys(out), nil
}

const (
	beginHostKeys = "-----BEGIN SSH HOST KEY KEYS-----"
	endHostKeys   = "-----END SSH HOST KEY KEYS-----"
)

// parseHostKeys finds the last complete host key block in console output.
// Lines may end in \r\n and carry a prefix (a syslog tag such as
// "ec2: "); a line counts when it holds a key type and a base64 key that
// parse as a public key.
func parseHostKeys(console string) []string {
	keys := []string{}
	var block []string
	in := false
	for _, line := range strings.Split(console, "\n") {
		line = strings.TrimRight(line, "\r")
		switch {
		case strings.Contains(line, beginHostKeys):
			in, block = true, nil
		case strings.Contains(line, endHostKeys):
			if in {
				keys = block
				if keys == nil {
					keys = []string{}
				}
			}
			in = false
		case in:
			if k := keyIn(line); k != "" {
				block = append(block, k)
			}
		}
	}
	return keys
}

// keyIn returns the public key on a console line as "type base64", or "".
func keyIn(line string) string {
	fields := strings.Fields(line)
	for i := 0; i+1 < len(fields); i++ {
		key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(fields[i] + " " + fields[i+1]))
		if err == nil {
			return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key)))
		}
	}
	return ""
}

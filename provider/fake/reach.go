package fake

import (
	"errors"
	"fmt"

	"github.com/farmhand/farmhand/provider"
)

var _ provider.SSHReacher = (*Provider)(nil)

// ErrNoSSH is the cause of the error [Provider.SSHReachable] returns for a
// cloud made without Options.SSH. Its text says how to give the servers an
// SSH endpoint.
var ErrNoSSH = errors.New("the fake cloud was made without SSH endpoints, so nothing can run on its servers: " +
	"make it with fake.New(fake.Options{SSH: &fake.SSHOptions{}}) to give each server a real SSH endpoint on loopback")

// SSHReachable reports whether an SSH client may dial the server: nil when
// the server has a live SSH endpoint (Options.SSH is set), else an error
// wrapping [ErrNoSSH], or saying that the endpoint is gone. Callers such as
// the farm's script runner and its SSH health check ask before dialling,
// so that a fake server without an endpoint fails at once and nothing is
// dialled. It makes no call and records none.
func (p *Provider) SSHReachable(serverID string) error {
	if p.ssh == nil {
		return fmt.Errorf("fake: server %s: %w", serverID, ErrNoSSH)
	}
	if p.ssh.address(serverID) == "" {
		return fmt.Errorf("fake: server %s has no SSH endpoint: it is terminated, or was launched after Close", serverID)
	}
	return nil
}

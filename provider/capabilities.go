package provider

import (
	"context"
	"time"
)

// The interfaces in this file are optional capabilities. A driver implements
// the ones its cloud has; callers find them by type assertion:
//
//	if hk, ok := p.(provider.HostKeyReader); ok { ... }

// Retrier is implemented by a driver that retries some of its calls
// itself (the AWS SDK's retryer, a throttling loop), so that a failed call
// is retried by one loop only: callers retry an error only when Retried
// is false for it.
type Retrier interface {
	// Retried reports whether the call that failed with err was already
	// retried by the driver as far as it would go.
	Retried(err error) bool
}

// IsRetryableBy reports whether a caller should retry a call of p that
// failed with err: the error is retryable (IsRetryable) and p did not
// retry it already (Retrier).
func IsRetryableBy(p Provider, err error) bool {
	if !IsRetryable(err) {
		return false
	}
	r, ok := p.(Retrier)
	return !ok || !r.Retried(err)
}

// HostKeyReader tells a server's SSH host keys, so that the first SSH
// connection to a new server can be checked against a pinned key instead of
// trusting it on first use. EC2 reads them from the console output, where
// cloud-init prints them.
type HostKeyReader interface {
	// HostKeys returns the server's host public keys as authorized_keys
	// lines ("ssh-ed25519 AAAA..."). It must return NotFound for an unknown
	// server, and an empty slice with no error while the keys are not known
	// yet (the server is still booting).
	HostKeys(ctx context.Context, serverID string) ([]string, error)
}

// ConsoleReader returns a server's console output.
type ConsoleReader interface {
	// ConsoleOutput returns the latest console output. It must return
	// NotFound for an unknown server.
	ConsoleOutput(ctx context.Context, serverID string) (string, error)
}

// Volume is a block storage volume.
type Volume struct {
	ID       string            // the cloud's identifier
	ServerID string            // attached to, or empty
	Device   string            // device name on the server, such as /dev/xvdf
	SizeGiB  int               // size in GiB
	Zone     string            // availability zone
	Tags     map[string]string // the cloud's tags
}

// Snapshot is a point-in-time copy of a volume.
type Snapshot struct {
	ID        string            // the cloud's identifier
	VolumeID  string            // the volume it copies
	State     string            // "pending", "completed" or "error"
	StartedAt time.Time         // when the snapshot began
	Tags      map[string]string // the cloud's tags (the farm's backups tag theirs)
}

// Snapshotter creates and manages volume snapshots; the farm's backups use it.
type Snapshotter interface {
	// Volumes returns the volumes attached to a server. It must return
	// NotFound for an unknown server.
	Volumes(ctx context.Context, serverID string) ([]Volume, error)
	// CreateSnapshot starts a snapshot of a volume, tagged with tags. It
	// must return NotFound for an unknown volume.
	CreateSnapshot(ctx context.Context, volumeID string, tags map[string]string) (Snapshot, error)
	// ListSnapshots returns the snapshots that carry every given tag, in any
	// order, following the cloud's pages itself.
	ListSnapshots(ctx context.Context, tags map[string]string) ([]Snapshot, error)
	// DeleteSnapshot deletes a snapshot. Deleting an unknown snapshot must
	// not be an error.
	DeleteSnapshot(ctx context.Context, snapshotID string) error
}

// LoadBalancer registers servers with a cloud load balancer (EC2 classic
// ELB). Clouds without one (Rackspace) use a load-balancer role running
// HAProxy instead.
type LoadBalancer interface {
	// Register adds servers to the named load balancer. Registering a
	// server that is already registered must not be an error. It must return
	// NotFound when the load balancer does not exist.
	Register(ctx context.Context, loadBalancer string, serverIDs ...string) error
	// Deregister removes servers from it; removing a server that is not
	// registered must not be an error.
	Deregister(ctx context.Context, loadBalancer string, serverIDs ...string) error
	// HasLoadBalancer reports whether the named load balancer exists. The
	// farm asks it for each load balancer a spec names before it launches
	// anything, so that a name the cloud does not have is refused then. A
	// test cloud may create the load balancer on the spot and say yes (the
	// fake does).
	HasLoadBalancer(ctx context.Context, loadBalancer string) (bool, error)
}

// SSHReacher is implemented by drivers whose servers may have no sshd a
// client can reach, such as the fake cloud made without SSH endpoints.
// Callers ask before they dial: a server whose driver says no is never
// dialled.
type SSHReacher interface {
	// SSHReachable returns nil when an SSH client may dial the server (at
	// its SSHAddress, or its IP on port 22), else an error that says why
	// not and how to give the server an SSH endpoint. It must not make a
	// network call, and it must not block.
	SSHReachable(serverID string) error
}

package provider

import (
	"context"
	"iter"
	"maps"
	"time"
)

// Tag keys farmhand puts on every server it launches. They are how a restarted
// controller finds and adopts what exists at the cloud.
const (
	TagFarm  = "farmhand:farm"  // farm name
	TagRole  = "farmhand:role"  // role name
	TagSlot  = "farmhand:slot"  // the role indexes of the launch, from 1 ("3", or "3,4,5" for a batch)
	TagToken = "farmhand:token" // idempotency token of the launch that made it
)

// State is a server's state as the cloud reports it.
type State string

const (
	StatePending     State = "pending"     // accepted, booting
	StateRunning     State = "running"     // booted; may not yet answer SSH
	StateStopping    State = "stopping"    // shutting down, will be stopped
	StateStopped     State = "stopped"     // powered off, not terminated
	StateTerminating State = "terminating" // being deleted (EC2 shutting-down)
	StateTerminated  State = "terminated"  // gone; some clouds list it a while
	StateFailed      State = "failed"      // the cloud gave up on it (Nova ERROR)
)

// Gone reports whether the server is terminated or on its way there.
func (s State) Gone() bool { return s == StateTerminating || s == StateTerminated }

// Server is one server as the cloud reports it.
type Server struct {
	// ID is the cloud's identifier (EC2 instance ID, Nova server UUID).
	ID string
	// Name is a human-readable name, if the cloud keeps one.
	Name string
	// State is the server's lifecycle state, in the driver's mapping.
	State State
	// PrivateIP and PublicIP are textual IP addresses, empty when unknown.
	PrivateIP string
	PublicIP  string
	// SSHAddress is host:port where the server's sshd listens, when the driver
	// knows better than port 22 on one of the IPs (the fake provider's
	// loopback SSH endpoints). Empty otherwise.
	SSHAddress string
	// Zone is the availability zone the server runs in.
	Zone string
	// Image and InstanceType are what the server was launched with.
	Image        string
	InstanceType string
	// LaunchedAt is when the cloud says it launched the server.
	LaunchedAt time.Time
	// Tags holds the cloud's tags (EC2) or metadata (Nova). Never nil in
	// results from a driver.
	Tags map[string]string
}

// Clone returns a copy of s that shares no memory with it.
func (s Server) Clone() Server {
	s.Tags = maps.Clone(s.Tags)
	if s.Tags == nil {
		s.Tags = map[string]string{}
	}
	return s
}

// LaunchSpec asks for Count servers of one kind in one zone.
type LaunchSpec struct {
	// Token makes the launch idempotent. It must not be empty. A driver must
	// return the servers of the earlier launch, and launch nothing, when it is
	// called again with a Token it has seen (EC2 ClientToken; on Nova the
	// driver tags servers with TagToken and looks them up first).
	Token string
	// Count is how many servers to launch; it must be >= 1.
	Count int
	// MinCount is the fewest servers the caller accepts (EC2 MinCount). When
	// the cloud has capacity for at least MinCount but fewer than Count, the
	// driver launches what it can. 0 means Count.
	MinCount int
	// Image is the image (AMI, Glance image) and InstanceType the size
	// (EC2 instance type, Nova flavor) to launch.
	Image        string
	InstanceType string
	// Zone is the availability zone; empty lets the cloud choose.
	Zone string
	// Tags are put on the servers at launch, atomically with their creation
	// (EC2 TagSpecifications, Nova metadata). They include TagFarm and TagRole.
	Tags map[string]string
	// UserData is passed to the server (cloud-init). It may be nil.
	UserData []byte
	// SSHPublicKey is an authorized_keys line to install for login (EC2 key
	// pair import, Nova key pair or personality). It may be empty.
	SSHPublicKey string
}

// ListOptions selects servers for List.
type ListOptions struct {
	// Tags filters by tags: a server matches when it has every key with the
	// given value. Empty matches every server.
	Tags map[string]string
	// PageToken continues an earlier List call; empty starts at the beginning.
	PageToken string
	// PageSize is a hint for how many servers one page holds; 0 lets the
	// driver choose.
	PageSize int
}

// Page is one page of List results.
type Page struct {
	// Servers are this page's servers.
	Servers []Server
	// NextPageToken is empty on the last page.
	NextPageToken string
}

// Provider is the driver contract every cloud implements. farmhand's farm
// controller talks to clouds only through it and the optional capability
// interfaces below.
//
// Implementations must be safe for concurrent use. Every method that fails
// must return an error for which [CodeOf] gives the right [Code], usually by
// returning an [*Error] that wraps the SDK's error.
type Provider interface {
	// Name returns the driver's name, such as "ec2" or "fake".
	Name() string

	// Zones returns the availability zones servers may be launched in.
	Zones(ctx context.Context) ([]string, error)

	// Launch starts spec.Count servers (at least spec.MinCount) and returns
	// them, typically in StatePending.
	//
	// Launch must be idempotent on spec.Token: a second call with a token
	// the driver has seen must return the servers of the first call and must
	// not create any. Launch must put spec.Tags on each server at creation,
	// so that a server is never visible without its farm tags. When the
	// cloud has no capacity Launch must return an error with code
	// InsufficientCapacity and launch nothing; when an account limit stops
	// it, QuotaExceeded. An invalid spec (Count < 1, empty Token or Image)
	// must fail with InvalidArgument before any call to the cloud.
	Launch(ctx context.Context, spec LaunchSpec) ([]Server, error)

	// List returns one page of servers that match opts.Tags. It must return
	// servers in every state, including terminated servers for as long as
	// the cloud still reports them. Following NextPageToken until it is
	// empty must visit every matching server exactly once when nothing
	// changes in between.
	List(ctx context.Context, opts ListOptions) (Page, error)

	// Get returns one server. It must return an error with code NotFound
	// when the cloud does not know the ID. A terminated server may be
	// reported either in StateTerminated or as NotFound.
	Get(ctx context.Context, id string) (Server, error)

	// Terminate deletes the servers. It must be idempotent: a server that is
	// already terminated, or unknown to the cloud, is not an error. Drivers
	// should batch the IDs into as few API calls as the cloud allows.
	Terminate(ctx context.Context, ids ...string) error

	// Reboot restarts a server. It must return NotFound for an unknown ID.
	Reboot(ctx context.Context, id string) error

	// As hands out the driver's underlying client for what the portable API
	// does not cover. i must be a pointer to the client's type (for example
	// **ec2.Client); As reports whether it set it.
	As(i any) bool
}

// All iterates over every server matching tags, following pages. It stops at
// the first error, which it yields with a zero Server.
func All(ctx context.Context, p Provider, tags map[string]string) iter.Seq2[Server, error] {
	return func(yield func(Server, error) bool) {
		opts := ListOptions{Tags: tags}
		for {
			page, err := p.List(ctx, opts)
			if err != nil {
				yield(Server{}, err)
				return
			}
			for _, s := range page.Servers {
				if !yield(s, nil) {
					return
				}
			}
			if page.NextPageToken == "" {
				return
			}
			opts.PageToken = page.NextPageToken
		}
	}
}

// ListAll returns every server matching tags, following pages.
func ListAll(ctx context.Context, p Provider, tags map[string]string) ([]Server, error) {
	var out []Server
	for s, err := range All(ctx, p, tags) {
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

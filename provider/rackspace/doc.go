// Package rackspace is farmhand's driver for Rackspace Cloud Servers and any
// OpenStack cloud (Nova, Keystone, Cinder), built on gophercloud v2.
//
// [New] authenticates, finds the compute endpoint of a region in the service
// catalog and returns a [*Provider] that implements [provider.Provider] and
// the optional [provider.HostKeyReader], [provider.ConsoleReader] and
// [provider.Snapshotter].
//
// # Authentication: Rackspace API key
//
// Rackspace's identity service is Keystone v2.0 with the RAX-KSKEY
// extension: POST /v2.0/tokens with
//
//	{"auth": {"RAX-KSKEY:apiKeyCredentials": {"username": "...", "apiKey": "..."}}}
//
// gophercloud v2 has no Rackspace support, so the driver builds that body
// itself and hands it to gophercloud's v2.0 token flow, which parses the
// token and the service catalog and logs in again when a token expires
// (HTTP 401). Set Username and APIKey; IdentityEndpoint defaults to
// [RackspaceIdentity]. Without a Region the driver uses the account's
// default region (RAX-AUTH:defaultRegion), such as DFW, ORD, IAD, LON, SYD
// or HKG.
//
//	p, err := rackspace.New(ctx, rackspace.Options{
//		Username: "farmer", APIKey: os.Getenv("RAX_API_KEY"), Region: "ORD",
//	})
//
// # Authentication: Keystone v3
//
// Any other OpenStack cloud: IdentityEndpoint (https://keystone:5000/v3),
// and either Username, Password, UserDomainName and a project (ProjectID, or
// ProjectName and ProjectDomainName), or an application credential
// (ApplicationCredentialID and ApplicationCredentialSecret), or an existing
// token (TokenID, which cannot be renewed). A versionless endpoint is
// resolved through Keystone's version discovery; a /v2.0 endpoint with a
// password works too.
//
// # Authentication: clouds.yaml
//
// Cloud names an entry of clouds.yaml, read from CloudsFile or from the
// places the OpenStack client looks (OS_CLIENT_CONFIG_FILE, ./clouds.yaml,
// ~/.config/openstack/clouds.yaml, /etc/openstack/clouds.yaml; secure.yaml
// next to it is merged). The entry's region_name and interface apply unless
// Options override them. [OptionsFromEnv] reads OS_CLOUD and the other OS_*
// variables (and RAX_API_KEY, RAX_REGION), as the command-line clients do.
//
// Credentials never appear in errors or logs, and [Options] prints them as
// REDACTED.
//
// # Idempotency
//
// Nova has no client token. Launch names the servers of one launch after
// the farm, the role and a hash of the launch token ("web-app-3f2a9c0d1e"),
// and puts spec.Tags plus [provider.TagToken] in their metadata. Before
// creating it lists the servers with that name (Nova filters by name
// server-side) and returns those carrying the token, so a repeated launch
// creates nothing. Count > 1 is one create call with min_count and
// max_count; Nova appends "-1", "-2", ... to the names. When the answer to
// the create is lost (a timeout, a dropped connection), Launch looks again
// before failing: the launch succeeds with the servers Nova made, and a
// retry by the caller finds them too.
//
// Nova cannot filter servers by metadata. List asks Nova for the servers
// whose names carry the farm (and role) of the tags it is given, follows
// Nova's limit/marker pages (servers_links) and filters the metadata
// itself. The page token is Nova's marker. Servers renamed by hand drop out
// of their farm's listing. Nova's name filter is a regular expression (the
// driver's patterns are plain [a-z0-9-] prefixes, so a substring match works
// as well); for a cloud that matches names otherwise, set
// Options.NoNameFilter. Launch also notices when the listing by name misses
// the server it just created, and stops using the filter.
//
// SSH keys are imported once per distinct key as a Nova key pair named after
// the key's SHA-256 fingerprint ("farmhand-…"; a 409 conflict means it
// exists), or, with SSHKeyMethod [Personality], injected as
// /root/.ssh/authorized_keys. User data is sent base64-encoded.
//
// # Errors and rate limits
//
// Every error is a *provider.Error. HTTP 404 is NotFound; 429, and 413
// over-limit (Rackspace's rate limiter), are Throttled with the delay from
// Retry-After (seconds or an HTTP date, else the body's retryAfter) in
// RetryAfter; 413 or 403 whose message speaks of a quota ("Quota exceeded
// for instances") is QuotaExceeded; other 403 and a failed re-login are
// PermissionDenied; 400 is InvalidArgument; 409 is AlreadyExists (Reboot of
// a server Nova is busy with: Unavailable); 5xx and transport failures are
// Unavailable. gophercloud's error stays reachable:
//
//	var e gophercloud.ErrUnexpectedResponseCode
//	if errors.As(err, &e) { log.Print(e.Actual, string(e.Body)) }
//
// Throttled calls are retried by the driver, waiting what Retry-After asks
// (1 s, 2 s, 4 s, ... when it says nothing) on Options.Clock, at most
// MaxRetries times (default 4) and only for waits up to MaxRetryWait
// (default 60 s); a longer wait is returned to the caller. The driver's
// Retried (provider.Retrier) tells callers that throttling was retried
// already; they retry the other retryable errors (5xx, dropped
// connections) themselves, as the farm does.
//
// Nova answers a create before its scheduler has placed the servers; a zone
// without capacity shows as servers in ERROR with the fault "No valid host
// was found". Launch therefore waits (polling every 2 s, at most
// ScheduleTimeout, default 60 s) while its servers are in task_state
// "scheduling", then deletes the servers Nova could not place and fails
// with InsufficientCapacity when fewer than MinCount remain, so that the
// farm moves on to another zone.
//
// # Capabilities
//
// [Provider.HostKeys] and [Provider.ConsoleOutput] use Nova's
// os-getConsoleOutput action; the host keys are the last complete block
// between cloud-init's "-----BEGIN SSH HOST KEY KEYS-----" markers. While a
// server builds, both return nothing rather than an error.
//
// The [provider.Snapshotter] methods list a server's volumes through Nova's
// os-volume_attachments and snapshot them through Cinder v3 (or v2): create
// with force and the tags as metadata, list with the tags filtered by the
// driver, delete. They need a block-storage endpoint in the catalog;
// Rackspace's Cloud Block Storage (a Cinder v1 API) is not supported, and
// the methods say so with InvalidArgument.
//
// Zones come from os-availability-zone. A cloud without that API (Rackspace
// public cloud) has one implicit zone named after the region, unless
// Options.Zones lists others; launches into the implicit zone send no
// availability_zone.
//
// # Load balancing (HAProxy role)
//
// Rackspace has no Elastic Load Balancing, so the Provider does not
// implement [provider.LoadBalancer]. A farm on Rackspace or OpenStack
// balances with a load-balancer role (DESIGN.md): servers running HAProxy,
// whose scripts rewrite the backend list from the app role's
// %internal_ip% values on HostUp and HostDown events, with the role's DNS
// name pointing at them, or with a load balancer of the program's own
// (farm.Options.LoadBalancers, farm.Backends). A role that names any other
// load balancer is refused by farm.New, before anything launches.
//
// # As
//
// [Provider.As] hands out the compute client for what the portable API does
// not cover:
//
//	var compute *gophercloud.ServiceClient
//	if p.As(&compute) {
//		flavors.ListDetail(compute, nil) // ...
//	}
package rackspace

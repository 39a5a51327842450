package rackspace

import (
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/farmhand/farmhand/clock"
)

// RackspaceIdentity is Rackspace's Keystone v2.0 identity endpoint, the
// default for API-key authentication.
const RackspaceIdentity = "https://identity.api.rackspacecloud.com/v2.0/"

// SSH key injection methods for [Options].SSHKeyMethod.
const (
	// KeyPair imports the key as a Nova key pair (once per distinct key, named
	// after its fingerprint) and boots servers with key_name.
	KeyPair = "keypair"
	// Personality injects /root/.ssh/authorized_keys as a personality file,
	// for images whose cloud-init does not read the metadata service.
	Personality = "personality"
)

// Options configure [New]. Exactly one way to authenticate must be given:
//
//   - Rackspace API key: Username and APIKey (IdentityEndpoint defaults to
//     [RackspaceIdentity]).
//   - Keystone password: IdentityEndpoint, Username (or UserID), Password and
//     a project (ProjectID, or ProjectName with ProjectDomainName).
//   - Keystone v3 application credential: IdentityEndpoint,
//     ApplicationCredentialID (or ...Name with Username) and
//     ApplicationCredentialSecret.
//   - An existing Keystone v3 token: IdentityEndpoint and TokenID.
//   - clouds.yaml: Cloud names an entry of CloudsFile (or of the standard
//     locations: OS_CLIENT_CONFIG_FILE, ./clouds.yaml,
//     ~/.config/openstack/clouds.yaml, /etc/openstack/clouds.yaml).
//
// Secrets (APIKey, Password, ApplicationCredentialSecret, TokenID) never
// appear in errors or logs; Options prints them as "REDACTED".
type Options struct {
	IdentityEndpoint string
	Username         string
	UserID           string
	APIKey           string
	Password         string
	// UserDomainName is the Keystone v3 domain of Username; default "Default".
	UserDomainName string
	ProjectID      string
	ProjectName    string
	// ProjectDomainName is the domain of ProjectName; default UserDomainName.
	ProjectDomainName string

	ApplicationCredentialID     string
	ApplicationCredentialName   string
	ApplicationCredentialSecret string
	TokenID                     string

	Cloud      string
	CloudsFile string

	// Region selects the catalog's endpoints. Empty means the user's
	// default region (Rackspace's RAX-AUTH:defaultRegion, or the region of
	// the clouds.yaml entry), else the first compute endpoint.
	Region string
	// Interface is the catalog interface: "public" (default) or "internal"
	// (Rackspace ServiceNet).
	Interface string

	// Zones is used when the cloud has no os-availability-zone API (Rackspace
	// public cloud). Empty there means one unnamed zone "".
	Zones []string
	// SSHKeyMethod is KeyPair (default) or Personality.
	SSHKeyMethod string
	// PublicNetwork and PrivateNetwork name the networks in a server's
	// addresses; defaults "public" and "private" (Rackspace's names).
	PublicNetwork, PrivateNetwork string

	// NoNameFilter stops List and Launch from narrowing listings with Nova's
	// server name filter (a regular expression in Nova and Rackspace), for a
	// cloud that matches names otherwise. Listings then read every server of
	// the project. Launch turns the filter off by itself when it sees it
	// miss a server it just created.
	NoNameFilter bool

	// ScheduleTimeout is how long Launch waits for Nova's scheduler to place
	// new servers, so that a zone without capacity fails the launch with
	// InsufficientCapacity instead of leaving servers in ERROR. 0 means 60 s;
	// negative means do not wait.
	ScheduleTimeout time.Duration
	// MaxRetries bounds how often a throttled call (HTTP 429 or 413
	// over-limit) is retried; 0 means 4, negative means never.
	MaxRetries int
	// MaxRetryWait is the longest Retry-After the driver waits out itself;
	// a longer one is returned as a Throttled error carrying RetryAfter. 0
	// means 60 s.
	MaxRetryWait time.Duration

	// HTTPClient sends every request; nil means a client with a 2 minute
	// timeout.
	HTTPClient *http.Client
	// Clock paces retries and scheduling waits; nil means the real clock.
	Clock clock.Clock
	// Logger receives debug logs of calls and retries; nil discards them.
	Logger *slog.Logger
}

// authMode tells which way of authenticating the options ask for.
type authMode int

const (
	authAPIKey authMode = iota + 1
	authPassword
	authAppCredential
	authToken
	authClouds
)

func (o *Options) mode() (authMode, error) {
	var modes []authMode
	var names []string
	add := func(set bool, m authMode, name string) {
		if set {
			modes = append(modes, m)
			names = append(names, name)
		}
	}
	add(o.APIKey != "", authAPIKey, "APIKey")
	add(o.Password != "", authPassword, "Password")
	add(o.ApplicationCredentialSecret != "", authAppCredential, "ApplicationCredentialSecret")
	add(o.TokenID != "", authToken, "TokenID")
	add(o.Cloud != "", authClouds, "Cloud")
	switch len(modes) {
	case 0:
		return 0, fmt.Errorf("rackspace: no credentials: set APIKey (Rackspace), Password, ApplicationCredentialSecret, TokenID or Cloud (clouds.yaml)")
	case 1:
	default:
		return 0, fmt.Errorf("rackspace: options set %s; want exactly one way to authenticate", strings.Join(names, " and "))
	}
	m := modes[0]
	switch {
	case m == authAPIKey && o.Username == "":
		return 0, fmt.Errorf("rackspace: Username is empty; API-key authentication needs it")
	case m == authPassword && o.Username == "" && o.UserID == "":
		return 0, fmt.Errorf("rackspace: Username and UserID are empty; password authentication needs one")
	case m == authAppCredential && o.ApplicationCredentialID == "" && (o.ApplicationCredentialName == "" || o.Username == "" && o.UserID == ""):
		return 0, fmt.Errorf("rackspace: ApplicationCredentialID is empty; an application credential needs its ID, or its name and the user")
	case m != authAPIKey && m != authClouds && o.IdentityEndpoint == "":
		return 0, fmt.Errorf("rackspace: IdentityEndpoint is empty; Keystone authentication needs it (such as https://keystone.example.com:5000/v3)")
	}
	switch o.SSHKeyMethod {
	case "", KeyPair, Personality:
	default:
		return 0, fmt.Errorf("rackspace: SSHKeyMethod %q is not %q or %q", o.SSHKeyMethod, KeyPair, Personality)
	}
	switch o.Interface {
	case "", "public", "internal", "admin":
	default:
		return 0, fmt.Errorf("rackspace: Interface %q is not public, internal or admin", o.Interface)
	}
	return m, nil
}

func redact(s string) string {
	if s == "" {
		return ""
	}
	return "REDACTED"
}

// String prints the options with every secret replaced by "REDACTED".
func (o Options) String() string {
	return fmt.Sprintf("rackspace.Options{IdentityEndpoint:%q Username:%q UserID:%q APIKey:%q Password:%q "+
		"ProjectID:%q ProjectName:%q ApplicationCredentialID:%q ApplicationCredentialSecret:%q TokenID:%q "+
		"Cloud:%q CloudsFile:%q Region:%q Interface:%q Zones:%q}",
		o.IdentityEndpoint, o.Username, o.UserID, redact(o.APIKey), redact(o.Password),
		o.ProjectID, o.ProjectName, o.ApplicationCredentialID, redact(o.ApplicationCredentialSecret), redact(o.TokenID),
		o.Cloud, o.CloudsFile, o.Region, o.Interface, o.Zones)
}

// GoString is String, so that %#v redacts secrets too.
func (o Options) GoString() string { return o.String() }

// LogValue makes slog print the options redacted.
func (o Options) LogValue() slog.Value { return slog.StringValue(o.String()) }

// OptionsFromEnv reads the variables OpenStack's and Rackspace's command-line
// clients use:
//
//	OS_AUTH_URL, OS_USERNAME (also RAX_USERNAME), OS_USER_ID, OS_PASSWORD, OS_API_KEY
//	(also RAX_API_KEY), OS_PROJECT_ID (or OS_TENANT_ID), OS_PROJECT_NAME
//	(or OS_TENANT_NAME), OS_USER_DOMAIN_NAME, OS_PROJECT_DOMAIN_NAME,
//	OS_APPLICATION_CREDENTIAL_ID, OS_APPLICATION_CREDENTIAL_NAME,
//	OS_APPLICATION_CREDENTIAL_SECRET, OS_TOKEN, OS_CLOUD,
//	OS_CLIENT_CONFIG_FILE, OS_REGION_NAME (also RAX_REGION), OS_INTERFACE.
//
// OS_CLOUD wins over the other credentials when it is set. The result still
// goes through New's validation.
func OptionsFromEnv() Options {
	get := func(names ...string) string {
		for _, n := range names {
			if v := os.Getenv(n); v != "" {
				return v
			}
		}
		return ""
	}
	o := Options{
		Region:     get("OS_REGION_NAME", "RAX_REGION"),
		Interface:  get("OS_INTERFACE"),
		Cloud:      get("OS_CLOUD"),
		CloudsFile: get("OS_CLIENT_CONFIG_FILE"),
	}
	if o.Cloud != "" {
		return o
	}
	o.IdentityEndpoint = get("OS_AUTH_URL")
	o.Username = get("OS_USERNAME", "RAX_USERNAME")
	o.UserID = get("OS_USER_ID")
	o.APIKey = get("OS_API_KEY", "RAX_API_KEY")
	if o.APIKey == "" {
		o.Password = get("OS_PASSWORD")
		o.ApplicationCredentialID = get("OS_APPLICATION_CREDENTIAL_ID")
		o.ApplicationCredentialName = get("OS_APPLICATION_CREDENTIAL_NAME")
		o.ApplicationCredentialSecret = get("OS_APPLICATION_CREDENTIAL_SECRET")
		if o.ApplicationCredentialSecret != "" {
			o.Password = ""
		}
		if o.Password == "" && o.ApplicationCredentialSecret == "" {
			o.TokenID = get("OS_TOKEN")
		}
	}
	o.ProjectID = get("OS_PROJECT_ID", "OS_TENANT_ID")
	o.ProjectName = get("OS_PROJECT_NAME", "OS_TENANT_NAME")
	o.UserDomainName = get("OS_USER_DOMAIN_NAME", "OS_DOMAIN_NAME")
	o.ProjectDomainName = get("OS_PROJECT_DOMAIN_NAME")
	return o
}

package rackspace

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/config/clouds"
	tokens2 "github.com/gophercloud/gophercloud/v2/openstack/identity/v2/tokens"
	"github.com/gophercloud/gophercloud/v2/openstack/utils"
)

// apiKeyAuth is Rackspace's Keystone v2.0 extension RAX-KSKEY: a username
// and an API key instead of a password. gophercloud v2 has no Rackspace
// support, so this builds the request body itself and lets gophercloud's
// v2 token flow post it, parse the token and the service catalog, and
// re-authenticate on 401.
type apiKeyAuth struct {
	username, apiKey, tenantID string
}

// ToTokenV2CreateMap returns {"auth": {"RAX-KSKEY:apiKeyCredentials": {...}}}.
func (a apiKeyAuth) ToTokenV2CreateMap() (map[string]any, error) {
	if a.username == "" || a.apiKey == "" {
		return nil, errors.New("rackspace: API-key authentication needs a username and an API key")
	}
	auth := map[string]any{
		"RAX-KSKEY:apiKeyCredentials": map[string]any{"username": a.username, "apiKey": a.apiKey},
	}
	if a.tenantID != "" {
		auth["tenantId"] = a.tenantID
	}
	return map[string]any{"auth": auth}, nil
}

// CanReauth lets gophercloud authenticate again when a token expires.
func (a apiKeyAuth) CanReauth() bool { return true }

// session is an authenticated client and where its endpoints are.
type session struct {
	client   *gophercloud.ProviderClient
	endpoint gophercloud.EndpointOpts
	apiKey   bool // Rackspace identity
}

func httpClient(o *Options, tlsConfig *tls.Config) http.Client {
	if o.HTTPClient != nil {
		c := *o.HTTPClient
		if tlsConfig != nil {
			if tr, ok := c.Transport.(*http.Transport); ok {
				tr = tr.Clone()
				tr.TLSClientConfig = tlsConfig
				c.Transport = tr
			}
		}
		return c
	}
	c := http.Client{Timeout: 2 * time.Minute}
	if tlsConfig != nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = tlsConfig
		c.Transport = tr
	}
	return c
}

// authenticate logs in the way the options ask for.
func authenticate(ctx context.Context, o *Options, mode authMode) (*session, error) {
	eo := gophercloud.EndpointOpts{Region: o.Region, Availability: gophercloud.Availability(o.Interface)}
	if eo.Availability == "" {
		eo.Availability = gophercloud.AvailabilityPublic
	}
	switch mode {
	case authAPIKey:
		endpoint := o.IdentityEndpoint
		if endpoint == "" {
			endpoint = RackspaceIdentity
		}
		pc, err := openstack.NewClient(endpoint)
		if err != nil {
			return nil, fmt.Errorf("rackspace: IdentityEndpoint %q: %w", endpoint, err)
		}
		pc.HTTPClient = httpClient(o, nil)
		pc.IdentityEndpoint = gophercloud.NormalizeURL(endpoint)
		// AuthenticateV2 posts to IdentityBase + "v2.0/": the base must be
		// the endpoint without its version.
		base, err := utils.BaseEndpoint(endpoint)
		if err != nil {
			return nil, fmt.Errorf("rackspace: IdentityEndpoint %q: %w", endpoint, err)
		}
		pc.IdentityBase = gophercloud.NormalizeURL(base)
		if err := openstack.AuthenticateV2(ctx, pc, apiKeyAuth{username: o.Username, apiKey: o.APIKey, tenantID: o.ProjectID}, gophercloud.EndpointOpts{}); err != nil {
			return nil, authError("Rackspace API key", endpoint, err)
		}
		if eo.Region == "" {
			eo.Region = defaultRegion(pc)
		}
		return &session{client: pc, endpoint: eo, apiKey: true}, nil

	case authClouds:
		popts := []clouds.ParseOption{clouds.WithCloudName(o.Cloud)}
		if o.CloudsFile != "" {
			popts = append(popts, clouds.WithLocations(o.CloudsFile))
		}
		if o.Region != "" {
			popts = append(popts, clouds.WithRegion(o.Region))
		}
		ao, ceo, tlsConfig, err := clouds.Parse(popts...)
		if err != nil {
			return nil, fmt.Errorf("rackspace: clouds.yaml entry %q: %w", o.Cloud, err)
		}
		ao.AllowReauth = true
		if ceo.Region != "" {
			eo.Region = ceo.Region
		}
		if ceo.Availability != "" && o.Interface == "" {
			eo.Availability = ceo.Availability
		}
		pc, err := keystone(ctx, o, ao, tlsConfig)
		if err != nil {
			return nil, err
		}
		return &session{client: pc, endpoint: eo}, nil

	default:
		ao := gophercloud.AuthOptions{
			IdentityEndpoint:            o.IdentityEndpoint,
			Username:                    o.Username,
			UserID:                      o.UserID,
			Password:                    o.Password,
			DomainName:                  o.UserDomainName,
			TenantID:                    o.ProjectID,
			TenantName:                  o.ProjectName,
			ApplicationCredentialID:     o.ApplicationCredentialID,
			ApplicationCredentialName:   o.ApplicationCredentialName,
			ApplicationCredentialSecret: o.ApplicationCredentialSecret,
			TokenID:                     o.TokenID,
			AllowReauth:                 mode != authToken,
		}
		if mode == authPassword && ao.UserID == "" && ao.DomainName == "" {
			ao.DomainName = "Default"
		}
		if mode == authPassword && (o.ProjectID != "" || o.ProjectName != "") {
			domain := o.ProjectDomainName
			if domain == "" {
				domain = ao.DomainName
			}
			ao.Scope = &gophercloud.AuthScope{ProjectID: o.ProjectID, ProjectName: o.ProjectName}
			if o.ProjectID == "" {
				ao.Scope.DomainName = domain
			}
		}
		if mode != authPassword {
			// Application credentials and tokens carry their scope.
			ao.TenantID, ao.TenantName = "", ""
		}
		pc, err := keystone(ctx, o, ao, nil)
		if err != nil {
			return nil, err
		}
		return &session{client: pc, endpoint: eo}, nil
	}
}

func keystone(ctx context.Context, o *Options, ao gophercloud.AuthOptions, tlsConfig *tls.Config) (*gophercloud.ProviderClient, error) {
	pc, err := openstack.NewClient(ao.IdentityEndpoint)
	if err != nil {
		return nil, fmt.Errorf("rackspace: identity endpoint %q: %w", ao.IdentityEndpoint, err)
	}
	pc.HTTPClient = httpClient(o, tlsConfig)
	if err := openstack.Authenticate(ctx, pc, ao); err != nil {
		return nil, authError("Keystone", ao.IdentityEndpoint, err)
	}
	return pc, nil
}

// authError classifies a failed login. gophercloud's errors name the URL and
// the response body, never the request body, so no secret leaks through.
func authError(how, endpoint string, err error) error {
	return classifyAt("rackspace.New", how+" authentication at "+endpoint, err, time.Time{})
}

// defaultRegion reads Rackspace's RAX-AUTH:defaultRegion from the v2.0
// token response, or "" when it has none.
func defaultRegion(pc *gophercloud.ProviderClient) string {
	r, ok := pc.GetAuthResult().(tokens2.CreateResult)
	if !ok {
		return ""
	}
	var body struct {
		Access struct {
			User struct {
				DefaultRegion string `json:"RAX-AUTH:defaultRegion"`
			} `json:"user"`
		} `json:"access"`
	}
	if err := r.ExtractInto(&body); err != nil {
		return ""
	}
	return body.Access.User.DefaultRegion
}

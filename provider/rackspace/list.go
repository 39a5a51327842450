package rackspace

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"strings"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"

	"github.com/farmhand/farmhand/provider"
)

// Server names carry the farm and role so that List can narrow the listing
// at the cloud: Nova cannot filter servers by metadata, but it can by name.
// The launch token's hash ends the name, so that Launch finds an earlier
// launch with one narrow query. Names are DNS-safe, because Nova derives the
// server's hostname from them.
const (
	maxFarmInName = 30
	maxRoleInName = 20
	tokenHashLen  = 10
)

// sanitize lowers s to [a-z0-9-] and cuts it to max characters.
func sanitize(s string, max int) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if b.Len() == max {
			break
		}
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	if b.Len() == 0 {
		return "x"
	}
	return b.String()
}

// namePrefix is the start of the names of servers carrying these tags, and
// the name filter that finds them: "web-app-" for farm web, role app. It is
// "" when the tags have no farm. The prefix has only [a-z0-9-], so it reads
// the same as a regular expression (Nova) and as a substring.
func namePrefix(tags map[string]string) string {
	farm, ok := tags[provider.TagFarm]
	if !ok {
		return ""
	}
	prefix := sanitize(farm, maxFarmInName) + "-"
	if role, ok := tags[provider.TagRole]; ok {
		prefix += sanitize(role, maxRoleInName) + "-"
	}
	return prefix
}

// serverName names the servers of one launch.
func serverName(tags map[string]string, token string) string {
	sum := sha256.Sum256([]byte(token))
	hash := hex.EncodeToString(sum[:])[:tokenHashLen]
	prefix := namePrefix(tags)
	if prefix == "" {
		prefix = "farmhand-"
	}
	return prefix + hash
}

// matches reports whether a server carries every tag.
func matches(md map[string]string, tags map[string]string) bool {
	for k, v := range tags {
		if got, ok := md[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// listPage is one GET /servers/detail. It returns the page's servers and
// the marker of the next page ("" on the last page).
func (p *Provider) listPage(ctx context.Context, op string, q servers.ListOpts) ([]servers.Server, string, error) {
	var body struct {
		Servers []servers.Server   `json:"servers"`
		Links   []gophercloud.Link `json:"servers_links"`
	}
	err := p.call(ctx, op, "servers", func(ctx context.Context) error {
		query, err := q.ToServerListQuery()
		if err != nil {
			return err
		}
		body.Servers, body.Links = nil, nil
		_, err = p.compute.Get(ctx, p.compute.ServiceURL("servers", "detail")+query, &body, nil)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	next, err := gophercloud.ExtractNextURL(body.Links)
	if err != nil || next == "" {
		return body.Servers, "", nil
	}
	u, err := url.Parse(next)
	if err != nil {
		return body.Servers, "", nil
	}
	return body.Servers, u.Query().Get("marker"), nil
}

// List returns one page of the servers carrying opts.Tags.
//
// Nova filters by name, not by metadata: List asks Nova for the servers
// whose names carry the farm (and role) of opts.Tags (unless
// Options.NoNameFilter), and filters their metadata itself. The page token is Nova's marker, the last server ID of
// the previous page. A page Nova returns with no matching server is skipped,
// so pages are never empty unless nothing is left.
func (p *Provider) List(ctx context.Context, opts provider.ListOptions) (provider.Page, error) {
	const op = "rackspace.List"
	if opts.PageSize < 0 {
		return provider.Page{}, provider.Errorf(provider.InvalidArgument, op, "PageSize %d is negative", opts.PageSize)
	}
	q := servers.ListOpts{Limit: opts.PageSize, Marker: opts.PageToken}
	if p.nameFilter.Load() {
		q.Name = namePrefix(opts.Tags)
	}
	for {
		list, next, err := p.listPage(ctx, op, q)
		if err != nil {
			return provider.Page{}, err
		}
		page := provider.Page{NextPageToken: next}
		for i := range list {
			if matches(list[i].Metadata, opts.Tags) {
				page.Servers = append(page.Servers, p.toServer(&list[i]))
			}
		}
		if len(page.Servers) > 0 || next == "" {
			return page, nil
		}
		q.Marker = next
	}
}

// findLaunch returns the servers an earlier launch with this token made:
// the servers named after it whose metadata carries the token.
func (p *Provider) findLaunch(ctx context.Context, op, name, token string) ([]servers.Server, error) {
	var found []servers.Server
	q := servers.ListOpts{}
	if p.nameFilter.Load() {
		q.Name = name
	}
	for {
		list, next, err := p.listPage(ctx, op, q)
		if err != nil {
			return nil, err
		}
		for _, s := range list {
			if s.Metadata[provider.TagToken] == token {
				found = append(found, s)
			}
		}
		if next == "" {
			return found, nil
		}
		q.Marker = next
	}
}

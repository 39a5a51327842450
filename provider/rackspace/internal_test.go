package rackspace

import (
	"slices"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"

	"github.com/farmhand/farmhand/provider"
)

func TestNovaStatesMapToProviderStates(t *testing.T) {
	for _, c := range []struct {
		status, task string
		want         provider.State
	}{
		{"BUILD", "scheduling", provider.StatePending},
		{"REBUILD", "rebuilding", provider.StatePending},
		{"ACTIVE", "", provider.StateRunning},
		{"REBOOT", "reboot_started", provider.StateRunning},
		{"HARD_REBOOT", "reboot_started_hard", provider.StateRunning},
		{"ERROR", "", provider.StateFailed},
		{"SHUTOFF", "", provider.StateStopped},
		{"STOPPED", "", provider.StateStopped},
		{"SUSPENDED", "", provider.StateStopped},
		{"PAUSED", "", provider.StateStopped},
		{"DELETED", "", provider.StateTerminated},
		{"SOFT_DELETED", "", provider.StateTerminated},
		{"ACTIVE", "deleting", provider.StateTerminating},
		{"ERROR", "deleting", provider.StateTerminating},
		{"UNKNOWN", "", provider.StateRunning},
	} {
		if got := mapState(c.status, c.task); got != c.want {
			t.Errorf("status %s, task %q maps to %q, want %q", c.status, c.task, got, c.want)
		}
	}
}

func addr(ip, kind string) map[string]any {
	return map[string]any{"addr": ip, "version": 4, "OS-EXT-IPS:type": kind}
}

func TestAddressesArePickedFromNetworksByNameThenKind(t *testing.T) {
	p := &Provider{publicNet: "public", privateNet: "private"}
	for _, c := range []struct {
		name            string
		server          servers.Server
		private, public string
	}{
		{"Rackspace public and ServiceNet", servers.Server{Addresses: map[string]any{
			"public":  []any{map[string]any{"addr": "2001:db8::5", "version": 6}, addr("198.51.100.7", "")},
			"private": []any{addr("10.176.3.4", "")},
		}}, "10.176.3.4", "198.51.100.7"},
		{"OpenStack tenant network with a floating IP", servers.Server{Addresses: map[string]any{
			"tenant-net": []any{addr("192.168.0.12", "fixed"), addr("203.0.113.9", "floating")},
		}}, "192.168.0.12", "203.0.113.9"},
		{"accessIPv4 wins for the public address", servers.Server{AccessIPv4: "203.0.113.50", Addresses: map[string]any{
			"public": []any{addr("198.51.100.7", "")}, "private": []any{addr("10.0.0.4", "")},
		}}, "10.0.0.4", "203.0.113.50"},
		{"a provider network with only a routable fixed address", servers.Server{Addresses: map[string]any{
			"ext": []any{addr("203.0.113.77", "fixed")},
		}}, "", "203.0.113.77"},
		{"no addresses yet", servers.Server{}, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			private, public := p.addresses(&c.server)
			if private != c.private || public != c.public {
				t.Fatalf("addresses = %q, %q; want %q, %q", private, public, c.private, c.public)
			}
		})
	}
}

func TestHostKeysComeFromTheLastCompleteCloudInitBlock(t *testing.T) {
	const ed = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEbOa5OwLq0dEbdS4kXlR4yF6D6yPmr7fFVxnRNnN3Y5"
	const ed2 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
	for _, c := range []struct {
		name, console string
		want          []string
	}{
		{"nothing printed yet", "[    0.0] Linux version 6.1\n", []string{}},
		{"a plain block", "boot\n-----BEGIN SSH HOST KEY KEYS-----\n" + ed + " root@web-1\n-----END SSH HOST KEY KEYS-----\n", []string{ed}},
		{"lines with an ec2: prefix", "ec2: -----BEGIN SSH HOST KEY KEYS-----\nec2: " + ed + " root@web-1\nec2: -----END SSH HOST KEY KEYS-----\n", []string{ed}},
		{"a block still being printed", "-----BEGIN SSH HOST KEY KEYS-----\n" + ed + "\n", []string{}},
		{"after a rebuild the last block wins", "-----BEGIN SSH HOST KEY KEYS-----\n" + ed + "\n-----END SSH HOST KEY KEYS-----\n" +
			"-----BEGIN SSH HOST KEY KEYS-----\n" + ed2 + "\n-----END SSH HOST KEY KEYS-----\n", []string{ed2}},
		{"garbage inside the block is skipped", "-----BEGIN SSH HOST KEY KEYS-----\nssh-rsa notbase64!!\n" + ed + "\n-----END SSH HOST KEY KEYS-----\n", []string{ed}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := parseHostKeys(c.console); !slices.Equal(got, c.want) || got == nil {
				t.Fatalf("parseHostKeys = %q, want %q (never nil)", got, c.want)
			}
		})
	}
}

func TestRetryAfterReadsSecondsDatesAndTheBody(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name, header, body string
		want               time.Duration
	}{
		{"seconds in the header", "7", "", 7 * time.Second},
		{"an HTTP date in the header", "Sat, 01 Mar 2025 12:00:30 GMT", "", 30 * time.Second},
		{"seconds in Nova's overLimit body", "", "12", 12 * time.Second},
		{"an ISO time in Rackspace's body", "", "2025-03-01T12:01:00Z", time.Minute},
		{"a date in the past", "Sat, 01 Mar 2025 11:00:00 GMT", "", 0},
		{"nothing", "", "", 0},
		{"garbage", "soon", "", 0},
	} {
		if got := retryAfter(c.header, c.body, now); got != c.want {
			t.Errorf("%s: retryAfter(%q, %q) = %v, want %v", c.name, c.header, c.body, got, c.want)
		}
	}
}

func TestHTTPStatusesMapToCodes(t *testing.T) {
	for _, c := range []struct {
		status  int
		message string
		want    provider.Code
	}{
		{404, "Instance x could not be found.", provider.NotFound},
		{429, "Too many requests", provider.Throttled},
		{413, "This request was rate-limited.", provider.Throttled},
		{413, "Quota exceeded for instances: Requested 3, but already used 9 of 10", provider.QuotaExceeded},
		{403, "Quota exceeded for cores", provider.QuotaExceeded},
		{403, "Policy doesn't allow os_compute_api:servers:create to be performed.", provider.PermissionDenied},
		{401, "The request you have made requires authentication.", provider.PermissionDenied},
		{400, "Invalid key_name provided.", provider.InvalidArgument},
		{409, "Key pair 'x' already exists.", provider.AlreadyExists},
		{500, "Unexpected API Error.", provider.Unavailable},
		{503, "", provider.Unavailable},
		{501, "Not implemented", provider.InvalidArgument},
	} {
		if got := codeOfStatus(c.status, c.message); got != c.want {
			t.Errorf("HTTP %d %q maps to %v, want %v", c.status, c.message, got, c.want)
		}
	}
}

func TestServerNamesAreDNSSafeAndNarrowListing(t *testing.T) {
	tags := map[string]string{provider.TagFarm: "Web Shop!", provider.TagRole: "app_64"}
	if got := namePrefix(tags); got != "web-shop--app-64-" {
		t.Fatalf("namePrefix = %q", got)
	}
	name := serverName(tags, "token-1")
	if len(name) != len("web-shop--app-64-")+tokenHashLen || name != serverName(tags, "token-1") || name == serverName(tags, "token-2") {
		t.Fatalf("serverName = %q: want the prefix and a stable hash of the token", name)
	}
	if got := namePrefix(map[string]string{provider.TagRole: "app"}); got != "" {
		t.Fatalf("namePrefix without a farm = %q, want empty (no narrowing)", got)
	}
	if got := serverName(nil, "t"); got[:9] != "farmhand-" {
		t.Fatalf("serverName without tags = %q", got)
	}
}

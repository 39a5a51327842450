package ec2

import (
	"slices"
	"strings"
	"testing"

	"github.com/farmhand/farmhand/provider"
)

const (
	edKey  = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGb1KUDOxcD7AMiPc6ta3OkqP8xXJbLk5DzWrB7tiwDm"
	edKey2 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBYSwAAnC7xZUSvNBsxU8E7V5GivMXnTs3m52pa4L2Zm"
)

func TestParseHostKeysFromConsole(t *testing.T) {
	for _, c := range []struct {
		name    string
		console string
		want    []string
	}{
		{"no block yet gives no keys", "[    0.0] Linux version\r\nCloud-init v. 23.1 running 'init'\r\n", []string{}},
		{"an unfinished block gives no keys", "-----BEGIN SSH HOST KEY KEYS-----\r\n" + edKey + " root@ip\r\n", []string{}},
		{"a block with CRLF line ends", "boot\r\n-----BEGIN SSH HOST KEY KEYS-----\r\n" + edKey + " root@ip-10-0-0-1\r\n-----END SSH HOST KEY KEYS-----\r\nmore\r\n", []string{edKey}},
		{"lines with a syslog prefix", "<14>Jan  1 ec2: -----BEGIN SSH HOST KEY KEYS-----\n<14>Jan  1 ec2: " + edKey + " root@h\n<14>Jan  1 ec2: -----END SSH HOST KEY KEYS-----\n", []string{edKey}},
		{"the last block wins after a reboot", "-----BEGIN SSH HOST KEY KEYS-----\n" + edKey + "\n-----END SSH HOST KEY KEYS-----\nreboot\n-----BEGIN SSH HOST KEY KEYS-----\n" + edKey2 + "\n-----END SSH HOST KEY KEYS-----\n", []string{edKey2}},
		{"garbage lines in a block are skipped", "-----BEGIN SSH HOST KEY KEYS-----\nssh-rsa not-base64 root@h\nhello\n" + edKey + "\n-----END SSH HOST KEY KEYS-----\n", []string{edKey}},
		{"fingerprints are not keys", "-----BEGIN SSH HOST KEY FINGERPRINTS-----\n256 SHA256:abc root@h (ED25519)\n-----END SSH HOST KEY FINGERPRINTS-----\n", []string{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := parseHostKeys(c.console)
			if got == nil || !slices.Equal(got, c.want) {
				t.Fatalf("parseHostKeys = %q, want %q", got, c.want)
			}
		})
	}
}

func TestCodeOfAPIErrorCodes(t *testing.T) {
	for code, want := range map[string]provider.Code{
		"InsufficientInstanceCapacity":         provider.InsufficientCapacity,
		"Server.InsufficientCapacity":          provider.InsufficientCapacity,
		"InstanceLimitExceeded":                provider.QuotaExceeded,
		"VcpuLimitExceeded":                    provider.QuotaExceeded,
		"RequestLimitExceeded":                 provider.Throttled,
		"Client.RequestLimitExceeded":          provider.Throttled,
		"Throttling":                           provider.Throttled,
		"InvalidInstanceID.NotFound":           provider.NotFound,
		"InvalidInstanceID.Malformed":          provider.NotFound,
		"InvalidSnapshot.NotFound":             provider.NotFound,
		"LoadBalancerNotFound":                 provider.NotFound,
		"UnauthorizedOperation":                provider.PermissionDenied,
		"AuthFailure":                          provider.PermissionDenied,
		"InvalidParameterValue":                provider.InvalidArgument,
		"InvalidAMIID.NotFound":                provider.InvalidArgument,
		"InvalidAMIID.Malformed":               provider.InvalidArgument,
		"IdempotentParameterMismatch":          provider.AlreadyExists,
		"InternalError":                        provider.Unavailable,
		"Unavailable":                          provider.Unavailable,
		"SomethingAWSAddsNextYear":             provider.Unknown,
		"IncorrectInstanceState":               provider.InvalidArgument,
		"InsufficientReservedInstanceCapacity": provider.InsufficientCapacity,
	} {
		if got := codeOf(code); got != want {
			t.Errorf("codeOf(%q) = %v, want %v", code, got, want)
		}
	}
}

func TestClientTokenKeepsWhatEC2AcceptsAndHashesTheRest(t *testing.T) {
	for _, c := range []struct {
		name, token string
		kept        bool
	}{
		{"a short token is kept", "shop-app-3-17", true},
		{"64 characters are kept", strings.Repeat("a", 64), true},
		{"65 characters are hashed", strings.Repeat("a", 65), false},
		{"a space is hashed", "shop app", false},
		{"non-ASCII is hashed", "café-1", false},
	} {
		got := clientToken(c.token)
		if kept := got == c.token; kept != c.kept || len(got) > 64 {
			t.Errorf("%s: clientToken(%q) = %q", c.name, c.token, got)
		}
	}
	if clientToken(strings.Repeat("a", 65)) == clientToken(strings.Repeat("a", 66)) {
		t.Error("two long tokens hash to the same ClientToken")
	}
}

func TestQuotedIDsInEC2Messages(t *testing.T) {
	for msg, want := range map[string][]string{
		"The instance ID 'i-0aaaaaaaaaaaaaaa1' does not exist":                     {"i-0aaaaaaaaaaaaaaa1"},
		"The instance IDs 'i-0aaaaaaaaaaaaaaa1, i-0bbbbbbbbbbbbbbb2' do not exist": {"i-0aaaaaaaaaaaaaaa1", "i-0bbbbbbbbbbbbbbb2"},
		`Invalid id: "web-1" (expecting "i-...")`:                                  {"web-1", "i-..."},
		"Injected failure": nil,
	} {
		if got := quotedIDs(msg); !slices.Equal(got, want) {
			t.Errorf("quotedIDs(%q) = %q, want %q", msg, got, want)
		}
	}
}

func TestTagFilterValuesAreEscaped(t *testing.T) {
	if got := escapeFilter(`a*b?c\d`); got != `a\*b\?c\\d` {
		t.Fatalf("escapeFilter = %q", got)
	}
}

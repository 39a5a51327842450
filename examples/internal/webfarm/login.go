package webfarm

import (
	"fmt"
	"os"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/farmhand/farmhand/dnsupdate"
	"github.com/farmhand/farmhand/scripting"
)

// DNSKind is a place for the farm's names that a cloud offers beyond the
// ones every example has (in memory, and rfc2136:HOST:PORT with
// -tsig-key), chosen with -dns NAME:ARG.
type DNSKind struct {
	// Name is what -dns starts with: "route53".
	Name string
	// Arg names what follows the colon, for messages: "HOSTED_ZONE_ID".
	Arg string
	// New returns the updater for arg. The program calls it after the
	// cloud's Check.
	New func(arg string) (dnsupdate.Updater, error)
}

// dnsUsage is the -dns flag's usage with kinds.
func dnsUsage(kinds []DNSKind) string {
	var where []string
	for _, k := range kinds {
		where = append(where, k.Name+":"+k.Arg)
	}
	where = append(where, "rfc2136:HOST:PORT with -tsig-key")
	return "where the names live: " + strings.Join(where, ", or ") + " (default: in memory, printed only)"
}

// dnsUpdater builds the updater -dns names; mem is set when the names are
// only kept in memory.
func dnsUpdater(c *settings, kinds []DNSKind) (u dnsupdate.Updater, mem *dnsupdate.Memory, err error) {
	kind, arg, _ := strings.Cut(c.dns, ":")
	switch kind {
	case "":
		mem = dnsupdate.NewMemory(nil)
		return mem, mem, nil
	case "rfc2136":
		if c.tsigKeyFile == "" {
			return nil, nil, fmt.Errorf("-dns %s needs -tsig-key FILE (tsig-keygen's output)", c.dns)
		}
		text, err := os.ReadFile(c.tsigKeyFile)
		if err != nil {
			return nil, nil, fmt.Errorf("-tsig-key: %v", err)
		}
		key, err := dnsupdate.ParseBINDKey(string(text))
		if err != nil {
			return nil, nil, fmt.Errorf("-tsig-key %s: %v", c.tsigKeyFile, err)
		}
		r, err := dnsupdate.NewRFC2136(dnsupdate.RFC2136Options{Server: arg, Zone: c.zone, Key: &key})
		if err != nil {
			return nil, nil, fmt.Errorf("-dns %s: %v", c.dns, err)
		}
		return r, nil, nil
	}
	var want []string
	for _, k := range kinds {
		if k.Name == kind {
			u, err := k.New(arg)
			if err != nil {
				return nil, nil, fmt.Errorf("-dns %s: %v", c.dns, err)
			}
			return u, nil, nil
		}
		want = append(want, k.Name+":"+k.Arg)
	}
	want = append(want, "rfc2136:HOST:PORT")
	return nil, nil, fmt.Errorf("-dns %q: want %s", c.dns, strings.Join(want, " or "))
}

// loginKey reads the farm's SSH key from path, or makes one for this run
// with the comment "farmhand-NAME". note says which, without the secret.
func loginKey(path, name string) (key *scripting.KeyPair, note string, err error) {
	if path == "" {
		key, err := scripting.GenerateKey("farmhand-" + name)
		if err != nil {
			return nil, "", err
		}
		return key, "SSH key made for this run (use -ssh-key to keep access to the servers): " + key.AuthorizedKey, nil
	}
	pemBytes, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("-ssh-key: %v", err)
	}
	signer, err := scripting.ParsePrivateKey(pemBytes)
	if err != nil {
		return nil, "", fmt.Errorf("-ssh-key %s: %v", path, err)
	}
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey())))
	return &scripting.KeyPair{Signer: signer, AuthorizedKey: line, PrivateKeyPEM: pemBytes}, "SSH key " + path, nil
}

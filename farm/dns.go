package farm

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/farmhand/farmhand/dnsupdate"
)

// DNSName is a DNS name a role keeps pointing at its servers: all of them
// (a round-robin name for app servers) or only the master of a database or
// NFS role. The farm rebuilds it through [Options.DNS] whenever a server
// enters service, leaves it, is about to be terminated, changes its
// addresses, or a new master is promoted.
type DNSName struct {
	// Name is the fully qualified name, such as "int-app64.example.com";
	// the trailing dot is optional and case does not matter. A name and
	// type belong to one role only.
	Name string `yaml:"name"`
	// Type is "A" (the default) for IPv4 addresses or "AAAA" for IPv6.
	// Servers without an address of that family are left out.
	Type string `yaml:"type,omitempty"`
	// Address is "private" (the default: the servers' internal IPs, for
	// names the farm's own servers use) or "public" (their external IPs).
	Address string `yaml:"address,omitempty"`
	// Select is "all" (the default: every server of the role in service)
	// or "master" (only the role's master; the role needs a Database or
	// NFS behaviour).
	Select string `yaml:"select,omitempty"`
	// TTL is the records' time to live; 0 means dnsupdate.DefaultTTL
	// (60 s). Keep it short for names that move: resolvers follow a
	// failover only once their cached answer expires.
	TTL time.Duration `yaml:"ttl,omitempty"`
}

// The values of DNSName.Address and DNSName.Select.
const (
	DNSPrivate      = "private"
	DNSPublic       = "public"
	DNSSelectAll    = "all"
	DNSSelectMaster = "master"
)

// DNSVerify asks the farm to check master moves at the authoritative
// servers before it announces them (see [Options.DNSVerify]).
type DNSVerify struct {
	// Servers are the zone's authoritative servers as "host:port"; every
	// one must serve the new address before the move counts as done.
	// Required.
	Servers []string
	// Timeout bounds the wait; 0 means dnsupdate.DefaultVerifyTimeout.
	Timeout time.Duration
	// Interval is the pause between two rounds of queries; 0 means
	// dnsupdate.DefaultVerifyInterval.
	Interval time.Duration
}

// withDefaults returns n with its zero fields set and its name and type in
// canonical form. Call it on validated names only.
func (n DNSName) withDefaults() DNSName {
	if c, err := dnsupdate.CanonicalName(n.Name); err == nil {
		n.Name = c
	}
	n.Type = strings.ToUpper(n.Type)
	if n.Type == "" {
		n.Type = dnsupdate.TypeA
	}
	if n.Address == "" {
		n.Address = DNSPrivate
	}
	if n.Select == "" {
		n.Select = DNSSelectAll
	}
	if n.TTL == 0 {
		n.TTL = dnsupdate.DefaultTTL
	}
	return n
}

// dnsKey identifies a record set: canonical name and type.
func dnsKey(name, typ string) string { return name + " " + typ }

// dnsTarget is a declared name with its defaults applied, and its role.
type dnsTarget struct {
	role string
	DNSName
}

// dnsTargets lists the spec's names in spec order.
func dnsTargets(s Spec) []dnsTarget {
	var out []dnsTarget
	for _, r := range s.Roles {
		for _, n := range r.DNS {
			out = append(out, dnsTarget{role: r.Name, DNSName: n.withDefaults()})
		}
	}
	return out
}

// dnsWant is the set one name should hold now.
type dnsWant struct {
	target dnsTarget
	set    dnsupdate.RecordSet
	// keep leaves the name as it is: a master name while its role has no
	// master. Deleting it would make resolvers cache "no such name" for
	// the zone's negative TTL, longer than the failover takes; the stale
	// address is replaced when the next master is set.
	keep bool
}

// desiredDNS computes what every declared name should hold, given the
// farm's servers. It is a pure function. A name of select "all" holds the
// addresses of its role's servers in service (StateRunning; a server
// being terminated is PendingTerminate and drops out); one of select
// "master" holds the master's, or is kept as it is while there is no
// master, except when the farm terminates: then every name without
// servers is deleted (an empty set).
func desiredDNS(targets []dnsTarget, servers []Server, terminating bool) []dnsWant {
	out := make([]dnsWant, 0, len(targets))
	for _, t := range targets {
		w := dnsWant{target: t, set: dnsupdate.RecordSet{Name: t.Name, Type: t.Type, TTL: t.TTL}}
		masters := 0
		for _, s := range servers {
			if s.Role != t.role || s.State != StateRunning {
				continue
			}
			if t.Select == DNSSelectMaster {
				if !s.Master {
					continue
				}
				masters++
			}
			if ip, ok := serverAddress(s, t.Address, t.Type); ok {
				w.set.Values = append(w.set.Values, ip)
			}
		}
		sort.Strings(w.set.Values)
		w.set.Values = slices.Compact(w.set.Values)
		if t.Select == DNSSelectMaster && masters == 0 && !terminating {
			w.keep = true
		}
		out = append(out, w)
	}
	return out
}

// serverAddress returns the server's address of the kind ("private" or
// "public") if it is of the record type's family.
func serverAddress(s Server, kind, typ string) (string, bool) {
	raw := s.PrivateIP
	if kind == DNSPublic {
		raw = s.PublicIP
	}
	ip, err := netip.ParseAddr(raw)
	if err != nil {
		return "", false
	}
	switch {
	case typ == dnsupdate.TypeA && ip.Is4():
	case typ == dnsupdate.TypeA && ip.Is4In6():
		ip = ip.Unmap()
	case typ == dnsupdate.TypeAAAA && ip.Is6() && !ip.Is4In6():
	default:
		return "", false
	}
	return ip.String(), true
}

// dnsSpec validates the roles' DNS names and their database and NFS
// behaviours. Called once from validator.spec.
func (v *validator) dnsSpec(s Spec) {
	owner := map[string]string{} // dnsKey → path of its first declaration
	for i, r := range s.Roles {
		path := fmt.Sprintf("roles[%d]", i)
		name := r.Name
		if name == "" {
			name = path
		}
		masterNames := 0
		for j, n := range r.DNS {
			np := fmt.Sprintf("%s.dns[%d]", path, j)
			canon, ok := v.dnsName(np, name, n)
			if !ok {
				continue
			}
			typ := strings.ToUpper(n.Type)
			if typ == "" {
				typ = dnsupdate.TypeA
			}
			k := dnsKey(canon, typ)
			if first, dup := owner[k]; dup {
				v.add(np+".name", name, "dns name %q (%s) is declared twice (also %s)", n.Name, typ, first)
			} else {
				owner[k] = np
			}
			if n.Select == DNSSelectMaster {
				masterNames++
				if r.Database == nil && r.NFS == nil {
					v.add(np+".select", name, "dns name %q: select %q needs a database or nfs role", n.Name, n.Select)
				}
			}
		}
		v.primarySpec(path, name, r, masterNames)
		v.backupSpec(path, name, r)
	}
}

// dnsName checks one declared name and returns its canonical form.
func (v *validator) dnsName(path, role string, n DNSName) (string, bool) {
	canon, err := dnsupdate.CanonicalName(n.Name)
	ok := true
	if err != nil {
		v.add(path+".name", role, "dns name %q is not a fully qualified domain name", n.Name)
		ok = false
	}
	label := n.Name
	switch strings.ToUpper(n.Type) {
	case "", dnsupdate.TypeA, dnsupdate.TypeAAAA:
	default:
		v.add(path+".type", role, "dns name %q: type %q is not %q or %q", label, n.Type, dnsupdate.TypeA, dnsupdate.TypeAAAA)
		ok = false
	}
	switch n.Address {
	case "", DNSPrivate, DNSPublic:
	default:
		v.add(path+".address", role, "dns name %q: address %q is not %q or %q", label, n.Address, DNSPrivate, DNSPublic)
	}
	switch n.Select {
	case "", DNSSelectAll, DNSSelectMaster:
	default:
		v.add(path+".select", role, "dns name %q: select %q is not %q or %q", label, n.Select, DNSSelectAll, DNSSelectMaster)
	}
	switch {
	case n.TTL < 0:
		v.add(path+".ttl", role, "dns name %q: ttl %s is negative", label, n.TTL)
	case n.TTL%time.Second != 0:
		v.add(path+".ttl", role, "dns name %q: ttl %s is not a whole number of seconds", label, n.TTL)
	case n.TTL > dnsupdate.MaxTTL:
		v.add(path+".ttl", role, "dns name %q: ttl %s is above the DNS maximum %s", label, n.TTL, dnsupdate.MaxTTL)
	}
	return canon, ok
}

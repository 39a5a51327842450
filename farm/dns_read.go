package farm

import (
	"context"
	"fmt"
	"slices"

	"github.com/miekg/dns"

	"github.com/farmhand/farmhand/dnsupdate"
)

// dnsLookup is what an updater that knows its records offers
// (dnsupdate.Memory does).
type dnsLookup interface {
	Lookup(name, typ string) (dnsupdate.RecordSet, bool)
}

// currentValues reads what the DNS holds for a name now: from the updater
// when it can tell, else from the first server of Options.DNSVerify. ok is
// false when neither is possible or the read failed.
func (d *dnsControl) currentValues(ctx context.Context, t dnsTarget) (values []string, ok bool) {
	if l, isLookup := d.upd.(dnsLookup); isLookup {
		rs, found := l.Lookup(t.Name, t.Type)
		if !found {
			return nil, true
		}
		return rs.Values, true
	}
	if d.verify == nil {
		return nil, false
	}
	qctx, cancel := withTimeout(ctx, d.f.clk, dnsupdate.DefaultVerifyQuery)
	defer cancel()
	vals, err := queryValues(qctx, d.verify.Servers[0], t.Name, t.Type)
	if err != nil {
		d.f.log.Warn("farm: cannot read dns name", "name", t.Name, "server", d.verify.Servers[0], "err", err)
		return nil, false
	}
	return vals, true
}

// queryValues asks server over TCP, without recursion, for the addresses
// of name; an absent name or set gives none.
func queryValues(ctx context.Context, server, name, typ string) ([]string, error) {
	qtype := dns.TypeA
	if typ == dnsupdate.TypeAAAA {
		qtype = dns.TypeAAAA
	}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.RecursionDesired = false
	c := &dns.Client{Net: "tcp"}
	r, _, err := c.ExchangeContext(ctx, m, server)
	if err != nil {
		return nil, err
	}
	switch r.Rcode {
	case dns.RcodeSuccess, dns.RcodeNameError:
	default:
		return nil, fmt.Errorf("%s %s: %s", name, typ, dns.RcodeToString[r.Rcode])
	}
	var out []string
	for _, rr := range r.Answer {
		switch v := rr.(type) {
		case *dns.A:
			out = append(out, v.A.String())
		case *dns.AAAA:
			out = append(out, v.AAAA.String())
		}
	}
	slices.Sort(out)
	return out, nil
}

// masterFromDNS returns the server of the role that the role's first
// master name points at, if it can serve: the master a controller that
// takes over a running farm adopts, instead of electing another. It also
// remembers the values read as the farm's own, so that the first move of
// the name is a compare-and-swap on them ("only if absent" when the name
// does not exist).
func (d *dnsControl) masterFromDNS(ctx context.Context, role string, servers []Server) (string, bool) {
	targets := d.masterTargets(role)
	if d.upd == nil || len(targets) == 0 {
		return "", false
	}
	t := targets[0]
	d.recMu.Lock()
	st := d.records[dnsKey(t.Name, t.Type)]
	known := st.known
	d.recMu.Unlock()
	if known {
		return "", false // the farm wrote it itself: nothing to adopt
	}
	vals, ok := d.currentValues(ctx, t)
	if !ok {
		return "", false
	}
	d.recMu.Lock()
	if !st.known {
		st.known, st.values = true, slices.Clone(vals)
	}
	d.recMu.Unlock()
	for _, s := range servers {
		if ip, ok := serverAddress(s, t.Address, t.Type); ok && masterUsable(s) && slices.Contains(vals, ip) {
			return s.ID, true
		}
	}
	return "", false
}

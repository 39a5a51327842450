package metrics

import (
	"context"

	"github.com/farmhand/farmhand/dnsupdate"
)

// DNS returns u with every update counted by c, by operation ("set",
// "set_if", "delete") and result ("ok", or the error's kind). The result
// offers compare-and-swap (dnsupdate.Swapper) exactly when u does. Give it
// to farm.Options.DNS in place of u.
func (c *Collector) DNS(u dnsupdate.Updater) dnsupdate.Updater {
	d := &countedDNS{u: u, c: c}
	if _, ok := u.(dnsupdate.Swapper); ok {
		return countedSwapper{d}
	}
	return d
}

type countedDNS struct {
	u dnsupdate.Updater
	c *Collector
}

func (d *countedDNS) Set(ctx context.Context, rs dnsupdate.RecordSet) error {
	err := d.u.Set(ctx, rs)
	d.c.dnsUpdate("set", err)
	return err
}

func (d *countedDNS) Delete(ctx context.Context, name, typ string) error {
	err := d.u.Delete(ctx, name, typ)
	d.c.dnsUpdate("delete", err)
	return err
}

type countedSwapper struct{ *countedDNS }

func (d countedSwapper) SetIf(ctx context.Context, rs dnsupdate.RecordSet, prev []string) error {
	err := d.u.(dnsupdate.Swapper).SetIf(ctx, rs, prev)
	d.c.dnsUpdate("set_if", err)
	return err
}

var (
	_ dnsupdate.Updater = (*countedDNS)(nil)
	_ dnsupdate.Swapper = countedSwapper{}
)

package dnsupdate

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkRFC2136SetAndVerifyAtBIND measures one failover's DNS step
// against a real BIND on loopback: a compare-and-swap of an A record, then
// verification that BIND serves it at the new serial.
func BenchmarkRFC2136SetAndVerifyAtBIND(b *testing.B) {
	s := bind(b)
	u, err := NewRFC2136(RFC2136Options{Server: s.Addr, Zone: s.Zone, Key: keyOf(s.Keys[0])})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := "bench.farm.test"
	if err := u.Delete(ctx, name, "A"); err != nil {
		b.Fatal(err)
	}
	prev := []string(nil)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		soa, err := ReadSOA(ctx, s.Addr, name)
		if err != nil {
			b.Fatal(err)
		}
		ip := fmt.Sprintf("10.%d.%d.%d", (i>>16)&255, (i>>8)&255, i&255)
		if err := u.SetIf(ctx, RecordSet{Name: name, Type: "A", TTL: 30 * time.Second, Values: []string{ip}}, prev); err != nil {
			b.Fatal(err)
		}
		if err := Verify(ctx, VerifyOptions{Servers: []string{s.Addr}, Name: name, Type: "A", Want: []string{ip}, MinSerial: soa.Serial + 1, Interval: 5 * time.Millisecond}); err != nil {
			b.Fatal(err)
		}
		prev = []string{ip}
	}
}

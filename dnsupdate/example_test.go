package dnsupdate_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/farmhand/farmhand/dnsupdate"
)

// A farm keeps "db" pointing at its database master with an Updater; Memory
// is the one to use in tests and in the quick start.
func Example() {
	ctx := context.Background()
	var u dnsupdate.Updater = dnsupdate.NewMemory(nil)

	// The app servers' internal name holds every running app server.
	err := u.Set(ctx, dnsupdate.RecordSet{Name: "int-app64.example.test", Type: "A", TTL: 30 * time.Second,
		Values: []string{"10.0.1.12", "10.0.1.11"}})
	if err != nil {
		log.Fatal(err)
	}
	// The database name holds the master only.
	if err := u.Set(ctx, dnsupdate.RecordSet{Name: "db.example.test", Type: "A", Values: []string{"10.0.2.5"}}); err != nil {
		log.Fatal(err)
	}
	for _, rs := range u.(*dnsupdate.Memory).Records() {
		fmt.Println(rs)
	}
	// Output:
	// db.example.test. 60 A 10.0.2.5
	// int-app64.example.test. 30 A 10.0.1.11,10.0.1.12
}

// SetIf moves a name only if it still points where the caller last saw it,
// so a stale controller cannot move the database name back.
func ExampleSwapper() {
	ctx := context.Background()
	m := dnsupdate.NewMemory(nil)
	db := func(ip string) dnsupdate.RecordSet {
		return dnsupdate.RecordSet{Name: "db.example.test", Type: "A", Values: []string{ip}}
	}
	_ = m.Set(ctx, db("10.0.2.5"))

	var s dnsupdate.Swapper = m
	// The new controller promotes the replica 10.0.2.6.
	fmt.Println("new controller:", s.SetIf(ctx, db("10.0.2.6"), []string{"10.0.2.5"}))
	// The old controller still believes 10.0.2.5 is master and tries to
	// move the name to its own choice.
	err := s.SetIf(ctx, db("10.0.2.7"), []string{"10.0.2.5"})
	fmt.Println("old controller refused:", errors.Is(err, dnsupdate.ErrPrecondition))

	rs, _ := m.Lookup("db.example.test", "A")
	fmt.Println("db is", rs.Values)
	for _, c := range m.History() {
		fmt.Println(c.Op, c.Prev, "->", c.Set.Values)
	}
	// Output:
	// new controller: <nil>
	// old controller refused: true
	// db is [10.0.2.6]
	// set [] -> [10.0.2.5]
	// set [10.0.2.5] -> [10.0.2.6]
}

// Normalize is the check every updater runs before sending anything.
func ExampleRecordSet_Normalize() {
	rs, err := dnsupdate.RecordSet{Name: "NFS.Example.Test", Type: "aaaa", Values: []string{"FD00:0::7", "fd00::7"}}.Normalize()
	fmt.Println(rs, err)

	_, err = dnsupdate.RecordSet{Name: "nfs.example.test", Type: "A", Values: []string{"10.0.0.300"}}.Normalize()
	fmt.Println(errors.Is(err, dnsupdate.ErrInvalid), err)
	// Output:
	// nfs.example.test. 60 AAAA fd00::7 <nil>
	// true dnsupdate: validate nfs.example.test. A: invalid record set: value "10.0.0.300": not an IPv4 address
}

// An RFC 2136 updater signs with a key made by tsig-keygen, then the change
// is verified at the zone's authoritative servers.
func ExampleNewRFC2136() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	keyText, err := os.ReadFile("/etc/bind/farm.key") // tsig-keygen -a hmac-sha256 farm-key
	if err != nil {
		log.Fatal(err)
	}
	key, err := dnsupdate.ParseBINDKey(string(keyText))
	if err != nil {
		log.Fatal(err)
	}
	u, err := dnsupdate.NewRFC2136(dnsupdate.RFC2136Options{Server: "ns1.example.com:53", Zone: "example.com", Key: &key})
	if err != nil {
		log.Fatal(err)
	}
	before, err := dnsupdate.ReadSOA(ctx, "ns1.example.com:53", "db.example.com")
	if err != nil {
		log.Fatal(err)
	}
	rs := dnsupdate.RecordSet{Name: "db.example.com", Type: "A", TTL: 30 * time.Second, Values: []string{"10.0.2.6"}}
	if err := u.SetIf(ctx, rs, []string{"10.0.2.5"}); err != nil {
		log.Fatal(err) // errors.Is(err, dnsupdate.ErrPrecondition): someone else moved it
	}
	err = dnsupdate.Verify(ctx, dnsupdate.VerifyOptions{
		Servers: []string{"ns1.example.com:53", "ns2.example.com:53"},
		Name:    rs.Name, Type: rs.Type, Want: rs.Values, MinSerial: before.Serial + 1,
	})
	if err != nil {
		log.Fatal(err) // a *LagError names the server that lags
	}
}

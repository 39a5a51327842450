package fake_test

import (
	"fmt"
	"testing"

	"github.com/farmhand/farmhand/provider"
	"github.com/farmhand/farmhand/provider/fake"
)

// BenchmarkSSHExec measures one command over an open connection: a new
// session, exec "true", exit status.
func BenchmarkSSHExec(b *testing.B) {
	c := newSSHCloud(b)
	client, err := c.dial(c.server.ID, c.signer)
	if err != nil {
		b.Fatal(err)
	}
	defer client.Close()
	b.ResetTimer()
	for b.Loop() {
		sess, err := client.NewSession()
		if err != nil {
			b.Fatal(err)
		}
		if err := sess.Run("true"); err != nil {
			b.Fatal(err)
		}
		sess.Close()
	}
}

// BenchmarkListAll measures listing a farm of 1000 servers in pages of 50.
func BenchmarkListAll(b *testing.B) {
	p := fake.New(fake.Options{})
	defer p.Close()
	s := spec("t", 1000)
	if _, err := p.Launch(ctx, s); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		all, err := provider.ListAll(ctx, p, map[string]string{provider.TagFarm: "shop"})
		if err != nil || len(all) != 1000 {
			b.Fatal(fmt.Sprint(len(all), err))
		}
	}
}

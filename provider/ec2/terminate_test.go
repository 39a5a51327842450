package ec2_test

import (
	"context"
	"slices"
	"testing"

	"github.com/farmhand/farmhand/internal/ec2test"
	"github.com/farmhand/farmhand/provider"
)

func TestTerminateBatchesAThousandIDsPerCall(t *testing.T) {
	ctx := context.Background()
	p, srv := newProvider(t, nil)
	got, err := p.Launch(ctx, spec("many", 1001, ""))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Terminate(ctx, ids(got)...); err != nil {
		t.Fatalf("Terminate of 1001: %v", err)
	}
	calls := srv.Calls("TerminateInstances")
	if len(calls) != 2 {
		t.Fatalf("%d TerminateInstances calls for 1001 IDs, want 2", len(calls))
	}
	if n := len(calls[0].Params) - 2; n != 1000 {
		t.Fatalf("first batch held %d IDs, want 1000", n)
	}
	if live := srv.Live(); len(live) != 0 {
		t.Fatalf("%d instances still live", len(live))
	}
}

func TestTerminateDropsIDsEC2DoesNotKnow(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name  string
		extra func(srv *ec2test.Server, gone string) []string
		calls int
		setup func(srv *ec2test.Server)
	}{
		{
			name:  "unknown IDs named by EC2 are dropped and the rest terminated in a second call",
			extra: func(*ec2test.Server, string) []string { return []string{"i-0fffffffffffffff0", "i-0eeeeeeeeeeeeeee0"} },
			calls: 2,
		},
		{
			name:  "a long-terminated instance EC2 forgot is dropped",
			extra: func(_ *ec2test.Server, gone string) []string { return []string{gone} },
			calls: 2,
		},
		{
			name:  "a malformed ID is dropped",
			extra: func(*ec2test.Server, string) []string { return []string{"not-an-id"} },
			calls: 2,
		},
		{
			name:  "a NotFound that names no ID falls back to one call per ID",
			extra: func(*ec2test.Server, string) []string { return nil },
			setup: func(srv *ec2test.Server) { srv.FailNext("TerminateInstances", 1, "InvalidInstanceID.NotFound") },
			calls: 1 + 3,
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, srv := newProvider(t, nil)
			gone, err := p.Launch(ctx, spec("gone", 1, ""))
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Terminate(ctx, gone[0].ID); err != nil {
				t.Fatal(err)
			}
			srv.Settle()
			srv.Purge()
			live, err := p.Launch(ctx, spec("live", 3, ""))
			if err != nil {
				t.Fatal(err)
			}
			if c.setup != nil {
				c.setup(srv)
			}
			srv.ResetCalls()
			todo := append(ids(live), c.extra(srv, gone[0].ID)...)
			if err := p.Terminate(ctx, todo...); err != nil {
				t.Fatalf("Terminate(%v): %v", todo, err)
			}
			if n := srv.Count("TerminateInstances"); n != c.calls {
				t.Errorf("%d TerminateInstances calls, want %d", n, c.calls)
			}
			if left := srv.Live(); len(left) != 0 {
				t.Fatalf("instances %v still live", instanceIDs(left))
			}
		})
	}
}

func TestTerminateTwiceAndOfNothingIsFine(t *testing.T) {
	ctx := context.Background()
	p, srv := newProvider(t, nil)
	got, err := p.Launch(ctx, spec("twice", 2, ""))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := p.Terminate(ctx, ids(got)...); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Terminate(ctx); err != nil {
		t.Fatal(err)
	}
	if n := srv.Count("TerminateInstances"); n != 2 {
		t.Fatalf("%d TerminateInstances calls, want 2 (none for an empty list)", n)
	}
	srv.Settle()
	s, err := p.Get(ctx, got[0].ID)
	if err != nil || s.State != provider.StateTerminated {
		t.Fatalf("Get of a terminated instance: %v, %v; want it listed as terminated", s.State, err)
	}
	list, err := provider.ListAll(ctx, p, map[string]string{provider.TagFarm: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(list, func(s provider.Server) bool { return s.State == provider.StateTerminated }) {
		t.Fatalf("terminated instances are not listed while EC2 keeps them: %v", ids(list))
	}
}

func TestStatesMapFromEC2(t *testing.T) {
	ctx := context.Background()
	p, srv := newProvider(t, nil)
	for _, c := range []struct {
		ec2  string
		want provider.State
	}{
		{"pending", provider.StatePending},
		{"running", provider.StateRunning},
		{"stopping", provider.StateStopping},
		{"stopped", provider.StateStopped},
		{"shutting-down", provider.StateTerminating},
		{"terminated", provider.StateTerminated},
	} {
		got, err := p.Launch(ctx, spec("state-"+c.ec2, 1, ""))
		if err != nil {
			t.Fatal(err)
		}
		srv.SetState(got[0].ID, c.ec2)
		s, err := p.Get(ctx, got[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if s.State != c.want {
			t.Errorf("EC2 state %s became %q, want %q", c.ec2, s.State, c.want)
		}
	}
}

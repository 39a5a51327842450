package providertest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/farmhand/farmhand/provider"
)

// Harness tells the conformance suite how to drive one driver.
type Harness struct {
	// New returns a fresh provider for one subtest, with a cloud that holds
	// no servers, and a settle function that moves the cloud's time on until
	// every pending server is running (for the fake: advance its clock; for
	// a test server speaking a cloud's wire format: flip the states it
	// reports). settle must be callable many times; nil means the cloud's
	// servers are running at once. New may use t.Cleanup to release what it
	// made. Required.
	New func(t *testing.T) (p provider.Provider, settle func())
	// Image and InstanceType are valid values for this driver. Image is
	// required.
	Image, InstanceType string
	// Zones are the zones to launch into; empty means p.Zones.
	Zones []string
	// UnknownID is a well-formed server ID the cloud does not know, for the
	// not-found cases. Empty means "i-0fffffffffffffff0".
	UnknownID string
	// PageSize is a List page size the driver honours, so that the paging
	// case can force several pages. 0 means 2.
	PageSize int
	// Timeout bounds each subtest's calls. 0 means 30 s.
	Timeout time.Duration
}

// RunConformanceTests runs the behaviours every driver must show as
// subtests of t. Subtests run one after another, each on a fresh provider
// from h.New.
func RunConformanceTests(t *testing.T, h Harness) {
	t.Helper()
	if h.New == nil || h.Image == "" {
		t.Fatal("providertest: Harness.New and Harness.Image are required")
	}
	if h.UnknownID == "" {
		h.UnknownID = "i-0fffffffffffffff0"
	}
	if h.PageSize <= 0 {
		h.PageSize = 2
	}
	if h.Timeout <= 0 {
		h.Timeout = 30 * time.Second
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, settle := h.New(t)
			if settle == nil {
				settle = func() {}
			}
			ctx, cancel := context.WithTimeout(context.Background(), h.Timeout)
			defer cancel()
			e := &env{t: t, ctx: ctx, p: p, settle: settle, h: h, farm: "conformance-" + fmt.Sprint(time.Now().UnixNano())}
			c.run(e)
		})
	}
}

// env is what one subtest works with.
type env struct {
	t      *testing.T
	ctx    context.Context
	p      provider.Provider
	settle func()
	h      Harness
	farm   string
	tokens int
}

// zones returns the zones to launch into.
func (e *env) zones() []string {
	if len(e.h.Zones) > 0 {
		return e.h.Zones
	}
	z, err := e.p.Zones(e.ctx)
	if err != nil {
		e.t.Fatalf("Zones: %v", err)
	}
	if len(z) == 0 {
		e.t.Fatal("Zones returned no zone")
	}
	return z
}

// spec returns a valid launch spec for this subtest's farm, with a new
// token.
func (e *env) spec(role string, count int) provider.LaunchSpec {
	e.tokens++
	return provider.LaunchSpec{
		Token:        fmt.Sprintf("%s-%s-%d", e.farm, role, e.tokens),
		Count:        count,
		Image:        e.h.Image,
		InstanceType: e.h.InstanceType,
		Zone:         e.zones()[0],
		Tags: map[string]string{
			provider.TagFarm: e.farm,
			provider.TagRole: role,
			provider.TagSlot: "0",
		},
		UserData: []byte("#!/bin/sh\necho conformance\n"),
	}
}

func (e *env) launch(spec provider.LaunchSpec) []provider.Server {
	e.t.Helper()
	spec.Tags[provider.TagToken] = spec.Token
	got, err := e.p.Launch(e.ctx, spec)
	if err != nil {
		e.t.Fatalf("Launch(token %q, count %d): %v", spec.Token, spec.Count, err)
	}
	return got
}

func (e *env) listAll(tags map[string]string) []provider.Server {
	e.t.Helper()
	all, err := provider.ListAll(e.ctx, e.p, tags)
	if err != nil {
		e.t.Fatalf("List(%v): %v", tags, err)
	}
	return all
}

func (e *env) get(id string) provider.Server {
	e.t.Helper()
	s, err := e.p.Get(e.ctx, id)
	if err != nil {
		e.t.Fatalf("Get(%s): %v", id, err)
	}
	return s
}

func (e *env) farmTags() map[string]string { return map[string]string{provider.TagFarm: e.farm} }

func ids(servers []provider.Server) []string {
	out := make([]string, len(servers))
	for i, s := range servers {
		out[i] = s.ID
	}
	slices.Sort(out)
	return out
}

// live returns the servers that are not gone.
func live(servers []provider.Server) []provider.Server {
	return slices.DeleteFunc(slices.Clone(servers), func(s provider.Server) bool { return s.State.Gone() })
}

// expectCode fails unless err carries code through errors.Is, CodeOf and
// errors.As.
func expectCode(t *testing.T, what string, err error, code provider.Code) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error, want %v", what, code)
	}
	if !errors.Is(err, code) {
		t.Fatalf("%s: error %q does not satisfy errors.Is(err, provider.%v)", what, err, code)
	}
	if got := provider.CodeOf(err); got != code {
		t.Fatalf("%s: CodeOf = %v, want %v (error %q)", what, got, code, err)
	}
	var pe *provider.Error
	if !errors.As(err, &pe) {
		t.Fatalf("%s: error %q is not a *provider.Error", what, err)
	}
}

package providertest_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/farmhand/farmhand/clock"
	"github.com/farmhand/farmhand/provider"
	"github.com/farmhand/farmhand/provider/fake"
	"github.com/farmhand/farmhand/provider/providertest"
)

// brokenEnv selects, in a child test process, which broken driver
// TestBrokenDriverChild runs the suite against.
const brokenEnv = "FARMHAND_PROVIDERTEST_BROKEN"

// broken wraps the fake cloud and breaks one promise of the contract.
type broken struct {
	*fake.Provider
	flaw string
}

func (b *broken) Launch(ctx context.Context, spec provider.LaunchSpec) ([]provider.Server, error) {
	switch b.flaw {
	case "launch ignores the token":
		spec.Token += time.Now().String()
	case "launch accepts an empty image":
		if spec.Image == "" {
			spec.Image = "default"
		}
	case "launch drops tags":
		spec.Tags = map[string]string{provider.TagFarm: spec.Tags[provider.TagFarm]}
	}
	return b.Provider.Launch(ctx, spec)
}

func (b *broken) List(ctx context.Context, opts provider.ListOptions) (provider.Page, error) {
	switch b.flaw {
	case "list ignores tags":
		opts.Tags = nil
	case "list repeats the first page":
		opts.PageToken = ""
		page, err := b.Provider.List(ctx, opts)
		if err == nil && page.NextPageToken != "" {
			page.NextPageToken = "again"
		}
		return page, err
	}
	return b.Provider.List(ctx, opts)
}

func (b *broken) Get(ctx context.Context, id string) (provider.Server, error) {
	s, err := b.Provider.Get(ctx, id)
	if b.flaw == "get returns an uncoded error" && err != nil {
		return s, errors.New("no such server")
	}
	return s, err
}

func (b *broken) Terminate(ctx context.Context, ids ...string) error {
	if b.flaw == "terminate of an unknown server fails" {
		for _, id := range ids {
			if _, err := b.Provider.Get(ctx, id); err != nil {
				return err
			}
		}
	}
	return b.Provider.Terminate(ctx, ids...)
}

func (b *broken) Reboot(ctx context.Context, id string) error {
	if b.flaw == "reboot of an unknown server succeeds" {
		return nil
	}
	return b.Provider.Reboot(ctx, id)
}

func harness(flaw string, settle bool) providertest.Harness {
	return providertest.Harness{
		New: func(t *testing.T) (provider.Provider, func()) {
			clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			p := fake.New(fake.Options{Clock: clk})
			t.Cleanup(func() { p.Close() })
			advance := func() { clk.Advance(fake.DefaultBootTime) }
			if !settle {
				advance = func() {}
			}
			return &broken{Provider: p, flaw: flaw}, advance
		},
		Image:        "img",
		InstanceType: "small",
		UnknownID:    "i-999999",
	}
}

func TestTheFakeWrappedUnbrokenPasses(t *testing.T) {
	providertest.RunConformanceTests(t, harness("", true))
}

// TestBrokenDriverChild runs the suite against a broken driver; it does
// something only in the child process that TestTheSuiteCatchesBrokenDrivers
// starts.
func TestBrokenDriverChild(t *testing.T) {
	flaw := os.Getenv(brokenEnv)
	if flaw == "" {
		t.Skip("runs only as a child of TestTheSuiteCatchesBrokenDrivers")
	}
	providertest.RunConformanceTests(t, harness(flaw, flaw != "settle does not boot servers"))
}

func TestTheSuiteCatchesBrokenDrivers(t *testing.T) {
	for _, tc := range []struct {
		flaw       string
		wantFailed string // a subtest that must fail
	}{
		{"launch ignores the token", "a_launch_repeated_with_the_same_token_returns_the_same_servers_and_launches_none"},
		{"launch accepts an empty image", "an_invalid_launch_spec_fails_with_InvalidArgument_and_launches_nothing"},
		{"launch drops tags", "launch_returns_Count_servers_with_the_spec's_tags,_zone_and_image"},
		{"list ignores tags", "list_by_farm_tag_sees_only_that_farm's_servers"},
		{"list repeats the first page", "following_pages_visits_every_server_exactly_once"},
		{"get returns an uncoded error", "get_of_an_unknown_server_fails_with_NotFound"},
		{"terminate of an unknown server fails", "terminate_is_idempotent,_also_for_unknown_servers"},
		{"reboot of an unknown server succeeds", "reboot_of_an_unknown_server_fails_with_NotFound"},
		{"settle does not boot servers", "servers_go_from_pending_to_running_after_settle_and_have_an_IP"},
	} {
		t.Run(tc.flaw, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestBrokenDriverChild$", "-test.v")
			cmd.Env = append(os.Environ(), brokenEnv+"="+tc.flaw)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a driver whose %s:\n%s", tc.flaw, out)
			}
			if want := "--- FAIL: TestBrokenDriverChild/" + tc.wantFailed; !strings.Contains(string(out), want) {
				t.Fatalf("output lacks %q:\n%s", want, out)
			}
		})
	}
}

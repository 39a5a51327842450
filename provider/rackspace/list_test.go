package rackspace_test

import (
	"context"
	"slices"
	"testing"

	"github.com/farmhand/farmhand/internal/novatest"
	"github.com/farmhand/farmhand/provider"
)

func TestListingFollowsNovaPagesAndNarrowsByName(t *testing.T) {
	// Nova's osapi_max_limit of 3 splits every listing into pages of 3.
	srv := newCloud(t, &novatest.Options{MaxLimit: 3})
	p := newProvider(t, apiKeyOptions(srv))
	ctx := context.Background()
	mine, err := p.Launch(ctx, launchSpec("t-web", 10))
	if err != nil {
		t.Fatal(err)
	}
	other := launchSpec("t-shop", 4)
	other.Tags[provider.TagFarm] = "shop"
	if _, err := p.Launch(ctx, other); err != nil {
		t.Fatal(err)
	}
	before := srv.Calls("GET /servers/detail")

	got, err := provider.ListAll(ctx, p, map[string]string{provider.TagFarm: "web"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(serverIDs(got), serverIDs(mine)) {
		t.Fatalf("ListAll(farm web) = %v, want %v", serverIDs(got), serverIDs(mine))
	}
	// 10 servers named web-app-… in pages of 3: 3+3+3+1 (the name filter
	// keeps shop's servers out of the pages).
	if n := srv.Calls("GET /servers/detail") - before; n != 4 {
		t.Fatalf("listing 10 servers in pages of 3 took %d calls, want 4", n)
	}

	// Tags without a farm cannot be narrowed by name: the driver filters
	// every page (14 servers: 3+3+3+3+2).
	before = srv.Calls("GET /servers/detail")
	got, err = provider.ListAll(ctx, p, map[string]string{provider.TagSlot: "0"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 14 {
		t.Fatalf("ListAll(slot 0) returned %d servers, want 14", len(got))
	}
	if n := srv.Calls("GET /servers/detail") - before; n != 5 {
		t.Fatalf("listing 14 servers in pages of 3 took %d calls, want 5", n)
	}
}

func TestAPageOfOtherFarmsIsSkippedNotReturnedEmpty(t *testing.T) {
	srv := newCloud(t, &novatest.Options{MaxLimit: 2})
	p := newProvider(t, apiKeyOptions(srv))
	ctx := context.Background()
	// "web-app-…" servers share their name prefix with farm "web-app"'s,
	// so Nova's name filter lets them through and the driver must skip them.
	mine, err := p.Launch(ctx, launchSpec("t-mine", 1))
	if err != nil {
		t.Fatal(err)
	}
	lookalike := launchSpec("t-lookalike", 4)
	lookalike.Tags = map[string]string{provider.TagFarm: "web-app"}
	if _, err := p.Launch(ctx, lookalike); err != nil {
		t.Fatal(err)
	}
	page, err := p.List(ctx, provider.ListOptions{Tags: map[string]string{provider.TagFarm: "web", provider.TagRole: "app"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Servers) != 1 || page.Servers[0].ID != mine[0].ID {
		t.Fatalf("first page holds %v, want the one web/app server %s", serverIDs(page.Servers), mine[0].ID)
	}
}

func TestACloudWhoseNameFilterIsNotARegexpStillListsEverything(t *testing.T) {
	t.Run("Launch notices and stops filtering by name", func(t *testing.T) {
		srv := newCloud(t, &novatest.Options{ExactNameFilter: true})
		p := newProvider(t, apiKeyOptions(srv))
		ctx := context.Background()
		got, err := p.Launch(ctx, launchSpec("t-exact", 3))
		if err != nil || len(got) != 3 {
			t.Fatalf("Launch of 3: %d servers, %v", len(got), err)
		}
		again, err := p.Launch(ctx, launchSpec("t-exact", 3))
		if err != nil || !slices.Equal(serverIDs(again), serverIDs(got)) || srv.Calls("POST /servers") != 1 {
			t.Fatalf("relaunch: %v, %v, %d creates; want the same servers and one create", serverIDs(again), err, srv.Calls("POST /servers"))
		}
		all, err := provider.ListAll(ctx, p, map[string]string{provider.TagFarm: "web"})
		if err != nil || len(all) != 3 {
			t.Fatalf("ListAll: %d servers, %v; want 3", len(all), err)
		}
	})
	t.Run("NoNameFilter lists without it from the start", func(t *testing.T) {
		srv := newCloud(t, &novatest.Options{ExactNameFilter: true})
		p := newProvider(t, apiKeyOptions(srv))
		if _, err := p.Launch(context.Background(), launchSpec("t-exact", 2)); err != nil {
			t.Fatal(err)
		}
		o := apiKeyOptions(srv)
		o.NoNameFilter = true
		restarted := newProvider(t, o)
		all, err := provider.ListAll(context.Background(), restarted, map[string]string{provider.TagFarm: "web"})
		if err != nil || len(all) != 2 {
			t.Fatalf("ListAll after a restart: %d servers, %v; want 2", len(all), err)
		}
	})
}

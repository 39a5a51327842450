package rackspace_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/gophercloud/gophercloud/v2"

	"github.com/farmhand/farmhand/internal/novatest"
	"github.com/farmhand/farmhand/provider"
)

func TestHostKeysAreReadFromTheConsoleOnceCloudInitPrintsThem(t *testing.T) {
	srv := newCloud(t, nil)
	p := newProvider(t, apiKeyOptions(srv))
	ctx := context.Background()
	s, err := p.Launch(ctx, launchSpec("t-hostkeys", 1))
	if err != nil {
		t.Fatal(err)
	}
	id := s[0].ID
	keys, err := p.HostKeys(ctx, id)
	if err != nil || keys == nil || len(keys) != 0 {
		t.Fatalf("HostKeys while building = %q, %v; want an empty slice and no error", keys, err)
	}
	srv.Settle()
	keys, err = p.HostKeys(ctx, id)
	if err != nil || !slices.Equal(keys, []string{srv.HostKey(id)}) {
		t.Fatalf("HostKeys = %q, %v; want [%s]", keys, err, srv.HostKey(id))
	}
	out, err := p.ConsoleOutput(ctx, id)
	if err != nil || len(out) == 0 {
		t.Fatalf("ConsoleOutput = %d bytes, %v", len(out), err)
	}
	if _, err := p.HostKeys(ctx, unknownID); !errors.Is(err, provider.NotFound) {
		t.Fatalf("HostKeys of an unknown server: %v, want NotFound", err)
	}
	if _, err := p.ConsoleOutput(ctx, unknownID); !errors.Is(err, provider.NotFound) {
		t.Fatalf("ConsoleOutput of an unknown server: %v, want NotFound", err)
	}
}

func TestVolumesAreSnapshottedListedByTagAndDeleted(t *testing.T) {
	srv := newCloud(t, &novatest.Options{MaxLimit: 2}) // snapshot listing spans pages
	p := newProvider(t, passwordOptions(srv))
	ctx := context.Background()
	s, err := p.Launch(ctx, launchSpec("t-db", 1))
	if err != nil {
		t.Fatal(err)
	}
	srv.Settle()
	volID := srv.AttachVolume(s[0].ID, 50)

	vols, err := p.Volumes(ctx, s[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(vols) != 1 || vols[0].ID != volID || vols[0].SizeGiB != 50 || vols[0].Zone != "az1" ||
		vols[0].Device != "/dev/vdb" || vols[0].ServerID != s[0].ID || vols[0].Tags == nil {
		t.Fatalf("Volumes = %+v", vols)
	}
	if _, err := p.Volumes(ctx, unknownID); !errors.Is(err, provider.NotFound) {
		t.Fatalf("Volumes of an unknown server: %v, want NotFound", err)
	}

	backup := map[string]string{provider.TagFarm: "web", "farmhand:backup": "nightly"}
	var made []string
	for range 3 {
		sn, err := p.CreateSnapshot(ctx, volID, backup)
		if err != nil {
			t.Fatal(err)
		}
		if sn.VolumeID != volID || sn.State != "pending" || sn.Tags["farmhand:backup"] != "nightly" || sn.StartedAt.IsZero() {
			t.Fatalf("CreateSnapshot = %+v", sn)
		}
		made = append(made, sn.ID)
	}
	if _, err := p.CreateSnapshot(ctx, volID, map[string]string{provider.TagFarm: "other"}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.CreateSnapshot(ctx, unknownID, backup); !errors.Is(err, provider.NotFound) {
		t.Fatalf("CreateSnapshot of an unknown volume: %v, want NotFound", err)
	}
	srv.Settle()

	list, err := p.ListSnapshots(ctx, backup)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, sn := range list {
		got = append(got, sn.ID)
		if sn.State != "completed" {
			t.Errorf("snapshot %s is %q after settle, want completed", sn.ID, sn.State)
		}
	}
	slices.Sort(got)
	slices.Sort(made)
	if !slices.Equal(got, made) {
		t.Fatalf("ListSnapshots(backup tags) = %v, want %v", got, made)
	}

	if err := p.DeleteSnapshot(ctx, made[0]); err != nil {
		t.Fatal(err)
	}
	if err := p.DeleteSnapshot(ctx, unknownID); err != nil {
		t.Fatalf("DeleteSnapshot of an unknown snapshot: %v, want nil", err)
	}
	if list, err = p.ListSnapshots(ctx, backup); err != nil || len(list) != 2 {
		t.Fatalf("after deleting one, ListSnapshots = %d snapshots, %v; want 2", len(list), err)
	}
}

func TestAsHandsOutTheComputeClient(t *testing.T) {
	srv := newCloud(t, nil)
	p := newProvider(t, apiKeyOptions(srv))
	var c *gophercloud.ServiceClient
	if !p.As(&c) || c == nil || c.Endpoint != srv.ComputeURL("RegionOne")+"/" {
		t.Fatalf("As(**gophercloud.ServiceClient) = %v", c)
	}
	var wrong *gophercloud.ProviderClient
	if p.As(&wrong) || p.As(c) {
		t.Fatal("As accepted a type it does not hand out")
	}
}

func TestRebootOfABuildingServerIsUnavailableForNow(t *testing.T) {
	srv := newCloud(t, nil)
	p := newProvider(t, apiKeyOptions(srv))
	ctx := context.Background()
	s, err := p.Launch(ctx, launchSpec("t-reboot", 1))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Reboot(ctx, s[0].ID); !errors.Is(err, provider.Unavailable) {
		t.Fatalf("Reboot while building: %v, want Unavailable", err)
	}
	srv.Settle()
	if err := p.Reboot(ctx, s[0].ID); err != nil {
		t.Fatalf("Reboot when active: %v", err)
	}
	if got, err := p.Get(ctx, s[0].ID); err != nil || got.State != provider.StateRunning {
		t.Fatalf("Get while rebooting: %v, %v; want running", got.State, err)
	}
}

func TestTerminateDeletesEveryServerAndReportsStatesOnTheWay(t *testing.T) {
	srv := newCloud(t, nil)
	p := newProvider(t, apiKeyOptions(srv))
	ctx := context.Background()
	s, err := p.Launch(ctx, launchSpec("t-term", 12))
	if err != nil {
		t.Fatal(err)
	}
	srv.Settle()
	if err := p.Terminate(ctx, serverIDs(s)...); err != nil {
		t.Fatal(err)
	}
	if n := srv.Calls("DELETE /servers/{id}"); n != 12 {
		t.Fatalf("DELETE called %d times, want 12", n)
	}
	if got, err := p.Get(ctx, s[0].ID); err != nil || got.State != provider.StateTerminating {
		t.Fatalf("Get right after Terminate: %v, %v; want terminating", got.State, err)
	}
	srv.Settle()
	if _, err := p.Get(ctx, s[0].ID); !errors.Is(err, provider.NotFound) {
		t.Fatalf("Get after the delete: %v, want NotFound", err)
	}
}

func TestGopherclouds403And404StayReachableBehindTheCode(t *testing.T) {
	srv := newCloud(t, nil)
	p := newProvider(t, apiKeyOptions(srv))
	_, err := p.Get(context.Background(), unknownID)
	var raw gophercloud.ErrUnexpectedResponseCode
	if !errors.Is(err, provider.NotFound) || !errors.As(err, &raw) || raw.Actual != 404 {
		t.Fatalf("Get of an unknown server: %v; want NotFound with gophercloud's 404 behind it", err)
	}
	if want := "server " + unknownID + ": HTTP 404: Instance " + unknownID + " could not be found."; !strings.HasSuffix(err.Error(), want) {
		t.Fatalf("message %q, want it to end with %q", err, want)
	}
	srv.SetQuota(0)
	_, err = p.Launch(context.Background(), launchSpec("t-quota", 1))
	if !errors.Is(err, provider.QuotaExceeded) || !errors.As(err, &raw) || raw.Actual != 403 {
		t.Fatalf("Launch over quota: %v; want QuotaExceeded with gophercloud's 403 behind it", err)
	}
}

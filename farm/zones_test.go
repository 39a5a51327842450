package farm

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/farmhand/farmhand/provider/fake"
)

func TestResolveZonesMapsLogicalZonesOntoTheProvider(t *testing.T) {
	provider := []string{"us-east-1a", "us-east-1b", "us-east-1d"}
	cases := []struct {
		name    string
		role    []string
		want    []string
		wantErr string
	}{
		{"no zones means every zone", nil, provider, ""},
		{"any means every zone", []string{"any"}, provider, ""},
		{"a and b are the provider's first two zones", []string{"a", "b"}, []string{"us-east-1a", "us-east-1b"}, ""},
		{"c is the third zone in the provider's order", []string{"c"}, []string{"us-east-1d"}, ""},
		{"concrete names keep working", []string{"us-east-1d", "us-east-1a"}, []string{"us-east-1d", "us-east-1a"}, ""},
		{"a letter past the provider's zones is refused", []string{"a", "e"}, nil, `logical zone "e" is zone #5, but the provider has 3 zones`},
		{"an unknown concrete zone is refused", []string{"eu-west-1a"}, nil, `zone "eu-west-1a" is not one of the provider's zones`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := resolveZones(c.role, provider)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, c.want) {
				t.Fatalf("resolveZones(%v) = %v, %v; want %v", c.role, got, err, c.want)
			}
		})
	}
}

// One spec with logical zones launches on a fake cloud whose zones have
// other names.
func TestLogicalZonesLaunchOnTheProvidersZones(t *testing.T) {
	spec := appSpec(2, 2)
	spec.Roles[0].Zones = []string{"b", "c"}
	r := newRig(t, spec, nil, fake.Options{Zones: []string{"lab-1", "lab-2", "lab-3"}})
	if err := r.farm.Launch(r.ctx); err != nil {
		t.Fatal(err)
	}
	r.tick(time.Minute)
	var zones []string
	for _, s := range r.farm.Servers("app") {
		zones = append(zones, s.Zone)
	}
	slices.Sort(zones)
	if !slices.Equal(zones, []string{"lab-2", "lab-3"}) {
		t.Fatalf("zones %v, want lab-2 and lab-3", zones)
	}

	bad := appSpec(1, 1)
	bad.Roles[0].Zones = []string{"d"}
	r2 := newRig(t, bad, nil, fake.Options{Zones: []string{"lab-1", "lab-2"}})
	if err := r2.farm.Launch(r2.ctx); err == nil || !strings.Contains(err.Error(), `logical zone "d"`) {
		t.Fatalf("Launch with zone d on two zones: %v", err)
	}
}

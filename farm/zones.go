package farm

import (
	"fmt"
	"slices"
)

// ZoneAny in a role's zones means every zone of the provider, as an empty
// list does.
const ZoneAny = "any"

// Logical zones let one spec serve a test farm and a live farm: a role's
// zones may be "a", "b", "c", ... (the provider's first, second, third
// zone, in the order the provider lists them: EC2's
// DescribeAvailabilityZones order, the fake's Options.Zones, OpenStack's
// availability zones) or "any" (every zone). Concrete names such as
// "us-east-1a" keep working and are checked against the provider's list.

// logicalZone reports whether z is a logical zone letter and its index.
func logicalZone(z string) (int, bool) {
	if len(z) == 1 && z[0] >= 'a' && z[0] <= 'z' {
		return int(z[0] - 'a'), true
	}
	return 0, false
}

// resolveZones maps a role's zones onto the provider's: logical letters
// to the provider's zone at that position, "any" to every zone (as an
// empty list), concrete names to themselves. It returns an error naming
// the first zone the provider does not have.
func resolveZones(role, provider []string) ([]string, error) {
	if len(role) == 0 || slices.Contains(role, ZoneAny) {
		return provider, nil
	}
	out := make([]string, 0, len(role))
	for _, z := range role {
		if slices.Contains(provider, z) {
			out = append(out, z)
			continue
		}
		if i, ok := logicalZone(z); ok {
			if i < len(provider) {
				if !slices.Contains(out, provider[i]) {
					out = append(out, provider[i])
				}
				continue
			}
			return nil, fmt.Errorf("logical zone %q is zone #%d, but the provider has %d zones %v", z, i+1, len(provider), provider)
		}
		return nil, fmt.Errorf("zone %q is not one of the provider's zones %v (or a logical zone: a, b, c, ... or any)", z, provider)
	}
	return out, nil
}

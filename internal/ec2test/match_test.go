package ec2test

import "testing"

func TestGlobMatchesEC2FilterWildcards(t *testing.T) {
	for _, c := range []struct {
		name, pattern, s string
		want             bool
	}{
		{"a plain value matches itself", "shop", "shop", true},
		{"a plain value does not match a longer one", "shop", "shops", false},
		{"star matches any run", "web-*", "web-17", true},
		{"star matches the empty run", "web-*", "web-", true},
		{"question mark matches one character", "db?", "db1", true},
		{"question mark needs a character", "db?", "db", false},
		{"an escaped star is literal", `sh\*p`, "sh*p", true},
		{"an escaped star does not match other text", `sh\*p`, "shop", false},
		{"an escaped backslash is literal", `a\\b`, `a\b`, true},
	} {
		if got := glob(c.pattern, c.s); got != c.want {
			t.Errorf("%s: glob(%q, %q) = %v", c.name, c.pattern, c.s, got)
		}
	}
}

func TestShapeOfFlattenedParameters(t *testing.T) {
	for in, want := range map[string]string{
		"TagSpecification.1.Tag.12.Key": "TagSpecification.N.Tag.N.Key",
		"InstanceId.3":                  "InstanceId.N",
		"Filter.2.Value.1":              "Filter.N.Value.N",
		"Instances.member.1.InstanceId": "Instances.member.N.InstanceId",
		"MaxResults":                    "MaxResults",
	} {
		if got := shapeOf(in); got != want {
			t.Errorf("shapeOf(%q) = %q, want %q", in, got, want)
		}
	}
}

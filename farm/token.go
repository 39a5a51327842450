package farm

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/farmhand/farmhand/provider"
)

// TagAttempt is the tag that numbers the launches of a role's index: the
// first launch for index 3 carries attempt 1, its replacement attempt 2. A
// restarted controller reads it to continue the count, so that its
// idempotency tokens never repeat an earlier launch's.
const TagAttempt = "farmhand:attempt"

// launchToken is the idempotency token of a launch. It is derived only from
// the farm, the role, the indexes the launch fills and the attempt number,
// so that a retried call (after a lost answer) and a restarted controller
// that makes the same decision send the same token, and the cloud launches
// once. EC2 accepts tokens of up to 64 ASCII characters.
func launchToken(farm, role string, indexes []int, attempt int) string {
	h := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%s\x00%s\x00%d", farm, role, formatIndexes(indexes), attempt)))
	return "fh-" + hex.EncodeToString(h[:20])
}

// formatIndexes writes indexes as the TagSlot value: "3" or "3,4,5".
func formatIndexes(indexes []int) string {
	parts := make([]string, len(indexes))
	for i, n := range indexes {
		parts[i] = strconv.Itoa(n)
	}
	return strings.Join(parts, ",")
}

// parseIndexes reads a TagSlot value; it returns nil for a malformed one.
func parseIndexes(s string) []int {
	if s == "" {
		return nil
	}
	var out []int
	for _, p := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 1 {
			return nil
		}
		out = append(out, n)
	}
	return out
}

// launchTags are the tags of every server of one launch. A launch of
// several servers tags them all alike (clouds tag at creation, per call),
// so TagSlot lists every index the launch fills; [assignIndexes] tells
// which server holds which.
func launchTags(farm string, role RoleSpec, indexes []int, attempt int, token string) map[string]string {
	tags := make(map[string]string, len(role.Tags)+5)
	for k, v := range role.Tags {
		tags[k] = v
	}
	tags[provider.TagFarm] = farm
	tags[provider.TagRole] = role.Name
	tags[provider.TagSlot] = formatIndexes(indexes)
	tags[provider.TagToken] = token
	tags[TagAttempt] = strconv.Itoa(attempt)
	return tags
}

// assignIndexes maps the servers of one launch to the indexes it filled:
// in the order of their IDs, the first server gets the first index. Both
// the controller that launched and one that adopts later compute the same
// answer from the same servers. Servers beyond the listed indexes get 0.
func assignIndexes(servers []provider.Server, indexes []int) map[string]int {
	ids := make([]string, len(servers))
	for i, s := range servers {
		ids[i] = s.ID
	}
	sort.Strings(ids)
	out := make(map[string]int, len(ids))
	for i, id := range ids {
		if i < len(indexes) {
			out[id] = indexes[i]
		} else {
			out[id] = 0
		}
	}
	return out
}

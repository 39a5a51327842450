package cluster_test

import (
	"fmt"

	"github.com/farmhand/farmhand/cluster"
)

// Each farm has one owner among the live members; when a member leaves,
// only its own farms move.
func ExampleOwner() {
	farms := []string{"shop", "blog", "wiki", "mail", "docs", "chat"}
	all := []string{"ctl-1", "ctl-2", "ctl-3"}
	rest := []string{"ctl-1", "ctl-3"} // ctl-2 died
	for _, f := range farms {
		before, after := cluster.Owner(all, f), cluster.Owner(rest, f)
		moved := ""
		if before != after {
			moved = " (moved)"
		}
		fmt.Printf("%s: %s -> %s%s\n", f, before, after, moved)
	}
	// Output:
	// shop: ctl-3 -> ctl-3
	// blog: ctl-2 -> ctl-3 (moved)
	// wiki: ctl-2 -> ctl-3 (moved)
	// mail: ctl-3 -> ctl-3
	// docs: ctl-1 -> ctl-1
	// chat: ctl-3 -> ctl-3
}

package readmecheck

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/farmhand/farmhand/farm"
)

// The bad-input message the "A farm in Go" section quotes is what
// farm.LoadFile says of its shop.yaml with app64's min 5 and max 3.
func TestBadInputMessageIsTheFarmsOwn(t *testing.T) {
	text := readme(t)
	i := strings.Index(text, "\n## A farm in Go\n")
	if i < 0 {
		t.Fatal(`README has no "A farm in Go" section`)
	}
	sec := text[i:]
	var yaml string
	for _, m := range fenceRE.FindAllStringSubmatch(sec, -1) {
		if m[1] == "yaml" {
			yaml = m[2]
			break
		}
	}
	quoted := regexp.MustCompile("`(shop\\.yaml:\\d+: role \"app64\": min 5 > max 3)`").FindStringSubmatch(sec)
	if yaml == "" || quoted == nil {
		t.Fatal("the section has no shop.yaml or no quoted min/max error")
	}
	bad := regexp.MustCompile(`(?m)^(\s+)min: 2\n(\s+)max: 5$`).ReplaceAllString(yaml, "${1}min: 5\n${2}max: 3")
	if bad == yaml {
		t.Fatal("shop.yaml has no app64 min: 2 / max: 5 to edit")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "shop.yaml"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	_, err := farm.LoadFile("shop.yaml")
	if err == nil || !strings.Contains(err.Error(), quoted[1]) {
		t.Fatalf("README quotes %q; farm.LoadFile says: %v", quoted[1], err)
	}
}

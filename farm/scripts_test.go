package farm

import (
	"slices"
	"testing"

	"github.com/farmhand/farmhand/scripting"
)

func TestBoundScriptRunsOnHostUpWithItsVariables(t *testing.T) {
	spec := Spec{Name: "shop", Location: "fake-1", Variables: map[string]string{"greeting": "hello"},
		Roles: []RoleSpec{{Name: "app", Image: "img", Min: 2, Max: 3,
			Scripts: []ScriptBinding{{Event: HostUp, Script: "hello"}}}}}
	r := newScriptRig(t, spec, map[string]string{
		"hello": `echo "%greeting%, I am a %role_name% #%instance_index% of %farm_name% in %cloud_location%; env $FARM_ROLE_NAME"`,
	}, nil)
	r.upAll()
	got := outputs(r.entries(scripting.LogQuery{Farm: "shop", Event: "HostUp"}))
	slices.Sort(got)
	app := r.farm.Servers("app")
	want := []string{
		"app/" + app[0].ID + ": hello, I am a app #1 of shop in fake-1; env app",
		"app/" + app[1].ID + ": hello, I am a app #2 of shop in fake-1; env app",
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("log outputs:\n%q\nwant\n%q", got, want)
	}
}

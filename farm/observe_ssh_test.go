package farm

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/farmhand/farmhand/provider"
)

func TestExecAndReadFileReuseOneConnectionPerServer(t *testing.T) {
	spec := Spec{Name: "shop", Roles: []RoleSpec{{Name: "app", Image: "img", Min: 1, Max: 2, Desired: 2}}}
	r := newScriptRig(t, spec, nil, nil)
	r.upAll()
	ids := []string{r.farm.Servers("app")[0].ID, r.farm.Servers("app")[1].ID}
	for _, id := range ids {
		if err := r.cloud.SetLoad(id, 0.5, 0.25, 0.75); err != nil {
			t.Fatal(err)
		}
	}
	before := r.dial.count()
	for range 3 {
		for _, id := range ids {
			b, err := r.farm.ReadFile(r.ctx, id, "proc/loadavg")
			if err != nil || !strings.HasPrefix(string(b), "0.50 0.25 0.75 ") {
				t.Fatalf("ReadFile(%s) = %q, %v", id, b, err)
			}
			out, err := r.farm.Exec(r.ctx, id, "echo 100%")
			if err != nil || string(out) != "100%\n" {
				t.Fatalf("Exec(%s) = %q, %v", id, out, err)
			}
		}
	}
	if n := r.dial.count() - before; n != 2 {
		t.Errorf("12 reads of 2 servers made %d connections, want 2", n)
	}
	if st := r.farm.SSHPoolStats(); st.Open != 2 || st.Dials != 2 || st.Reuses != 10 {
		t.Errorf("SSHPoolStats = %+v, want 2 open, 2 dials, 10 reuses", st)
	}
	if _, err := r.farm.ReadFile(r.ctx, ids[0], "proc/nothing"); err == nil || !strings.Contains(err.Error(), "proc/nothing") {
		t.Errorf("ReadFile of a missing file: err = %v", err)
	}
	if _, err := r.farm.ReadFile(r.ctx, "i-404", "proc/loadavg"); !errors.Is(err, provider.NotFound) {
		t.Errorf("ReadFile of an unknown server: err = %v", err)
	}
}

func TestALeavingServersPooledConnectionIsClosed(t *testing.T) {
	spec := Spec{Name: "shop", Roles: []RoleSpec{{Name: "app", Image: "img", Min: 1, Max: 2, Desired: 2}}}
	r := newScriptRig(t, spec, nil, nil)
	r.upAll()
	for _, s := range r.farm.Servers("app") {
		if _, err := r.farm.Exec(r.ctx, s.ID, "true"); err != nil {
			t.Fatal(err)
		}
	}
	if st := r.farm.SSHPoolStats(); st.Open != 2 {
		t.Fatalf("SSHPoolStats = %+v, want 2 open", st)
	}
	if err := r.farm.SetDesired("app", 1); err != nil {
		t.Fatal(err)
	}
	for range 12 {
		if r.farm.Status().Ready() {
			break
		}
		r.tick(30 * time.Second)
	}
	r.settle()
	if st := r.farm.SSHPoolStats(); st.Open != 1 || st.Discarded != 1 {
		t.Errorf("after a scale-in SSHPoolStats = %+v, want 1 open and 1 discarded", st)
	}
}

package actionlog

import (
	"path/filepath"
	"testing"
	"time"
)

func TestDoubles(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(farm, member string, epoch int64, from, to int) Action {
		return Action{Farm: farm, Member: member, Epoch: epoch,
			Start: t0.Add(time.Duration(from) * time.Millisecond), End: t0.Add(time.Duration(to) * time.Millisecond)}
	}
	cases := []struct {
		name    string
		actions []Action
		want    int
	}{
		{"one owner acting alone is no double action", []Action{at("f", "a", 5, 0, 10), at("f", "a", 5, 20, 30)}, 0},
		{"a later owner starting after the earlier one stopped is no double action", []Action{at("f", "a", 5, 0, 10), at("f", "b", 9, 11, 20)}, 0},
		{"an earlier owner acting after the later one started is a double action", []Action{at("f", "a", 5, 0, 10), at("f", "b", 9, 5, 20)}, 1},
		{"an action of the earlier owner ending after the later one started is a double action", []Action{at("f", "a", 5, 0, 12), at("f", "b", 9, 11, 20)}, 1},
		{"order in the record does not matter", []Action{at("f", "b", 9, 5, 20), at("f", "a", 5, 30, 40)}, 1},
		{"a member taking a farm back is no double action with itself", []Action{at("f", "a", 5, 0, 12), at("f", "a", 9, 11, 20)}, 0},
		{"different farms never overlap each other", []Action{at("f", "a", 5, 0, 12), at("g", "b", 9, 1, 20)}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Doubles(c.actions); len(got) != c.want {
				t.Errorf("Doubles = %v, want %d", got, c.want)
			}
		})
	}
}

func TestFileRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "actions")
	w, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	a := Action{Farm: "shop", Member: "c1", Epoch: 42, Start: time.Unix(1, 5), End: time.Unix(2, 7)}
	if err := w.Record(a); err != nil {
		t.Fatal(err)
	}
	w.Close()
	got, err := ReadFiles(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Farm != a.Farm || got[0].Member != a.Member || got[0].Epoch != a.Epoch ||
		!got[0].Start.Equal(a.Start) || !got[0].End.Equal(a.End) {
		t.Fatalf("read %+v, want %+v", got, a)
	}
}

package main

import (
	"bytes"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/farmhand/farmhand/farm"
)

// docs/farm-yaml.md is what the generator writes from the code today: a
// key added, renamed or re-documented without `go generate ./farm` fails
// here.
func TestFarmYAMLReferenceIsUpToDate(t *testing.T) {
	var want bytes.Buffer
	if err := generate(&want, "../../farm"); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../../docs/farm-yaml.md")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatal("docs/farm-yaml.md is out of date: run go generate ./farm")
	}
}

// Every key the decoder takes is in the reference, with a meaning.
func TestFarmYAMLReferenceListsEveryKey(t *testing.T) {
	var b bytes.Buffer
	if err := generate(&b, "../../farm"); err != nil {
		t.Fatal(err)
	}
	doc := b.String()
	seen := map[reflect.Type]bool{}
	var walk func(t reflect.Type)
	walk = func(rt reflect.Type) {
		for rt.Kind() == reflect.Pointer || rt.Kind() == reflect.Slice || rt.Kind() == reflect.Map {
			rt = rt.Elem()
		}
		if rt.Kind() != reflect.Struct || rt == durationType || seen[rt] {
			return
		}
		seen[rt] = true
		for i := range rt.NumField() {
			f := rt.Field(i)
			key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if !f.IsExported() || key == "-" {
				continue
			}
			if !strings.Contains(doc, "| `"+key+"` |") {
				t.Errorf("%s.%s (%q) is not in the reference", rt.Name(), f.Name, key)
			}
			walk(f.Type)
		}
	}
	walk(reflect.TypeOf(farm.Spec{}))
	if len(seen) < 10 {
		t.Fatalf("walked only %d types", len(seen))
	}
	for _, line := range strings.Split(doc, "\n") {
		if strings.HasPrefix(line, "| `") && strings.HasSuffix(line, "|  |") {
			t.Errorf("a key without a meaning (give its field a doc comment): %s", line)
		}
	}
}

package cluster_test

import (
	"context"
	"log"
	"os"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/farmhand/farmhand/cluster"
	"github.com/farmhand/farmhand/farm"
	"github.com/farmhand/farmhand/provider"
	"github.com/farmhand/farmhand/provider/fake"
	"github.com/farmhand/farmhand/store/etcdstore"
)

// runController is the README's "Several controllers on etcd" snippet,
// as written there: one controller process's part.
func runController(ctx context.Context, cli *clientv3.Client, cloud provider.Provider, specs map[string]farm.Spec, id string) error {
	db, err := etcdstore.New(ctx, cli, nil) // every farm's controller state, in etcd
	if err != nil {
		return err
	}
	m, err := cluster.Join(ctx, cli, &cluster.Options{ID: id, TTL: 10 * time.Second,
		OnEvent: func(ev cluster.Event) { log.Println(ev) }}) // Acquired, Lost, Unreachable, LeaseExpired, ...
	if err != nil {
		return err
	}
	defer m.Close()
	var names []string
	for name := range specs {
		names = append(names, name)
	}
	return m.Run(ctx, names, func(ctx context.Context, o *cluster.Ownership) error {
		st, err := db.Fenced(o.Farm, o) // each write compares o's revision in its own transaction
		if err != nil {
			return err
		}
		f, err := farm.New(specs[o.Farm], cloud, &farm.Options{Store: st})
		if err != nil {
			return err
		}
		defer f.Close()
		if err := f.Launch(ctx); err != nil { // adopts what runs; the state comes from the Store
			return err
		}
		return f.Run(ctx) // until the ownership ends
	})
}

// Two controllers run the README's code over one cloud: every farm comes
// up once, each run by one of them.
func TestReadmeControllers(t *testing.T) {
	cli := newClient(t, etcd.Get(t))
	if _, err := cli.Delete(context.Background(), "farmhand/", clientv3.WithPrefix()); err != nil { // the default prefixes
		t.Fatal(err)
	}
	cloud := fake.New(fake.Options{BootTime: -1})
	defer cloud.Close()
	specs := map[string]farm.Spec{}
	for _, name := range []string{"shop", "blog", "wiki", "mail"} {
		specs[name] = farm.Spec{Name: name, Roles: []farm.RoleSpec{{Name: "app", Image: "ami-app", Min: 2, Max: 2}}}
	}
	log.SetOutput(testWriter{t})
	defer log.SetOutput(os.Stderr)
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 2)
	for _, id := range []string{"ctl-1", "ctl-2"} {
		go func() { errs <- runController(ctx, cli, cloud, specs, id) }()
	}
	waitFor(t, 60*time.Second, "every farm running 2 servers", func() bool {
		for name := range specs {
			servers, err := provider.ListAll(ctx, cloud, map[string]string{provider.TagFarm: name})
			if err != nil {
				t.Fatal(err)
			}
			running := 0
			for _, s := range servers {
				if s.State == provider.StateRunning {
					running++
				}
			}
			if running != 2 {
				return false
			}
		}
		return true
	})
	cancel()
	for range 2 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if n := len(cloud.Servers()); n != 2*len(specs) {
		t.Fatalf("%d servers launched for %d farms of 2", n, len(specs))
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// The README shows runController's body as written.
func TestReadmeSnippetIsRunController(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("readme_test.go")
	if err != nil {
		t.Fatal(err)
	}
	sec := string(readme)
	i := strings.Index(sec, "## Several controllers on etcd")
	if i < 0 {
		t.Fatal("README has no section \"Several controllers on etcd\"")
	}
	sec = sec[i:]
	start := strings.Index(sec, "```go\n")
	end := strings.Index(sec[start+6:], "```\n")
	if start < 0 || end < 0 {
		t.Fatal("no Go block in the README's section")
	}
	snippet := sec[start+6 : start+6+end]
	code := string(src)
	from := strings.Index(code, "func runController(")
	code = code[from:]
	code = code[strings.Index(code, "{\n")+2 : strings.Index(code, "\n}\n")+1]
	var want strings.Builder
	for _, line := range strings.SplitAfter(code, "\n") {
		line = strings.TrimPrefix(line, "\t")
		want.WriteString(strings.ReplaceAll(line, "\t", "    "))
	}
	if snippet != want.String() {
		t.Errorf("the README's snippet differs from runController's body:\nREADME:\n%s\ncode:\n%s", snippet, want.String())
	}
}

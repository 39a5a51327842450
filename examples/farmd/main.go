// Farmd is the reference daemon: it runs every farm file (*.yaml, *.yml)
// in a directory, keeps each farm's state in one bbolt file, and serves
// the status page, Prometheus metrics and the scaling API on one address.
// A file that changes is planned and applied to its running farm
// (farm.Farm.Plan and Apply: new bounds at once, a new image or instance
// type rolled out in batches); a file that appears is launched. A file
// removed leaves its farm running until farmd stops: terminating a farm is
// a decision for a person.
//
//	FARMD_TOKEN=s3cret go run ./examples/farmd -dir ./farms -addr 127.0.0.1:8080
//
// It runs on farmhand's fake cloud by default (servers that answer SSH on
// loopback), on EC2 with -cloud ec2 (the AWS SDK's default credential
// chain) and on OpenStack or Rackspace with -cloud openstack -os-cloud
// NAME (clouds.yaml). It serves:
//
//	/status/                          the status page (?format=json for JSON)
//	/metrics                          Prometheus metrics
//	/farms/NAME/scaling/roles/ROLE    the scaling API, with Authorization: Bearer $FARMD_TOKEN
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/farmhand/farmhand/provider"
	"github.com/farmhand/farmhand/provider/ec2"
	"github.com/farmhand/farmhand/provider/fake"
	"github.com/farmhand/farmhand/provider/rackspace"
)

// config is farmd's flags.
type config struct {
	dir      string
	db       string
	addr     string
	cloud    string
	osCloud  string
	tokenEnv string
	tick     time.Duration
	rescan   time.Duration
	boot     time.Duration
}

func main() {
	c := config{addr: "127.0.0.1:8080", cloud: "fake", tokenEnv: "FARMD_TOKEN", tick: 10 * time.Second, rescan: 5 * time.Second, boot: time.Second}
	flag.StringVar(&c.dir, "dir", ".", "directory of farm files (*.yaml, *.yml)")
	flag.StringVar(&c.db, "db", "", "the bbolt file of the farms' state; empty means DIR/farmd.db")
	flag.StringVar(&c.addr, "addr", c.addr, "address to serve the status page, /metrics and the scaling API on")
	flag.StringVar(&c.cloud, "cloud", c.cloud, "fake, ec2 or openstack")
	flag.StringVar(&c.osCloud, "os-cloud", "", "the clouds.yaml entry, with -cloud openstack")
	flag.StringVar(&c.tokenEnv, "token-env", c.tokenEnv, "environment variable holding the scaling API's bearer token")
	flag.DurationVar(&c.tick, "tick", c.tick, "the farms' tick interval")
	flag.DurationVar(&c.rescan, "rescan", c.rescan, "how often the directory is read again for new and changed files")
	flag.DurationVar(&c.boot, "boot", c.boot, "how long a fake server takes to boot (-cloud fake)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", c.addr)
	if err == nil {
		err = run(ctx, os.Stdout, c, ln)
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "farmd:", err)
		os.Exit(1)
	}
}

// run serves on ln until ctx ends.
func run(ctx context.Context, out io.Writer, c config, ln net.Listener) error {
	cloud, sandbox, err := openCloud(ctx, c)
	if err != nil {
		return err
	}
	if sandbox != "" {
		defer os.RemoveAll(sandbox)
	}
	if cl, ok := cloud.(io.Closer); ok {
		defer cl.Close()
	}
	if c.db == "" {
		c.db = filepath.Join(c.dir, "farmd.db")
	}
	d, err := newDaemon(c, cloud, out)
	if err != nil {
		return err
	}
	defer d.close()
	srv := &http.Server{Handler: d.mux, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(out, "farmd: serving http://%s/status/, /metrics and /farms/NAME/scaling/ on the %s cloud; state in %s\n", ln.Addr(), c.cloud, c.db)
	err = d.loop(ctx)
	shut, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if serr := srv.Shutdown(shut); serr != nil && err == nil {
		err = serr
	}
	if serr := <-served; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

// openCloud returns the provider the flags name, and for the fake the
// sandbox directory of its servers.
func openCloud(ctx context.Context, c config) (provider.Provider, string, error) {
	switch c.cloud {
	case "fake":
		dir, err := os.MkdirTemp("", "farmd-fake-")
		if err != nil {
			return nil, "", err
		}
		return fake.New(fake.Options{BootTime: c.boot, SSH: &fake.SSHOptions{Dir: dir}}), dir, nil
	case "ec2":
		p, err := ec2.New(ctx, ec2.Options{KeyNamePrefix: "farmd-"})
		return p, "", err
	case "openstack":
		if c.osCloud == "" {
			return nil, "", errors.New("-cloud openstack needs -os-cloud NAME (an entry of clouds.yaml)")
		}
		p, err := rackspace.New(ctx, rackspace.Options{Cloud: c.osCloud})
		return p, "", err
	}
	return nil, "", fmt.Errorf("-cloud %q: want fake, ec2 or openstack", c.cloud)
}

package webfarm

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/farmhand/farmhand/farm"
	"github.com/farmhand/farmhand/provider"
	"github.com/farmhand/farmhand/scripting"
)

// Program is one web farm example: the shared command line and run, with
// its cloud's part plugged in.
type Program struct {
	// Name is the program's name, as in "go run ./examples/NAME": it heads
	// error messages and names the SSH key made for a run.
	Name string
	// Title is the cloud in words: "Amazon EC2".
	Title string
	// TestCloud says what -test-servers runs against: "an EC2 API test
	// server".
	TestCloud string
	// SSHUser is the default of -ssh-user: the login user of the cloud's
	// usual images.
	SSHUser string
	// Needs says what a real run needs (credentials, image, permissions),
	// printed under the list of what is missing.
	Needs string
	// DNS lists the places for the farm's names the cloud offers beyond
	// memory and rfc2136.
	DNS []DNSKind
	// Cloud is the cloud's part of the program.
	Cloud Cloud
}

// Cloud is the part of a web farm example that knows its cloud.
type Cloud interface {
	// Flags registers the cloud's own flags (region, image, ...) on fs,
	// after the shared ones, whose usage it may reword
	// (fs.Lookup(name).Usage).
	Flags(fs *flag.FlagSet)
	// Check reads what a real run needs from the cloud's flags, the
	// environment and configuration files, without a network call, and
	// returns what is missing, in words for people: nothing when the run
	// can go ahead.
	Check(ctx context.Context) (missing []string)
	// Connect sets a real run up once nothing is missing: it sets
	// s.Provider and s.Spec (from s.Farm), and may log in, but launches
	// nothing. An error that Is provider.InvalidArgument is taken for
	// incomplete configuration: the program prints what a run needs and
	// exits 2. Errors must not hold secrets.
	Connect(ctx context.Context, s *Session) error
	// TestServers starts the cloud's test server in this process and sets
	// the run up on it as Connect does, plus s.Crash and, if it likes,
	// s.Ready and s.Done. It registers the server's Close with s.Cleanup.
	TestServers(ctx context.Context, s *Session) error
}

// settings are the shared part of the command line.
type settings struct {
	testServers bool
	noSSHD      bool
	crashDB     bool

	zone                string
	dns, tsigKeyFile    string
	sshUser, sshKeyFile string
	privateIP           bool

	serve        bool
	readyTimeout time.Duration
	verbose      bool
}

// Main runs the program with the command line and exits with its status.
// The first interrupt terminates the farm; a second one quits at once.
func Main(p *Program) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	context.AfterFunc(ctx, stop)
	code := p.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Run is Main without the exit: it returns the exit status, 0 when the run
// went well, 2 for a bad command line or a real run that lacks something
// (it says what), 1 when the run fails. Cancelling ctx is an interrupt.
func (p *Program) Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	s, missing, err := p.Prepare(ctx, args, stdout, stderr)
	var usage *usageError
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &usage):
		fmt.Fprintln(stderr, p.Name+":", usage.err)
		return 2
	case len(missing) > 0:
		p.printNeeds(stderr, missing)
		return 2
	case err != nil:
		fmt.Fprintln(stderr, p.Name+":", err)
		return 1
	}
	defer s.Close()
	if err := s.run(ctx); err != nil {
		fmt.Fprintln(stderr, p.Name+":", err)
		return 1
	}
	return 0
}

// Prepare parses args and sets the run up without launching anything: on
// the test servers, which it starts, with -test-servers, and on the cloud
// otherwise. missing says what a real run lacks. Close the session to stop
// what Prepare started.
func (p *Program) Prepare(ctx context.Context, args []string, stdout, stderr io.Writer) (s *Session, missing []string, err error) {
	c, err := p.parse(args, stderr)
	if err != nil {
		return nil, nil, err
	}
	s = &Session{Out: newTimeline(stdout), Logger: newLogger(c.verbose, stderr), serve: c.serve}
	if c.testServers {
		err = p.onTestServers(ctx, s, c)
	} else {
		missing, err = p.onCloud(ctx, s, c)
	}
	if err != nil || len(missing) > 0 {
		s.Close()
		return nil, missing, err
	}
	return s, nil, nil
}

// usageError is a bad command line.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func (p *Program) parse(args []string, stderr io.Writer) (*settings, error) {
	c := &settings{}
	fs := flag.NewFlagSet(p.Name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&c.testServers, "test-servers", false, "run against "+p.TestCloud+" and a local OpenSSH sshd instead of a real cloud")
	fs.BoolVar(&c.crashDB, "crash-db", false, "with -test-servers: crash the database master once the farm is up, and show the failover")
	fs.BoolVar(&c.noSSHD, "no-sshd", false, "with -test-servers: run without sshd, hence without scripts, even when it is installed")
	fs.StringVar(&c.zone, "zone", "", "DNS zone of the farm's names db.ZONE and int-app64.ZONE (default farm.test)")
	fs.StringVar(&c.dns, "dns", "", dnsUsage(p.DNS))
	fs.StringVar(&c.tsigKeyFile, "tsig-key", "", "TSIG key file written by tsig-keygen, for -dns rfc2136:...")
	fs.StringVar(&c.sshUser, "ssh-user", p.SSHUser, "login user of the image; scripts run as root through sudo unless it is root")
	fs.StringVar(&c.sshKeyFile, "ssh-key", "", "private key the farm logs in with (OpenSSH format, no passphrase); default: a new ed25519 key for this run")
	fs.BoolVar(&c.privateIP, "private-ip", false, "log in over the servers' private IPs (when this runs inside the cloud's network)")
	fs.BoolVar(&c.serve, "serve", false, "keep the farm running (scaling, self-healing) until interrupted, then terminate it")
	fs.DurationVar(&c.readyTimeout, "ready-timeout", 20*time.Minute, "how long to wait for every server to be up")
	fs.BoolVar(&c.verbose, "v", false, "log the controller's and the driver's steps to stderr")
	p.Cloud.Flags(fs)
	if err := fs.Parse(args); err != nil {
		return nil, &usageError{err}
	}
	if fs.NArg() > 0 {
		return nil, &usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	if c.zone == "" {
		c.zone = "farm.test"
	}
	return c, nil
}

// onCloud sets the run up on the real cloud. It launches nothing, and
// makes no network call before it knows that nothing is missing.
func (p *Program) onCloud(ctx context.Context, s *Session, c *settings) (missing []string, err error) {
	missing = p.Cloud.Check(ctx)
	updater, mem, err := dnsUpdater(c, p.DNS)
	if err != nil {
		missing = append(missing, err.Error())
	}
	key, keyNote, err := loginKey(c.sshKeyFile, p.Name)
	if err != nil {
		missing = append(missing, err.Error())
	}
	if len(missing) > 0 {
		return missing, nil
	}
	runAs := ""
	if c.sshUser != "root" {
		runAs = "root"
	}
	s.KeyNote = keyNote
	s.Farm = Shape{
		Name:        "webfarm",
		DNSZone:     c.zone,
		InstallCmd:  "apt-get -qq update && DEBIAN_FRONTEND=noninteractive apt-get -y install",
		RunAs:       runAs,
		SSHPort:     22,
		BindScripts: true,
		Evaluation:  time.Minute,
		WarmUp:      3 * time.Minute,
	}
	if err := p.Cloud.Connect(ctx, s); errors.Is(err, provider.InvalidArgument) {
		// Incomplete credentials or a region the cloud lacks: the driver's
		// message names the field, never a secret.
		return []string{err.Error()}, nil
	} else if err != nil {
		return nil, err
	}
	lib, err := newLibrary(s.Scripts)
	if err != nil {
		return nil, err
	}
	s.memoryDNS = mem
	s.Options = farm.Options{
		Logger: s.Logger,
		DNS:    updater,
		Scripting: &farm.ScriptingOptions{
			Library:     lib,
			Key:         key,
			User:        c.sshUser,
			UsePublicIP: !c.privateIP,
			SSH:         scripting.ExecutorOptions{DialTimeout: 30 * time.Second, Logger: s.Logger},
		},
	}
	s.hostKeyPoll = 15 * time.Second
	s.readyTimeout = c.readyTimeout
	return nil, nil
}

// printNeeds says what a real run needs, and how to try the example
// without it.
func (p *Program) printNeeds(w io.Writer, missing []string) {
	fmt.Fprintf(w, "%s runs a farm on %s and cannot start:\n  - %s\n\n%s\n\n", p.Name, p.Title,
		strings.Join(missing, "\n  - "), strings.TrimRight(p.Needs, "\n"))
	fmt.Fprintf(w, "Try it here without an account (%s and a local sshd):\n  go run ./examples/%s -test-servers\n", p.TestCloud, p.Name)
}

// newLogger logs to stderr with -v and discards otherwise.
func newLogger(verbose bool, stderr io.Writer) *slog.Logger {
	if !verbose {
		return nil
	}
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

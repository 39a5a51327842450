// Quickstart runs a small farm on farmhand's fake cloud: no credentials, no
// cloud account, nothing to install. Each fake server answers SSH on
// loopback and runs commands with /bin/sh in a sandbox directory, so the
// scripts bound to events below really run.
//
//	go run ./examples/quickstart
//
// It launches a database role and an app role that depends on it, prints
// the farm's events and each script's result as they happen, runs a script
// on a role on demand, crashes an app server on purpose and shows the farm
// replace it, terminates the farm and prints the scripting log.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/farmhand/farmhand/farm"
	"github.com/farmhand/farmhand/provider/fake"
	"github.com/farmhand/farmhand/scripting"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// The scripts, shared by every farm that uses the library. %name% is a
// variable: built-ins such as %role_name%, or the farm's and roles' own.
var scripts = []scripting.Script{
	{Name: "hello", Body: `echo "I am a %role_name%"
echo "farm %farm_name% server %instance_index% at %internal_ip%"`},
	{Name: "db-setup", Body: `echo "creating database %db_name% on $FARM_SERVER_ID"`},
	{Name: "report", Body: `echo "%role_name% #%instance_index% in %zone%, asked by %asked_by%"`},
}

// spec is the farm: a database, and app servers that wait for it.
var spec = farm.Spec{
	Name:     "quickstart",
	Location: "fake-1",
	Roles: []farm.RoleSpec{
		{
			Name: "db", Image: "img-db", Min: 1, Max: 1,
			Variables: map[string]string{"db_name": "shop"},
			// Blocking: the server enters service only if the script succeeds.
			Scripts: []farm.ScriptBinding{{Event: farm.HostInit, Script: "db-setup", Blocking: true}},
		},
		{
			Name: "app", Image: "img-app", Min: 2, Max: 5, DependsOn: []string{"db"},
			Scripts: []farm.ScriptBinding{{Event: farm.HostUp, Script: "hello"}},
		},
	},
}

func run(w io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// The farm's timeline prints each event and script result as it
	// happens.
	out := farm.NewTimeline(w, nil)

	// A fake cloud whose servers answer SSH, sandboxed in a temporary
	// directory.
	dir, err := os.MkdirTemp("", "farmhand-quickstart-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	// Servers take a second to boot.
	cloud := fake.New(fake.Options{BootTime: time.Second, SSH: &fake.SSHOptions{Dir: dir}})
	defer cloud.Close()

	// The farm logs in with a fresh key; it installs the public half on
	// every server it launches and pins each server's host key, which the
	// cloud reports.
	key, err := scripting.GenerateKey("quickstart")
	if err != nil {
		return err
	}
	lib := scripting.NewLibrary(nil)
	for _, s := range scripts {
		if _, err := lib.Save(s); err != nil {
			return err
		}
	}

	f, err := farm.New(spec, cloud, &farm.Options{
		// Every 200ms the farm lists the cloud and acts on what it sees;
		// the default is 10s.
		TickInterval: 200 * time.Millisecond,
		Scripting: &farm.ScriptingOptions{
			Library:  lib,
			Key:      key,
			OnResult: out.ScriptResult,
		},
	})
	if err != nil {
		return err
	}
	defer f.Close()
	f.Subscribe(out.Event)

	// Run keeps the farm at its spec until runCtx ends.
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- f.Run(runCtx) }()
	defer func() { stop(); <-done }()

	if err := f.Launch(ctx); err != nil {
		return err
	}
	if err := f.WaitReady(ctx); err != nil {
		return err
	}
	if err := f.Settle(ctx); err != nil {
		return err
	}
	out.Printf("farm is ready:\n%s", f.Status())

	// Run a script on a role now, with a variable for this run only.
	sum, err := f.ExecuteScript(ctx, scripting.ScriptRef{Name: "report"}, farm.OnRoles("app"),
		&farm.ExecuteOptions{Vars: map[string]string{"asked_by": "quickstart"}})
	if err != nil {
		return err
	}
	out.Printf("report on role app: %d ok of %d\n", sum.OK, sum.Targets)

	// The cloud loses an app server. The next tick sees it gone (HostDown)
	// and launches a replacement, which goes through HostInit and HostUp
	// like the others.
	victim := f.Servers("app")[0]
	out.Printf("crashing app/%s on purpose\n", victim.ID)
	if err := cloud.Crash(victim.ID); err != nil {
		return err
	}
	if err := f.Wait(ctx, func(st farm.Status) bool {
		return st.Ready() && gone(st, victim.ID)
	}); err != nil {
		return err
	}
	if err := f.Settle(ctx); err != nil {
		return err
	}
	out.Printf("app/%s was replaced:\n%s", victim.ID, f.Status())

	if err := f.Terminate(ctx); err != nil {
		return err
	}
	if err := f.Settle(ctx); err != nil {
		return err
	}

	// The scripting log keeps every run: farm, role, server, event,
	// script and version, exit code and output.
	entries, err := f.ScriptingLog().Query(ctx, scripting.LogQuery{Farm: spec.Name})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\nscripting log of farm %q (%d entries, oldest first):\n", spec.Name, len(entries))
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		fmt.Fprintf(w, "  #%d %-8s %s v%d on %s/%s: exit %d: %s\n",
			e.Seq, e.Event, e.Script, e.Version, e.Role, e.Server, e.ExitCode, oneLine(e.Stdout))
	}
	return nil
}

// gone reports whether the farm has seen the server terminated.
func gone(st farm.Status, id string) bool {
	for _, r := range st.Roles {
		for _, s := range r.Servers {
			if s.ID == id {
				return s.State == farm.StateTerminated
			}
		}
	}
	return true
}

// oneLine joins a script's output lines with " | ".
func oneLine(s string) string {
	return strings.Join(strings.Split(strings.TrimSpace(s), "\n"), " | ")
}

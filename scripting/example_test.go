package scripting_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/farmhand/farmhand/scripting"
)

func ExampleRender() {
	out, err := scripting.Render(`echo "I am a %role_name%"; date +\%F`, scripting.Vars{"role_name": "app64"})
	fmt.Println(out, err)
	// Output: echo "I am a app64"; date +%F <nil>
}

func ExampleRender_unknownVariable() {
	s := scripting.Script{Name: "Tell me your name", Version: 1, Body: "echo %role_name% %db_host%"}
	_, err := s.Render(scripting.Vars{"role_name": "app64"})
	fmt.Println(err)
	var ue *scripting.UnknownVariablesError
	fmt.Println(errors.As(err, &ue), ue.Names)
	// Output:
	// script "Tell me your name" version 1: unknown variable %db_host% (write \% for a literal percent sign)
	// true [db_host]
}

// Percent signs that are not references are left as they are: a script
// keeps the percent signs of date, printf and awk.
func ExampleParse() {
	t, err := scripting.Parse(`tar czf /backup/%role_name%-$(date +%Y%m%d_%H%M).tgz /srv
df -h | awk '$5+0 > 90 {printf "%s at %d%%\n", $6, $5}'`)
	if err != nil {
		fmt.Println(err)
		return
	}
	out, _ := t.Render(scripting.Vars{"role_name": "app64"})
	fmt.Println(t.Names())
	fmt.Println(out)
	// Output:
	// [role_name]
	// tar czf /backup/app64-$(date +%Y%m%d_%H%M).tgz /srv
	// df -h | awk '$5+0 > 90 {printf "%s at %d%%\n", $6, $5}'
}

func ExampleContext_Vars() {
	c := scripting.Context{
		Farm:   scripting.FarmInfo{ID: "f-1", Name: "shop", CloudLocation: "us-east-1"},
		Server: scripting.ServerInfo{ID: "i-2", Role: "app64", Index: 2, InternalIP: "10.0.0.2"},
		Event: &scripting.EventInfo{
			Name:   "HostUp",
			Server: &scripting.ServerInfo{ID: "i-7", Role: "mysql", InternalIP: "10.0.0.7"},
		},
		FarmVars: scripting.Vars{"docroot": "/var/www", "db": "farm-db"},
		RoleVars: scripting.Vars{"db": "role-db"},
	}
	vars, err := c.Vars()
	if err != nil {
		fmt.Println(err)
		return
	}
	out, _ := scripting.Render("%role_name%#%instance_index% on %farm_name%: %event_name% of %event_role_name% at %event_internal_ip%, db=%db%, root=%docroot%", vars)
	fmt.Println(out)
	// Output: app64#2 on shop: HostUp of mysql at 10.0.0.7, db=role-db, root=/var/www
}

func ExampleEnvCommand() {
	fmt.Println(scripting.EnvCommand(scripting.Vars{"role_name": "app", "motto": "it's fine"}, "sh -s"))
	// Output: env 'FARM_MOTTO=it'\''s fine' 'FARM_ROLE_NAME=app' sh -s
}

func ExampleLibrary() {
	lib := scripting.NewLibrary(nil)
	lib.Save(scripting.Script{Name: "Tell me your name", Body: `echo "I am a %role_name%"`})
	lib.Save(scripting.Script{Name: "Tell me your name", Body: `echo "I am a %role_name%, and I have apache installed now"`})
	latest, _ := lib.Get("Tell me your name", scripting.Latest)
	first, _ := lib.Resolve(scripting.ScriptRef{Name: "Tell me your name", Version: 1})
	fmt.Println(latest.Version, latest.Body)
	fmt.Println(first.Version, first.Body)
	// Output:
	// 2 echo "I am a %role_name%, and I have apache installed now"
	// 1 echo "I am a %role_name%"
}

func ExampleMemoryLog() {
	ctx := context.Background()
	log := scripting.NewMemoryLog(1000)
	log.Append(ctx, scripting.LogEntry{Farm: "shop", Server: "i-1", Event: "HostUp", Script: "hello", ExitCode: 0})
	log.Append(ctx, scripting.LogEntry{Farm: "shop", Server: "i-2", Event: "HostUp", Script: "hello", ExitCode: 1, Stderr: "mail: not found\n"})
	failed, _ := log.Query(ctx, scripting.LogQuery{Farm: "shop", FailuresOnly: true})
	for _, e := range failed {
		fmt.Printf("%s %s exit %d: %s", e.Server, e.Script, e.ExitCode, e.Stderr)
	}
	// Output: i-2 hello exit 1: mail: not found
}

// This example shows the calls a farm makes to run a script on its
// servers. It needs reachable servers, so it has no output to check.
func ExampleExecutor_RunMany() {
	key, _ := scripting.GenerateKey("farmhand@shop") // put key.AuthorizedKey on the servers
	hostKeys, _ := scripting.NewHostKeys(nil)        // or with a HostKeySource / known_hosts
	// hostKeys.PinAuthorizedKeys("10.0.0.2:22", "ssh-ed25519 AAAA...")
	exec, err := scripting.NewExecutor(scripting.ExecutorOptions{
		Signers:  []ssh.Signer{key.Signer},
		HostKeys: hostKeys,
		Log:      scripting.NewMemoryLog(0),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	farm := scripting.FarmInfo{ID: "f-1", Name: "shop"}
	var targets []scripting.Target
	for i, ip := range []string{"10.0.0.2", "10.0.0.3"} {
		server := scripting.ServerInfo{ID: fmt.Sprint("i-", i), Role: "app64", Index: i + 1, InternalIP: ip}
		vars, _ := scripting.Context{Farm: farm, Server: server}.Vars()
		targets = append(targets, scripting.Target{Addr: ip + ":22", User: "root", ServerID: server.ID, Farm: farm.Name, Role: server.Role, Vars: vars})
	}
	job := scripting.Job{Script: scripting.Script{Name: "hello", Version: 1, Body: `echo "I am a %role_name%"`}, Timeout: time.Minute}
	sum, err := exec.RunMany(context.Background(), targets, job, &scripting.FanOutOptions{
		Width:    64,
		OnResult: func(r scripting.Result) { fmt.Println(r.Target.ServerID, r.Status(), r.Stdout) },
	})
	fmt.Println(sum, err)
}

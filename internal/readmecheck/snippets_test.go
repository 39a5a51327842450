package readmecheck

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/farmhand/farmhand/farm"
	"github.com/farmhand/farmhand/provider"
	"github.com/farmhand/farmhand/provider/ec2"
	"github.com/farmhand/farmhand/provider/fake"
	"github.com/farmhand/farmhand/provider/rackspace"
	"github.com/farmhand/farmhand/scripting"
)

// readmeScripts is the README's "Scripts" snippet, as written there.
func readmeScripts(spec farm.Spec, cloud provider.Provider) (*farm.Farm, error) {
	lib := scripting.NewLibrary(nil)
	for _, s := range []scripting.Script{
		{Name: "install", Body: `apt-get install -y -q nginx`},
		{Name: "hello", Body: `echo "I am a %role_name%"`},
	} {
		if _, err := lib.Save(s); err != nil {
			return nil, err
		}
	}
	key, err := scripting.GenerateKey("ops@shop") // installed on every server the farm launches
	if err != nil {
		return nil, err
	}
	spec.Roles[0].Scripts = []farm.ScriptBinding{
		{Event: farm.HostInit, Script: "install", Blocking: true, Timeout: 10 * time.Minute},
		{Event: farm.HostUp, Script: "hello"},
	}
	return farm.New(spec, cloud, &farm.Options{Scripting: &farm.ScriptingOptions{Library: lib, Key: key}})
}

func TestReadmeScripts(t *testing.T) {
	cloud := fake.New(fake.Options{})
	defer cloud.Close()
	spec := farm.Spec{Name: "shop", Roles: []farm.RoleSpec{{Name: "app", Image: "img", Min: 1, Max: 2}}}
	f, err := readmeScripts(spec, cloud)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := f.Spec().Roles[0].Scripts
	if len(b) != 2 || b[0].Event != farm.HostInit || !b[0].Blocking || b[1].Script != "hello" {
		t.Fatalf("bindings %+v", b)
	}
	// A binding to a script the library does not hold is refused by
	// farm.New, so the snippet's saves are what make it valid.
	spec.Roles[0].Scripts = []farm.ScriptBinding{{Event: farm.HostUp, Script: "missing"}}
	key, err := scripting.GenerateKey("t")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := farm.New(spec, cloud, &farm.Options{Scripting: &farm.ScriptingOptions{Library: scripting.NewLibrary(nil), Key: key}}); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("a binding to a missing script: %v", err)
	}
}

// readmeEC2 is the README's EC2 line, as written there.
func readmeEC2(ctx context.Context) (*ec2.Provider, error) {
	p, err := ec2.New(ctx, ec2.Options{Region: "us-east-1", SecurityGroupIDs: []string{"sg-..."}})
	return p, err
}

// readmeRackspace is the README's Rackspace line, as written there.
func readmeRackspace(ctx context.Context) (*rackspace.Provider, error) {
	p, err := rackspace.New(ctx, rackspace.OptionsFromEnv())
	return p, err
}

// The clouds' lines build drivers without calling the cloud: EC2 takes
// credentials from the environment and calls nothing until used; Rackspace
// without credentials says so before any call.
func TestReadmeClouds(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Chdir(home)
	p, err := readmeEC2(t.Context())
	if err != nil || p == nil {
		t.Fatalf("ec2.New: %v", err)
	}
	for _, v := range []string{"OS_USERNAME", "RAX_USERNAME", "OS_API_KEY", "RAX_API_KEY", "OS_PASSWORD", "OS_AUTH_URL",
		"OS_CLOUD", "OS_APPLICATION_CREDENTIAL_ID", "OS_APPLICATION_CREDENTIAL_SECRET", "OS_TOKEN", "OS_CLIENT_CONFIG_FILE"} {
		t.Setenv(v, "")
	}
	_, err = readmeRackspace(t.Context())
	if !errors.Is(err, provider.InvalidArgument) {
		t.Fatalf("rackspace.New without credentials: %v, want InvalidArgument", err)
	}
}

package route53_test

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// A program that uses the fake cloud and an RFC 2136 updater must not link
// the AWS SDK: that is why Route 53 lives in this package. The check lists
// the dependencies of such a program (examples/quickstart) and of the
// packages it is built from.
func TestProgramsWithoutRoute53DoNotLinkTheAWSSDK(t *testing.T) {
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	pkgs := []string{
		"github.com/farmhand/farmhand/examples/quickstart",
		"github.com/farmhand/farmhand/farm",
		"github.com/farmhand/farmhand/provider/fake",
		"github.com/farmhand/farmhand/dnsupdate",
	}
	out, err := exec.Command(gobin, append([]string{"list", "-deps"}, pkgs...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 20 {
		t.Fatalf("go list -deps listed only %d packages: %s", len(deps), out)
	}
	for _, d := range deps {
		if strings.HasPrefix(d, "github.com/aws/") {
			t.Errorf("%s links %s", strings.Join(pkgs, " "), d)
		}
	}
	// And this package does link it: the check is not vacuous.
	out, err = exec.Command(gobin, "list", "-deps", "github.com/farmhand/farmhand/dnsupdate/route53").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "github.com/aws/aws-sdk-go-v2/service/route53") {
		t.Fatalf("dnsupdate/route53 does not list the SDK's route53 package:\n%s", out)
	}
}

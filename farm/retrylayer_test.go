package farm

import (
	"errors"
	"testing"
	"testing/synctest"

	"github.com/farmhand/farmhand/provider"
	"github.com/farmhand/farmhand/provider/fake"
)

// retryingCloud is a driver that says it retries unavailable answers
// itself, as the EC2 driver's SDK retryer does.
type retryingCloud struct{ *fake.Provider }

func (retryingCloud) Retried(err error) bool { return provider.CodeOf(err) == provider.Unavailable }

var _ provider.Retrier = retryingCloud{}

func TestAProviderCallIsRetriedByOneLoopOnly(t *testing.T) {
	tests := []struct {
		name      string
		driver    func(*fake.Provider) provider.Provider
		wantLists int
		wantErr   bool
	}{
		{"the farm retries a driver that does not retry", func(c *fake.Provider) provider.Provider { return c }, 2, false},
		{"the farm does not retry what the driver retried", func(c *fake.Provider) provider.Provider { return retryingCloud{c} }, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cloud := fake.New(fake.Options{})
				defer cloud.Close()
				f, err := New(Spec{Name: "once", Roles: []RoleSpec{{Name: "app", Image: "img", Min: 1, Max: 1}}}, tt.driver(cloud), nil)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				if _, err := f.providerZones(t.Context()); err != nil {
					t.Fatal(err)
				}
				cloud.ResetCalls()
				cloud.FailNext(fake.OpList, 1, provider.Unavailable)
				err = f.Reconcile(t.Context())
				if gotErr := err != nil; gotErr != tt.wantErr || gotErr && !errors.Is(err, provider.Unavailable) {
					t.Fatalf("Reconcile: %v, want an error: %v", err, tt.wantErr)
				}
				lists := 0
				for _, c := range cloud.Calls() {
					if c.Op == fake.OpList {
						lists++
					}
				}
				if lists != tt.wantLists {
					t.Fatalf("List called %d times, want %d", lists, tt.wantLists)
				}
			})
		})
	}
}

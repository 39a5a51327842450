// Package providertest is the conformance suite every farmhand driver runs:
// the behaviours that package provider's "must" sentences promise, checked
// against a real driver.
//
// # Running it
//
// A driver's tests call [RunConformanceTests] with a [Harness] that makes a
// fresh provider per subtest and tells how to move the cloud's time on:
//
//	func TestConformance(t *testing.T) {
//		providertest.RunConformanceTests(t, providertest.Harness{
//			New: func(t *testing.T) (provider.Provider, func()) {
//				clk := clock.NewFake(time.Now())
//				p := fake.New(fake.Options{Clock: clk})
//				t.Cleanup(func() { p.Close() })
//				return p, func() { clk.Advance(fake.DefaultBootTime) }
//			},
//			Image:        "ami-fake",
//			InstanceType: "m1.small",
//		})
//	}
//
// Drivers for real clouds point their SDK at an httptest server that speaks
// the cloud's wire format; its settle function flips pending servers to
// running.
//
// # What it checks
//
// Launch returns Count servers carrying the spec's tags in the zone asked
// for; a repeated or retried launch with the same token returns the same
// servers and launches none; an invalid spec fails with InvalidArgument and
// launches nothing; List filters by tags and its pages visit every server
// exactly once; Get and Reboot of an unknown server fail with NotFound;
// Terminate is idempotent; servers go from pending to running; terminated
// servers are listed as gone or not at all. Error codes are checked with
// errors.Is, provider.CodeOf and errors.As alike.
//
// The suite assumes nothing fake-only: where a cloud may legitimately
// differ (a launch that is running at once, terminated servers that vanish
// at once) it accepts both answers.
package providertest

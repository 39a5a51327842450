package route53_test

import (
	"context"
	"log"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/farmhand/farmhand/dnsupdate"
	"github.com/farmhand/farmhand/dnsupdate/route53"
)

// A Route 53 updater takes the usual AWS configuration.
func ExampleNew() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatal(err)
	}
	u, err := route53.New(cfg, route53.Options{HostedZoneID: "Z0123456789ABC"})
	if err != nil {
		log.Fatal(err)
	}
	// Returns once Route 53 reports the change INSYNC.
	err = u.Set(ctx, dnsupdate.RecordSet{Name: "db.example.com", Type: "A", TTL: 60 * time.Second, Values: []string{"10.0.2.6"}})
	if err != nil {
		log.Fatal(err)
	}
}

package main

import (
	"github.com/farmhand/farmhand/examples/internal/webfarm"
	"github.com/farmhand/farmhand/farm"
)

// webFarm is the seed article's farm on EC2: the shared db and app64 roles,
// the app servers registered with the classic ELB elb (none when empty).
func webFarm(s webfarm.Shape, elb string) farm.Spec {
	app := webfarm.AppRole(s)
	app.LoadBalancer = elb
	return webfarm.Spec(s, webfarm.DBRole(s), app)
}

package main

import (
	"time"

	"github.com/farmhand/farmhand/farm"
	"github.com/farmhand/farmhand/scaling"
	"github.com/farmhand/farmhand/scripting"
)

// The scripts of the seed article's web farm, saved in the farm's script
// library. %install_cmd% is a farm variable: "apt-get -y install" on a real
// farm, and an echo of that command on the test servers, so that trying the
// example installs nothing on this machine. The article mailed the echo's
// output; here it lands in the scripting log.
var scripts = []scripting.Script{
	{
		Name:        "apache-install",
		Description: "the article's OnHostUp script of the app64 role",
		Body: `%install_cmd% apache2
echo "I am a %role_name%, and I have apache installed now"`,
	},
	{
		Name:        "mysql-install",
		Description: "the database's startup script; the farm moves db's DNS name, no curl needed",
		Body: `%install_cmd% mysql-server
# ... grab your SQL from somewhere and install it.
echo "I am a %role_name% at %internal_ip%; %db_name% points at the master"`,
	},
	{
		Name:        "db-reconnect",
		Description: "run on the app servers when the database master moves",
		Body:        `echo "%role_name% #%instance_index%: the master is now %event_internal_ip%, reconnecting to %db_name%"`,
	},
}

// shape holds what differs between a farm on EC2 and the same farm on the
// test servers.
type shape struct {
	name, location      string
	image, instanceType string
	// dnsZone names the farm's DNS names: db.ZONE for the database master,
	// int-app64.ZONE for every app server.
	dnsZone string
	// installCmd is %install_cmd%.
	installCmd string
	// runAs runs the scripts through sudo (the login user of Ubuntu's
	// images is not root); empty runs them as the login user.
	runAs string
	// loadBalancer is a classic ELB the app servers join; empty for none.
	loadBalancer string
	// sshPort is what the SSH health check dials.
	sshPort int
	// scripts binds the scripts; false when the farm cannot log in.
	scripts bool
	// evaluation is the scaling policy's interval; warmUp the time a new
	// server is counted but not measured.
	evaluation, warmUp time.Duration
}

// webFarm is the seed article's farm: a MySQL database whose master is
// always db.ZONE, and the app64 role of apache servers, which waits for the
// database, joins the load balancer and grows and shrinks with its load
// average.
func webFarm(s shape) farm.Spec {
	up, down := 2.0, 0.3
	db := farm.RoleSpec{
		Name: "db", Image: s.image, InstanceType: s.instanceType, Min: 1, Max: 2,
		Database: &farm.DatabaseSpec{},
		DNS:      []farm.DNSName{{Name: "db." + s.dnsZone, Select: farm.DNSSelectMaster, TTL: 30 * time.Second}},
	}
	app := farm.RoleSpec{
		Name: "app64", Image: s.image, InstanceType: s.instanceType, Min: 2, Max: 6,
		DependsOn:    []string{"db"},
		LoadBalancer: s.loadBalancer,
		DNS:          []farm.DNSName{{Name: "int-app64." + s.dnsZone}},
		HealthChecks: []farm.HealthCheckSpec{{Kind: "ssh", Port: s.sshPort}},
		Scaling: &farm.ScalingSpec{
			EvaluationInterval: s.evaluation,
			WarmUp:             s.warmUp,
			Thresholds: []farm.ThresholdSpec{{
				Metric:  scaling.MetricLoad1,
				UpAbove: &up, UpBy: "50%",
				DownBelow: &down, DownBy: "1",
				Datapoints: 3,
			}},
		},
	}
	if s.scripts {
		// Blocking, before the server enters service: db's name moves to
		// a new master, and NewDBMaster fires, only once MySQL runs there.
		db.Scripts = []farm.ScriptBinding{{Event: farm.BeforeHostUp, Script: "mysql-install", Blocking: true, RunAs: s.runAs, Timeout: 15 * time.Minute}}
		app.Scripts = []farm.ScriptBinding{
			{Event: farm.HostUp, Script: "apache-install", RunAs: s.runAs, Timeout: 10 * time.Minute},
			// NewDBMaster is farm-wide: app64's binding runs on every
			// app server when db gets a new master.
			{Event: farm.NewDBMaster, Script: "db-reconnect", Target: farm.TargetRole},
		}
	}
	return farm.Spec{
		Name:     s.name,
		Location: s.location,
		Variables: map[string]string{
			"install_cmd": s.installCmd,
			"db_name":     "db." + s.dnsZone,
		},
		Roles: []farm.RoleSpec{db, app},
	}
}

// newLibrary returns a library holding the scripts.
func newLibrary() (*scripting.Library, error) {
	lib := scripting.NewLibrary(nil)
	for _, s := range scripts {
		if _, err := lib.Save(s); err != nil {
			return nil, err
		}
	}
	return lib, nil
}

package webfarm

import (
	"time"

	"github.com/farmhand/farmhand/farm"
	"github.com/farmhand/farmhand/scaling"
	"github.com/farmhand/farmhand/scripting"
)

// Scripts are the scripts of the seed article's web farm, saved in the
// farm's script library. %install_cmd% is a farm variable: "apt-get -y
// install" on a real farm, and an echo of that command on the test servers,
// so that trying an example installs nothing on this machine. The article
// mailed the echo's output; here it lands in the scripting log.
var Scripts = []scripting.Script{
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

// Shape holds what differs between one run of the web farm and another.
// The program fills in what depends on where it runs (a real cloud or the
// test servers); the cloud adds Location, Image and InstanceType.
type Shape struct {
	Name, Location      string
	Image, InstanceType string
	// DNSZone names the farm's DNS names: db.ZONE for the database master,
	// int-app64.ZONE for every app server.
	DNSZone string
	// InstallCmd is %install_cmd%.
	InstallCmd string
	// RunAs runs the scripts through sudo (when the login user is not
	// root); empty runs them as the login user.
	RunAs string
	// SSHPort is what the SSH health check dials.
	SSHPort int
	// BindScripts binds the scripts to events; false when the farm cannot
	// log in.
	BindScripts bool
	// Evaluation is the scaling policy's interval; WarmUp the time a new
	// server is counted but not measured.
	Evaluation, WarmUp time.Duration
}

// DBRole is the seed article's MySQL database: one server, whose master is
// always db.ZONE. Its install script runs before the server enters service,
// so that db's name moves to a new master, and NewDBMaster fires, only once
// MySQL runs there.
func DBRole(s Shape) farm.RoleSpec {
	db := farm.RoleSpec{
		Name: "db", Image: s.Image, InstanceType: s.InstanceType, Min: 1, Max: 2,
		Database: &farm.DatabaseSpec{},
		DNS:      []farm.DNSName{{Name: "db." + s.DNSZone, Select: farm.DNSSelectMaster, TTL: 30 * time.Second}},
	}
	if s.BindScripts {
		db.Scripts = []farm.ScriptBinding{{Event: farm.BeforeHostUp, Script: "mysql-install", Blocking: true, RunAs: s.RunAs, Timeout: 15 * time.Minute}}
	}
	return db
}

// AppRole is the seed article's app64 role of apache servers, all of them
// int-app64.ZONE: it waits for the database, installs apache once a server
// is up, reconnects when the database master moves, and grows and shrinks
// with its load average.
func AppRole(s Shape) farm.RoleSpec {
	up, down := 2.0, 0.3
	app := farm.RoleSpec{
		Name: "app64", Image: s.Image, InstanceType: s.InstanceType, Min: 2, Max: 6,
		DependsOn:    []string{"db"},
		DNS:          []farm.DNSName{{Name: "int-app64." + s.DNSZone}},
		HealthChecks: []farm.HealthCheckSpec{{Kind: "ssh", Port: s.SSHPort}},
		Scaling: &farm.ScalingSpec{
			EvaluationInterval: s.Evaluation,
			WarmUp:             s.WarmUp,
			Thresholds: []farm.ThresholdSpec{{
				Metric:  scaling.MetricLoad1,
				UpAbove: &up, UpBy: "50%",
				DownBelow: &down, DownBy: "1",
				Datapoints: 3,
			}},
		},
	}
	if s.BindScripts {
		app.Scripts = []farm.ScriptBinding{
			{Event: farm.HostUp, Script: "apache-install", RunAs: s.RunAs, Timeout: 10 * time.Minute},
			// NewDBMaster is farm-wide: app64's binding runs on every
			// app server when db gets a new master.
			{Event: farm.NewDBMaster, Script: "db-reconnect", Target: farm.TargetRole},
		}
	}
	return app
}

// Spec is the farm of roles (usually DBRole, AppRole and what the cloud
// adds), with the variables the scripts use.
func Spec(s Shape, roles ...farm.RoleSpec) farm.Spec {
	return farm.Spec{
		Name:     s.Name,
		Location: s.Location,
		Variables: map[string]string{
			"install_cmd": s.InstallCmd,
			"db_name":     "db." + s.DNSZone,
		},
		Roles: roles,
	}
}

// newLibrary returns a library holding the web farm's scripts and the
// cloud's own.
func newLibrary(more []scripting.Script) (*scripting.Library, error) {
	lib := scripting.NewLibrary(nil)
	for _, s := range append(Scripts[:len(Scripts):len(Scripts)], more...) {
		if _, err := lib.Save(s); err != nil {
			return nil, err
		}
	}
	return lib, nil
}

package metrics

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/farmhand/farmhand/dnsupdate"
	"github.com/farmhand/farmhand/farm"
	"github.com/farmhand/farmhand/provider"
	"github.com/farmhand/farmhand/scaling"
	"github.com/farmhand/farmhand/scripting"
)

// Options configure a [Collector]. nil means the defaults.
type Options struct {
	// Namespace prefixes every metric name; empty means "farmhand".
	Namespace string
	// ProviderBuckets, FailoverBuckets and HealBuckets are the histogram
	// buckets in seconds; nil means the defaults (DefaultProviderBuckets,
	// DefaultFailoverBuckets, DefaultHealBuckets).
	ProviderBuckets, FailoverBuckets, HealBuckets []float64
}

// Default histogram buckets, in seconds.
var (
	DefaultProviderBuckets = []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
	DefaultFailoverBuckets = []float64{1, 2, 5, 10, 20, 30, 60, 120, 300}
	DefaultHealBuckets     = []float64{10, 30, 60, 120, 300, 600, 1200, 3600}
)

// Collector is a prometheus.Collector for farms. Register it once
// (prometheus.MustRegister(c)), then [Collector.Watch] each farm. Servers
// by role and state and the roles' counts are read from the farms when
// scraped; scaling actions, heals and failovers are counted from their
// events; cloud calls, DNS updates and script runs are counted by the
// wrappers [Collector.Provider] and [Collector.DNS] and the callback
// [Collector.ScriptResult]. It is safe for concurrent use.
type Collector struct {
	servers, desired, minimum, maximum *prometheus.Desc
	sshOpen, sshDials, sshReuses       *prometheus.Desc
	backupAge                          *prometheus.Desc
	costPerHour, costTotal             *prometheus.Desc

	providerCalls   *prometheus.CounterVec
	providerErrors  *prometheus.CounterVec
	providerLatency *prometheus.HistogramVec
	scalingActions  *prometheus.CounterVec
	scriptRuns      *prometheus.CounterVec
	scriptFailures  *prometheus.CounterVec
	dnsUpdates      *prometheus.CounterVec
	failoverSeconds *prometheus.HistogramVec
	healSeconds     *prometheus.HistogramVec
	events          *prometheus.CounterVec
	backups         *prometheus.CounterVec

	mu    sync.Mutex
	farms map[*farm.Farm]*watched
}

// watched is one farm's bookkeeping.
type watched struct {
	f      *farm.Farm
	cancel func()
	// down holds, per role, when each unplanned HostDown happened that no
	// HostUp has made good yet, oldest first.
	down map[string][]time.Time
	// failovers seen, by role, detection time and new master.
	seen map[string]bool
}

// New returns a collector. opts may be nil.
func New(opts *Options) *Collector {
	if opts == nil {
		opts = &Options{}
	}
	ns := opts.Namespace
	if ns == "" {
		ns = "farmhand"
	}
	buckets := func(b, def []float64) []float64 {
		if b == nil {
			return def
		}
		return b
	}
	c := &Collector{
		servers: prometheus.NewDesc(ns+"_servers", "Servers the farm knows, by role and state.",
			[]string{"farm", "role", "state"}, nil),
		desired:     prometheus.NewDesc(ns+"_role_desired_servers", "The role's desired server count.", []string{"farm", "role"}, nil),
		minimum:     prometheus.NewDesc(ns+"_role_min_servers", "The role's lower bound in force.", []string{"farm", "role"}, nil),
		maximum:     prometheus.NewDesc(ns+"_role_max_servers", "The role's upper bound in force.", []string{"farm", "role"}, nil),
		sshOpen:     prometheus.NewDesc(ns+"_ssh_connections_open", "SSH connections the farm keeps open to its servers.", []string{"farm"}, nil),
		sshDials:    prometheus.NewDesc(ns+"_ssh_pool_dials_total", "SSH handshakes of the farm's connection pool.", []string{"farm"}, nil),
		sshReuses:   prometheus.NewDesc(ns+"_ssh_pool_reuses_total", "Reads and commands served on an SSH connection already open.", []string{"farm"}, nil),
		costPerHour: prometheus.NewDesc(ns+"_cost_per_hour", "What the farm's servers running now cost per hour (RoleSpec.PricePerHour).", []string{"farm", "role"}, nil),
		costTotal:   prometheus.NewDesc(ns+"_cost_total", "What the farm has cost so far, from its servers' lifetimes.", []string{"farm", "role"}, nil),
		backupAge: prometheus.NewDesc(ns+"_backup_age_seconds",
			"Time since the newest complete backup of the role finished, on the farm's clock; absent before the first.", []string{"farm", "role"}, nil),
		backups: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "backups_total",
			Help: "Backups that ended, by result (complete, failed)."}, []string{"farm", "role", "result"}),
		providerCalls: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "provider_calls_total",
			Help: "Cloud provider calls, by provider and operation."}, []string{"provider", "operation"}),
		providerErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "provider_errors_total",
			Help: "Cloud provider calls that failed, by provider, operation and error code."}, []string{"provider", "operation", "code"}),
		providerLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "provider_call_duration_seconds",
			Help: "Cloud provider call latency, by provider and operation.", Buckets: buckets(opts.ProviderBuckets, DefaultProviderBuckets)},
			[]string{"provider", "operation"}),
		scalingActions: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "scaling_actions_total",
			Help: "Changes of a role's desired count, by direction (up, down, bounds) and reason (the scaling checks that decided, or api or program)."},
			[]string{"farm", "role", "direction", "reason"}),
		scriptRuns: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "script_runs_total",
			Help: "Script executions, by role, script and status (ok, failed, timedout, error)."},
			[]string{"farm", "role", "script", "status"}),
		scriptFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "script_failures_total",
			Help: "Script executions that did not exit 0, by role and script."}, []string{"farm", "role", "script"}),
		dnsUpdates: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "dns_updates_total",
			Help: "DNS updates, by operation (set, set_if, delete) and result (ok or the error's kind)."}, []string{"operation", "result"}),
		failoverSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "failover_duration_seconds",
			Help: "From the loss of a master to the announcement of the new one.", Buckets: buckets(opts.FailoverBuckets, DefaultFailoverBuckets)},
			[]string{"farm", "role"}),
		healSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "heal_duration_seconds",
			Help: "From a server's unplanned loss to a replacement entering service in its role.", Buckets: buckets(opts.HealBuckets, DefaultHealBuckets)},
			[]string{"farm", "role"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "events_total",
			Help: "Events the farm fired, by type."}, []string{"farm", "type"}),
		farms: map[*farm.Farm]*watched{},
	}
	return c
}

func (c *Collector) vecs() []prometheus.Collector {
	return []prometheus.Collector{c.providerCalls, c.providerErrors, c.providerLatency, c.scalingActions,
		c.scriptRuns, c.scriptFailures, c.dnsUpdates, c.failoverSeconds, c.healSeconds, c.events, c.backups}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.servers
	ch <- c.desired
	ch <- c.minimum
	ch <- c.maximum
	ch <- c.sshOpen
	ch <- c.sshDials
	ch <- c.sshReuses
	ch <- c.backupAge
	ch <- c.costPerHour
	ch <- c.costTotal
	for _, v := range c.vecs() {
		v.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	ws := make([]*watched, 0, len(c.farms))
	for _, w := range c.farms {
		ws = append(ws, w)
	}
	c.mu.Unlock()
	for _, w := range ws {
		c.noteFailovers(w)
		st := w.f.Status()
		for _, r := range st.Roles {
			for _, s := range farm.States {
				ch <- prometheus.MustNewConstMetric(c.servers, prometheus.GaugeValue, float64(r.Counts[s]), st.Farm, r.Name, string(s))
			}
			ch <- prometheus.MustNewConstMetric(c.desired, prometheus.GaugeValue, float64(r.Desired), st.Farm, r.Name)
			ch <- prometheus.MustNewConstMetric(c.minimum, prometheus.GaugeValue, float64(r.Min), st.Farm, r.Name)
			ch <- prometheus.MustNewConstMetric(c.maximum, prometheus.GaugeValue, float64(r.Max), st.Farm, r.Name)
		}
		c.collectBackups(ch, w.f, st)
		for _, rc := range w.f.Cost().Roles {
			ch <- prometheus.MustNewConstMetric(c.costPerHour, prometheus.GaugeValue, rc.PerHour, st.Farm, rc.Role)
			ch <- prometheus.MustNewConstMetric(c.costTotal, prometheus.CounterValue, rc.SoFar, st.Farm, rc.Role)
		}
		ps := w.f.SSHPoolStats()
		ch <- prometheus.MustNewConstMetric(c.sshOpen, prometheus.GaugeValue, float64(ps.Open), st.Farm)
		ch <- prometheus.MustNewConstMetric(c.sshDials, prometheus.CounterValue, float64(ps.Dials), st.Farm)
		ch <- prometheus.MustNewConstMetric(c.sshReuses, prometheus.CounterValue, float64(ps.Reuses), st.Farm)
	}
	for _, v := range c.vecs() {
		v.Collect(ch)
	}
}

// Watch starts counting f's events and reporting its servers. stop ends
// both (the counts so far stay). Watching a farm twice is an error.
func (c *Collector) Watch(f *farm.Farm) (stop func(), err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.farms[f]; ok {
		return nil, fmt.Errorf("metrics: farm %q is already watched", f.Name())
	}
	w := &watched{f: f, down: map[string][]time.Time{}, seen: map[string]bool{}}
	c.farms[f] = w
	w.cancel = f.Subscribe(func(ev farm.Event) { c.event(w, ev) })
	return func() {
		c.mu.Lock()
		if c.farms[f] == w {
			delete(c.farms, f)
		}
		c.mu.Unlock()
		w.cancel()
	}, nil
}

// ScriptResult counts a script's execution. Set it as
// farm.ScriptingOptions.OnResult (or call it from yours).
func (c *Collector) ScriptResult(ev farm.Event, r scripting.Result) {
	role := r.Target.Role
	if role == "" {
		role = ev.Role
	}
	st := r.Status()
	c.scriptRuns.WithLabelValues(ev.Farm, role, r.Script, st.String()).Inc()
	if st != scripting.StatusOK {
		c.scriptFailures.WithLabelValues(ev.Farm, role, r.Script).Inc()
	}
}

func (c *Collector) providerCall(name, op string, d time.Duration, err error) {
	c.providerCalls.WithLabelValues(name, op).Inc()
	c.providerLatency.WithLabelValues(name, op).Observe(d.Seconds())
	if err != nil {
		c.providerErrors.WithLabelValues(name, op, label(provider.CodeOf(err).String())).Inc()
	}
}

func (c *Collector) dnsUpdate(op string, err error) {
	result := "ok"
	if err != nil {
		result = "error"
		if k := dnsupdate.KindOf(err); k != nil {
			result = label(strings.TrimPrefix(k.Error(), "dnsupdate: "))
		}
	}
	c.dnsUpdates.WithLabelValues(op, result).Inc()
}

// label turns "not found" into "not_found".
func label(s string) string { return strings.ReplaceAll(s, " ", "_") }

// event counts one event of w's farm. Events of one farm arrive in order,
// one at a time.
func (c *Collector) event(w *watched, ev farm.Event) {
	c.events.WithLabelValues(ev.Farm, string(ev.Type)).Inc()
	switch ev.Type {
	case farm.ScalingDecision:
		c.scalingAction(w, ev)
	case farm.HostDown:
		if planned(ev) {
			return
		}
		c.mu.Lock()
		w.down[ev.Role] = append(w.down[ev.Role], ev.Time)
		c.mu.Unlock()
	case farm.HostUp:
		c.mu.Lock()
		q := w.down[ev.Role]
		var since time.Time
		if len(q) > 0 {
			since, w.down[ev.Role] = q[0], q[1:]
		}
		c.mu.Unlock()
		if !since.IsZero() {
			c.healSeconds.WithLabelValues(ev.Farm, ev.Role).Observe(ev.Time.Sub(since).Seconds())
		}
	case farm.NewDBMaster, farm.NFSServerChanged:
		c.noteFailovers(w)
	case farm.BackupComplete:
		c.backups.WithLabelValues(ev.Farm, ev.Role, "complete").Inc()
	case farm.BackupFailed:
		c.backups.WithLabelValues(ev.Farm, ev.Role, "failed").Inc()
	}
}

// backupReadTimeout bounds the read of a farm's backup records at a scrape
// (they may be in an external Store).
const backupReadTimeout = 5 * time.Second

// collectBackups reports the age of each backed-up role's newest complete
// backup. A role whose records cannot be read is left out.
func (c *Collector) collectBackups(ch chan<- prometheus.Metric, f *farm.Farm, st farm.Status) {
	for _, r := range f.Spec().Roles {
		if r.Backup == nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), backupReadTimeout)
		bs, err := f.Backups(ctx, r.Name)
		cancel()
		if err != nil {
			continue
		}
		for _, b := range bs { // newest first
			if b.Status == farm.BackupStatusComplete && !b.Finished.IsZero() {
				ch <- prometheus.MustNewConstMetric(c.backupAge, prometheus.GaugeValue, st.Time.Sub(b.Finished).Seconds(), st.Farm, r.Name)
				break
			}
		}
	}
}

// planned reports whether a HostDown is the farm's own doing (a scale-in
// or the farm's termination) rather than a loss to heal.
func planned(ev farm.Event) bool {
	return strings.HasPrefix(ev.Reason, "scale-in") || strings.Contains(ev.Reason, "farm terminat")
}

func (c *Collector) scalingAction(w *watched, ev farm.Event) {
	var from, to int
	_, err1 := fmt.Sscan(ev.Params["from"], &from)
	_, err2 := fmt.Sscan(ev.Params["to"], &to)
	if errors.Join(err1, err2) != nil {
		return
	}
	direction := "bounds"
	vote := scaling.VoteHold
	switch {
	case to > from:
		direction, vote = "up", scaling.VoteUp
	case to < from:
		direction, vote = "down", scaling.VoteDown
	}
	reason := ev.Params["origin"]
	if reason == string(farm.OriginPolicy) && vote != scaling.VoteHold {
		// The checks that voted for the change: their names are the
		// policy's own, so the label's values stay few.
		hist := w.f.ScalingHistory(ev.Role)
		for i := len(hist) - 1; i >= 0; i-- {
			h := hist[i]
			if !h.Time.Equal(ev.Time) || h.From != from || h.To != to {
				continue
			}
			var names []string
			for _, ch := range h.Checks {
				if ch.Vote == vote && !slices.Contains(names, ch.Check) {
					names = append(names, ch.Check)
				}
			}
			if len(names) > 0 {
				reason = strings.Join(names, ",")
			}
			break
		}
	}
	if reason == "" {
		reason = "unknown"
	}
	c.scalingActions.WithLabelValues(ev.Farm, ev.Role, direction, reason).Inc()
}

// noteFailovers observes the durations of w's failovers not seen yet.
func (c *Collector) noteFailovers(w *watched) {
	for _, fo := range w.f.Failovers() {
		if fo.Announced.IsZero() || fo.Detected.IsZero() {
			continue
		}
		key := fmt.Sprintf("%s|%d|%s", fo.Role, fo.Detected.UnixNano(), fo.NewMaster)
		c.mu.Lock()
		seen := w.seen[key]
		w.seen[key] = true
		c.mu.Unlock()
		if !seen {
			c.failoverSeconds.WithLabelValues(w.f.Name(), fo.Role).Observe(fo.Announced.Sub(fo.Detected).Seconds())
		}
	}
}

var _ prometheus.Collector = (*Collector)(nil)

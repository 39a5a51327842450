package scaling

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Names of the metrics the built-in sources provide. Any other name may be
// used for a Prometheus query, a URL or a custom function.
const (
	// MetricLoad1, MetricLoad5 and MetricLoad15 are the 1, 5 and 15 minute
	// load averages of /proc/loadavg, per server.
	MetricLoad1  = "load1"
	MetricLoad5  = "load5"
	MetricLoad15 = "load15"
	// MetricFreeRAM is the memory available for new work, in MiB, per server
	// (MemAvailable of /proc/meminfo, or MemFree+Buffers+Cached on kernels
	// without it).
	MetricFreeRAM = "free_ram_mb"
	// MetricURLResponse is the response time of a URL in seconds, for the
	// role as a whole.
	MetricURLResponse = "url_response_seconds"
)

// Scope says what a [Sample] measured.
type Scope int

const (
	// PerServer: one value per server, in Sample.PerServer.
	PerServer Scope = iota
	// RoleWide: one value for the whole role, in Sample.Value (a Prometheus
	// query, a queue length, a URL's response time).
	RoleWide
)

// String is "per-server" or "role-wide".
func (s Scope) String() string {
	if s == RoleWide {
		return "role-wide"
	}
	return "per-server"
}

// Aggregate says how a check reads a metric.
type Aggregate int

const (
	// Average (the default) reads the metric as a per-server figure: the mean
	// of the servers' values, or a role-wide value as it is.
	Average Aggregate = iota
	// Total reads the metric as the role's total: the sum of the servers'
	// values, or a role-wide value as it is.
	Total
)

// String is "avg" or "total".
func (a Aggregate) String() string {
	if a == Total {
		return "total"
	}
	return "avg"
}

// Sample is one measurement of one metric of a role.
type Sample struct {
	// Metric names what was measured, such as [MetricLoad1].
	Metric string
	// Time is when it was measured. A sample older than two evaluation
	// intervals counts as missing; the zero Time is never stale.
	Time time.Time
	// Scope says whether PerServer or Value holds the measurement.
	Scope Scope
	// PerServer maps server IDs to their values (Scope PerServer).
	PerServer map[string]float64
	// Missing maps server IDs whose measurement failed to the error
	// (Scope PerServer). A missing server makes the sample incomplete, which
	// blocks scale-in.
	Missing map[string]error
	// Value is the role-wide value (Scope RoleWide).
	Value float64
	// Err is set when the whole measurement failed; the other fields are then
	// meaningless.
	Err error
}

// reading is what a metric check sees after warm-up servers are taken out.
type reading struct {
	value     float64 // the aggregated value
	measured  int     // servers that contributed (per-server samples)
	missing   []string
	noData    string // non-empty: the reading is unusable, and why
	roleWide  bool
	aggregate Aggregate
}

// incomplete reports whether some server that should have been measured was
// not.
func (r reading) incomplete() bool { return len(r.missing) > 0 }

// label renders the metric with its aggregation, such as "load1 avg".
func (r reading) label(metric string) string {
	if r.roleWide {
		return metric
	}
	return metric + " " + r.aggregate.String()
}

// read aggregates the sample of metric for a check. It never returns a value
// built on an unusable sample: noData then says why.
func (e *evalContext) read(metric string, agg Aggregate) reading {
	r := reading{aggregate: agg}
	s, ok := e.in.Metrics[metric]
	switch {
	case !ok:
		r.noData = fmt.Sprintf("no sample for %s", metric)
		return r
	case s.Err != nil:
		r.noData = fmt.Sprintf("%s failed: %v", metric, s.Err)
		return r
	case !s.Time.IsZero() && e.in.Now.Sub(s.Time) > 2*e.policy.EvaluationInterval:
		r.noData = fmt.Sprintf("%s sample is stale (taken %s ago)", metric, e.in.Now.Sub(s.Time).Round(time.Second))
		return r
	}
	if s.Scope == RoleWide {
		r.roleWide = true
		r.value = s.Value
		return r
	}
	var sum float64
	if e.in.Servers == nil {
		// Without a server list nothing is known to be warming up: every
		// value counts.
		for _, v := range s.PerServer {
			sum += v
			r.measured++
		}
		for id := range s.Missing {
			r.missing = append(r.missing, id)
		}
	} else {
		for _, srv := range e.in.Servers {
			if e.warming(srv) {
				continue
			}
			if v, ok := s.PerServer[srv.ID]; ok {
				sum += v
				r.measured++
			} else {
				r.missing = append(r.missing, srv.ID)
			}
		}
	}
	sort.Strings(r.missing)
	if r.measured == 0 {
		r.noData = fmt.Sprintf("no server measured for %s%s", metric, e.unmeasuredNote(s, r.missing))
		return r
	}
	r.value = sum
	if agg == Average {
		r.value = sum / float64(r.measured)
	}
	return r
}

// unmeasuredNote explains why servers were not measured.
func (e *evalContext) unmeasuredNote(s Sample, missing []string) string {
	var parts []string
	if e.warmingCount > 0 {
		parts = append(parts, fmt.Sprintf("%d warming up", e.warmingCount))
	}
	if len(missing) > 0 {
		parts = append(parts, missingNote(s, missing))
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// missingNote names the unmeasured servers and the first error.
func missingNote(s Sample, missing []string) string {
	const show = 3
	names := missing
	if len(names) > show {
		names = names[:show]
	}
	note := fmt.Sprintf("%d not measured: %s", len(missing), strings.Join(names, ", "))
	if len(missing) > show {
		note += ", …"
	}
	if err := s.Missing[missing[0]]; err != nil {
		note += fmt.Sprintf(" (%s: %v)", missing[0], err)
	}
	return note
}

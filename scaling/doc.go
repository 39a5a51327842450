// Package scaling decides how many servers each role of a farm should run:
// on load, on a schedule, or on calls to an API. It does not launch or stop
// anything itself; package farm carries out its decisions.
//
// # Policies and checks
//
// A [Policy] holds a role's bounds (Min, Max, both inclusive), how often it
// is evaluated, its cooldowns (separate for growing and shrinking, 300 s by
// default as in AWS Auto Scaling), a warm-up for new servers, and checks:
//
//   - [Threshold]: grow or shrink by a step (a count or a percentage) when a
//     metric stays above or below a value for N consecutive evaluations;
//     scale up on a high load average, or on low free RAM.
//   - [TargetValue]: keep a metric per server near a target, as AWS target
//     tracking does, with a tolerance band against flapping.
//   - [Schedule]: weekly windows or cron expressions, in a time zone and
//     following its wall clock across daylight-saving changes, that replace
//     Min and Max and vote for a Desired count while active.
//   - [APICapacity]: a count set through the HTTP API or
//     [Evaluator.SetDesired], optionally expiring.
//
// [Policy.Validate] reports every mistake at once, naming the field and the
// value.
//
// # Decisions are pure
//
// [Decide] takes everything it looks at in an [Input] (policy, time, count,
// servers with launch times, metric samples, the previous [State]) and
// returns a [Decision] with its action, target count and a reason people
// can read, such as
//
//	load1 avg 3.40 > 2.00 for 3 datapoints: +2 (4 → 6)
//
// The rules, in order:
//
//  1. Every check votes: up, down, hold, abstain, or no data.
//  2. Scale-up beats none beats scale-down: the largest scale-up wins; else
//     the count holds if any check holds or lacks data; else the largest of
//     the scale-down targets (the smallest reduction) wins.
//  3. A failed, missing, stale or incomplete metric means no scale-down in
//     that evaluation, and the reason says so. It never causes an action.
//  4. The result is clamped to [Min, Max], with active schedule windows
//     applied. A count outside the bounds is brought inside at once.
//  5. Cooldowns hold an action back: no scale-up within CooldownUp of the
//     last scale-up, no scale-down within CooldownDown of the last action.
//
// Servers younger than WarmUp are counted but not measured, and metric
// checks do not shrink a role while any server is warming up.
//
// An [Evaluator] keeps the [State] (breach streaks, last actions, the
// API-set count) from one evaluation to the next for one role.
//
// # Metrics
//
// A [Source] measures a role ([Target]) and returns [Sample]s, per server or
// role-wide; [Collect] runs several and turns failures into samples that
// block scale-in:
//
//   - [Proc] reads /proc/loadavg and /proc/meminfo on every server through a
//     [CommandRunner] (package farm runs it over SSH with package scripting);
//     a server that does not answer is missing data.
//   - [Prometheus] runs an instant query against the HTTP API.
//   - [URL] times a GET of a URL; a non-2xx answer is an error.
//   - [Func] wraps a Go function.
//
// # The HTTP API
//
// [NewHandler] returns an http.Handler with three calls, authenticated by a
// bearer token ([BearerToken]) or an HMAC-SHA256 signature over timestamp,
// method, URI and body ([NewHMAC], [SignRequest]):
//
//	GET  …/roles/{role}           → {"role": "app", "desired": 4, "running": 3, "min": 2, "max": 8}
//	POST …/roles/{role}/desired   {"desired": 5}
//	POST …/events/{name}          {"version": "1.4.2"}
//
// An unauthenticated call gets 401 and reads or changes nothing; an unknown
// role gets 404, a role that does not take API calls 403, bad input 400,
// each with a JSON error naming the field. The [APITarget] (package farm)
// does the work and returns a [*RequestError] for requests it refuses.
//
// # Trying a policy on a recorded day
//
// [ReadTrace] reads a CSV load trace ("time,load"), and [Simulate] replays a
// policy over it in pure form, a day in milliseconds, returning the capacity
// timeline, the number of actions and the server-hours it would cost. An
// empty load in the trace is a missing datapoint, fed to the policy as a
// failed metric: no scale-in during a gap.
package scaling

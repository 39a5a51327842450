package farm

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/farmhand/farmhand/store"
)

// keyCost is the farm's cost so far in its Store (a costRecord), so that a
// restarted controller goes on counting.
const keyCost = "cost"

// costSaveEvery is how often the cost so far is written to the Store.
const costSaveEvery = time.Minute

// CostReport is what a farm costs, from its roles' prices
// ([RoleSpec.PricePerHour]) and its servers' lifetimes on the farm's
// clock: every server the cloud runs for the farm costs its role's price
// per hour from its launch until it is gone.
type CostReport struct {
	// At is when the report was made, on the farm's clock.
	At time.Time
	// PerHour is what the servers running now cost per hour.
	PerHour float64
	// SoFar is what the farm has cost since it was launched, and
	// ThisMonth since the calendar month began in the farm's time zone.
	SoFar     float64
	ThisMonth float64
	// Roles holds each role's part, in spec order.
	Roles []RoleCost
	// Budget is the farm's budget (Spec.Budget), nil without one.
	Budget *BudgetSpec
	// Blocked says, per role, why the budget last held it back; a role
	// is absent once it grew or shrank since.
	Blocked map[string]string
}

// RoleCost is one role's part of a [CostReport].
type RoleCost struct {
	// Role names the role, and PricePerHour is its RoleSpec.PricePerHour.
	Role         string
	PricePerHour float64
	// Servers are the role's servers that cost money now (launched and
	// not gone).
	Servers int
	// PerHour is what those servers cost per hour, and SoFar what the
	// role has cost since the farm was launched.
	PerHour float64
	SoFar   float64
}

// costLedger accrues the farm's cost. Guarded by Farm.mu.
type costLedger struct {
	loc        *time.Location
	paid       map[string]time.Time // server ID → accrued up to
	roles      map[string]float64   // role → cost so far
	month      time.Time            // start of the month ThisMonth counts
	thisMonth  float64
	blocked    map[string]string
	restored   bool
	lastSave   time.Time
	lastAccrue time.Time
}

// costRecord is the keyCost record.
type costRecord struct {
	Roles     map[string]float64 `json:"roles"`
	Month     time.Time          `json:"month"`
	ThisMonth float64            `json:"this_month"`
}

// initCost checks the prices and the budget. Called by New.
func (f *Farm) initCost() []error {
	var errs []error
	for i, r := range f.spec.Roles {
		if r.PricePerHour < 0 {
			errs = append(errs, &FieldError{Path: fmt.Sprintf("roles[%d].price_per_hour", i), Role: r.Name,
				Msg: fmt.Sprintf("price_per_hour %v is negative", r.PricePerHour)})
		}
	}
	if b := f.spec.Budget; b != nil {
		if b.PerHour < 0 {
			errs = append(errs, &FieldError{Path: "budget.per_hour", Msg: fmt.Sprintf("budget.per_hour %v is negative", b.PerHour)})
		}
		if b.PerMonth < 0 {
			errs = append(errs, &FieldError{Path: "budget.per_month", Msg: fmt.Sprintf("budget.per_month %v is negative", b.PerMonth)})
		}
	}
	loc, err := time.LoadLocation(f.spec.TimeZone)
	if err != nil {
		loc = time.UTC // the time zone's own check reports it
	}
	f.cost = &costLedger{loc: loc, paid: map[string]time.Time{}, roles: map[string]float64{}, blocked: map[string]string{}}
	return errs
}

// monthStart returns the start of t's calendar month in loc.
func monthStart(t time.Time, loc *time.Location) time.Time {
	t = t.In(loc)
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, loc)
}

// costs reports whether a server in this state is paid for.
func (r *record) costs() bool {
	return r.srv.State != StateTerminated && !r.srv.LaunchedAt.IsZero()
}

// accrueCostLocked adds what every server cost since it was last counted,
// up to now. Reconcile calls it before each listing is applied, so a
// server that is gone is paid for up to the listing that showed it gone.
func (f *Farm) accrueCostLocked(now time.Time) {
	c := f.cost
	if c == nil {
		return
	}
	if !c.restored {
		c.restored = true
		f.restoreCostLocked()
	}
	if m := monthStart(now, c.loc); m.After(c.month) {
		c.month, c.thisMonth = m, 0 // a new month
	}
	for id, r := range f.records {
		if !r.costs() {
			delete(c.paid, id)
			continue
		}
		from, ok := c.paid[id]
		if !ok || from.Before(r.srv.LaunchedAt) {
			from = r.srv.LaunchedAt
		}
		if !now.After(from) {
			continue
		}
		price := f.roles[r.srv.Role].spec.PricePerHour
		c.paid[id] = now
		if price == 0 {
			continue
		}
		c.roles[r.srv.Role] += price * now.Sub(from).Hours()
		if start := later(from, c.month); now.After(start) {
			c.thisMonth += price * now.Sub(start).Hours()
		}
	}
	for id := range c.paid {
		if f.records[id] == nil {
			delete(c.paid, id)
		}
	}
	c.lastAccrue = now
	if f.persist != nil && now.Sub(c.lastSave) >= costSaveEvery {
		c.lastSave = now
		f.persist.appended = append(f.persist.appended, store.Put(keyCost, mustJSON(costRecord{
			Roles: c.roles, Month: c.month, ThisMonth: c.thisMonth,
		})))
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// restoreCostLocked takes up the cost so far a previous controller saved.
func (f *Farm) restoreCostLocked() {
	p := f.persist
	if p == nil {
		return
	}
	for _, kv := range p.other {
		if kv.Key != keyCost {
			continue
		}
		var rec costRecord
		if err := json.Unmarshal(kv.Value, &rec); err != nil {
			f.log.Warn("farm: the saved cost is unreadable; counting from zero", "err", err)
			return
		}
		for role, v := range rec.Roles {
			f.cost.roles[role] += v
		}
		f.cost.month, f.cost.thisMonth = rec.Month, rec.ThisMonth
	}
}

// Cost reports what the farm costs now and has cost so far, counted up to
// the farm's clock now.
func (f *Farm) Cost() CostReport {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.clk.Now()
	c := f.cost
	if !c.restored {
		c.restored = true
		f.restoreCostLocked()
	}
	if f.launched && !f.closed {
		f.accrueCostLocked(now)
	}
	rep := CostReport{At: now, ThisMonth: c.thisMonth, Blocked: map[string]string{}}
	if f.spec.Budget != nil {
		b := *f.spec.Budget
		rep.Budget = &b
	}
	for role, why := range c.blocked {
		rep.Blocked[role] = why
	}
	for _, name := range f.order {
		rs := f.roles[name]
		rc := RoleCost{Role: name, PricePerHour: rs.spec.PricePerHour, SoFar: c.roles[name]}
		for _, r := range f.records {
			if r.srv.Role == name && r.costs() {
				rc.Servers++
			}
		}
		rc.PerHour = float64(rc.Servers) * rc.PricePerHour
		rep.PerHour += rc.PerHour
		rep.SoFar += rc.SoFar
		rep.Roles = append(rep.Roles, rc)
	}
	return rep
}

// budgetLimitLocked returns the count the budget lets a role grow to from
// its desired count towards to, and the reason when it holds it back.
func (f *Farm) budgetLimitLocked(role string, to, minCount int) (int, string) {
	rs := f.roles[role]
	if f.spec.Budget == nil || rs.spec.PricePerHour <= 0 || to <= rs.desired {
		return to, ""
	}
	now := f.clk.Now()
	in := budgetInput{
		Budget: *f.spec.Budget, Price: rs.spec.PricePerHour,
		From: rs.desired, To: to, Min: minCount,
	}
	for _, name := range f.order {
		if name != role {
			o := f.roles[name]
			in.OthersPerHour += float64(o.desired) * o.spec.PricePerHour
		}
	}
	if in.Budget.PerMonth > 0 {
		if f.launched {
			f.accrueCostLocked(now)
		}
		in.MonthSpent = f.cost.thisMonth
		in.HoursLeft = monthStart(now, f.cost.loc).AddDate(0, 1, 0).Sub(now).Hours()
	}
	return budgetAllows(in)
}

// budgetBlockedLocked notes that the budget held a role back from wanted
// and fires ScalingDecision saying so, once per reason: the desired count
// stays (params "from" and "to" equal, "wanted" the count asked for,
// "blocked" "budget").
func (f *Farm) budgetBlockedLocked(role string, from, stays, wanted int, origin ScalingOrigin, why string) {
	if f.cost.blocked[role] == why {
		return
	}
	f.cost.blocked[role] = why
	f.log.Warn("farm: scale-out blocked by the budget", "role", role, "from", from, "wanted", wanted, "stays", stays, "reason", why)
	if stays != from {
		return // the growth that happens fires its own ScalingDecision, with this reason
	}
	rs := f.roles[role]
	f.emitLocked(Event{Type: ScalingDecision, Role: role, Reason: why, Params: map[string]string{
		"from": strconv.Itoa(from), "to": strconv.Itoa(from), "wanted": strconv.Itoa(wanted), "reason": why,
		"min": strconv.Itoa(rs.min), "max": strconv.Itoa(rs.max), "origin": string(origin), "blocked": "budget",
	}})
}

// budgetGuardLocked returns the count a role asked to grow from its
// desired count to to may have under the budget, and why when it is
// less; it notes and reports a role the budget holds back.
//
// A refused change (refuse) leaves the role at its desired count; else
// the role grows as far as the budget allows.
func (f *Farm) budgetGuardLocked(role string, to, minCount int, origin ScalingOrigin, refuse bool) (int, string) {
	rs := f.roles[role]
	n, why := f.budgetLimitLocked(role, to, minCount)
	if n == to {
		if to != rs.desired {
			delete(f.cost.blocked, role)
		}
		return to, ""
	}
	stays := n
	if refuse {
		stays = rs.desired
	}
	f.budgetBlockedLocked(role, rs.desired, stays, to, origin, why)
	return n, why
}

package farm

import "github.com/farmhand/farmhand/provider"

// tickScratch holds buffers that every Reconcile reuses, so that a tick
// over a farm at rest allocates little: a controller of 10,000 servers
// lists and plans each of them every tick. Guarded by Farm.tickMu; nothing
// in them outlives the tick that filled them.
type tickScratch struct {
	list []provider.Server // the listing (listCloud)
	seen map[string]bool   // servers the listing showed (observeLocked)
	plan []planServer      // one role's servers for planRole (planLocked)
}

// takeList returns the listing buffer, empty.
func (s *tickScratch) takeList() []provider.Server { return s.list[:0] }

// giveList takes the listing buffer back once the tick is done with it,
// dropping its references so that the garbage collector may have them.
func (s *tickScratch) giveList(l []provider.Server) {
	clear(l)
	s.list = l[:0]
}

// seenSet returns the seen set, empty.
func (s *tickScratch) seenSet() map[string]bool {
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	clear(s.seen)
	return s.seen
}

// takePlan returns the plan buffer, empty.
func (s *tickScratch) takePlan() []planServer { return s.plan[:0] }

// givePlan takes the plan buffer back.
func (s *tickScratch) givePlan(p []planServer) {
	clear(p)
	s.plan = p[:0]
}

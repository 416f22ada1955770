package redisstore

// The stores with a fail mode report it to the Collector and the admin's
// GET /fleet through StoreReporter.

var (
	_ StoreReporter = (*ThrottleStore)(nil)
	_ StoreReporter = (*FleetBudget)(nil)
	_ StoreReporter = (*Membership)(nil)
)

// StoreStats reports the decisions the throttle's fail mode made instead of
// Redis. A throttle decides per call, so its state has no age: Staleness
// is zero; Synced is true once a take reached Redis.
func (s *ThrottleStore) StoreStats() StoreStats {
	return StoreStats{Store: s.guard.Name(), Fallbacks: s.Fallbacks(), Synced: s.c.takes.Load() > 0}
}

// StoreStats reports the evaluations that used local counts because the
// fleet view was stale, and the age of the last successful sync.
func (f *FleetBudget) StoreStats() StoreStats {
	st := f.Stats()
	out := StoreStats{Store: f.guard.Name(), Fallbacks: st.Fallbacks, Synced: !st.LastSync.IsZero()}
	if out.Synced {
		out.Staleness = f.clock.Now().Sub(st.LastSync)
	}
	return out
}

package redisstore

import (
	"context"

	"github.com/baldur-go/baldur/admin"
)

// AdminFleet returns the view GET /fleet serves (set it as admin.Config.Fleet):
// the members of m's cluster, and for every guard of m's backend its
// counters and breaker state, with the fallbacks and staleness of m and of
// stores (matched to their guards by StoreStats.Store).
func (m *Membership) AdminFleet(stores ...StoreReporter) admin.Fleet {
	return adminFleet{m: m, stores: append([]StoreReporter{m}, stores...)}
}

type adminFleet struct {
	m      *Membership
	stores []StoreReporter
}

func (f adminFleet) Members(ctx context.Context) ([]admin.FleetMember, error) {
	ms, err := f.m.Members(ctx)
	out := make([]admin.FleetMember, len(ms))
	for i, m := range ms {
		out[i] = admin.FleetMember{ID: m.ID, Cluster: m.Cluster, Version: m.Version, Started: m.Started, ConfigHash: m.ConfigHash, Expires: m.Expires}
	}
	return out, err
}

func (f adminFleet) Stores() []admin.FleetStore {
	reported := make(map[string]StoreStats, len(f.stores))
	for _, s := range f.stores {
		st := s.StoreStats()
		reported[st.Store] = st
	}
	guards := f.m.guard.b.sortedGuards()
	out := make([]admin.FleetStore, 0, len(guards))
	for _, g := range guards {
		st := g.Stats()
		fs := admin.FleetStore{Name: g.name, Breaker: st.State.String(), Calls: st.Calls, RoundTrips: st.RoundTrips,
			Errors: st.Errors, Timeouts: st.Timeouts, Rejected: st.Rejected}
		if r, ok := reported[g.name]; ok {
			fs.Fallbacks = r.Fallbacks
			if r.Synced {
				s := r.Staleness.Seconds()
				fs.StalenessSeconds = &s
			}
		}
		out = append(out, fs)
	}
	return out
}

package canary

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Record is a rollout as a RecordStore keeps it: enough for another
// controller to take it over.
type Record struct {
	Status   Status    `json:"status"`
	Plan     Plan      `json:"plan"`
	Snapshot []byte    `json:"snapshot"`
	ApplyAt  time.Time `json:"apply_at"`
	Judged   int64     `json:"judged"`
	BlastID  string    `json:"blast_id,omitempty"`
}

// RecordStore keeps the rollouts' records, so that a controller that
// replaces a crashed one takes its rollouts over (Service.Recover). Save is
// a compare-and-set on the record's version.
// Implementations must be safe for concurrent use.
type RecordStore interface {
	// Save stores rec when the stored version of its rollout is prev
	// (0: none is stored); otherwise it returns an error matching
	// ErrConflict and stores nothing.
	Save(ctx context.Context, rec Record, prev uint64) error
	// Records returns every stored record.
	Records(ctx context.Context) ([]Record, error)
}

// MemoryRecords is a RecordStore for one process (tests, a controller
// and its standby in one binary). Safe for concurrent use.
type MemoryRecords struct {
	mu sync.Mutex
	m  map[string]Record
}

// NewMemoryRecords returns an empty store.
func NewMemoryRecords() *MemoryRecords { return &MemoryRecords{m: map[string]Record{}} }

// Save stores rec when the stored version is prev.
func (s *MemoryRecords) Save(_ context.Context, rec Record, prev uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.m[rec.Status.RolloutID]
	var have uint64
	if ok {
		have = cur.Status.Version
	}
	if have != prev {
		return fmt.Errorf("%w: rollout %s is at version %d, not %d", ErrConflict, rec.Status.RolloutID, have, prev)
	}
	s.m[rec.Status.RolloutID] = rec
	return nil
}

// Records returns every record.
func (s *MemoryRecords) Records(context.Context) ([]Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Record, 0, len(s.m))
	for _, r := range s.m {
		out = append(out, r)
	}
	return out, nil
}

// persist saves every rollout changed since its last save, and then sends
// the queued notifications; actions defer it. A failed save is logged: the
// action took effect, only a takeover would not see it.
func (s *Service) persist() {
	if s.cfg.Records != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		s.mu.Lock()
		var dirty []*rollout
		var recs []Record
		for _, r := range s.byID {
			if r.st.Version != r.saved {
				dirty = append(dirty, r)
				recs = append(recs, Record{Status: r.status(), Plan: r.plan, Snapshot: r.snapshot, ApplyAt: r.applyAt, Judged: r.judged, BlastID: r.blastID})
			}
		}
		prev := make([]uint64, len(dirty))
		for i, r := range dirty {
			prev[i] = r.saved
		}
		s.mu.Unlock()
		for i, rec := range recs {
			if err := s.cfg.Records.Save(ctx, rec, prev[i]); err != nil {
				s.log.Warn("canary: save rollout record", "rollout", rec.Status.RolloutID, "err", err.Error())
				continue
			}
			s.mu.Lock()
			dirty[i].saved = rec.Status.Version
			s.mu.Unlock()
		}
		cancel()
	}
	s.flushNotes()
}

// Recover takes over the stored rollouts this service does not know: a
// controller replacing a crashed one calls it at start. Active rollouts
// come back without their lease: the config type's lock is taken again
// (now, or by the watchdog's lock check once the old lease has lapsed)
// under a new fencing token before anything is applied. It returns the
// IDs taken over.
func (s *Service) Recover(ctx context.Context) ([]string, error) {
	if s.cfg.Records == nil {
		return nil, nil
	}
	recs, err := s.cfg.Records.Records(ctx)
	if err != nil {
		return nil, err
	}
	defer s.persist()
	s.op.Lock()
	defer s.op.Unlock()
	var ids []string
	s.mu.Lock()
	for _, rec := range recs {
		id := rec.Status.RolloutID
		if _, known := s.byID[id]; known || id == "" {
			continue
		}
		r := &rollout{st: rec.Status, plan: rec.Plan, snapshot: rec.Snapshot, applyAt: rec.ApplyAt, judged: rec.Judged,
			blastID: rec.BlastID, saved: rec.Status.Version}
		r.st.Token = 0
		s.byID[id] = r
		if r.st.Current.Active() {
			s.active[r.plan.ConfigType] = id
		}
		ids = append(ids, id)
	}
	s.mu.Unlock()
	for _, id := range ids {
		_ = s.adopt(ctx, id)
	}
	return ids, nil
}

// adopt takes the lock of an active rollout whose lease this service does
// not hold, and applies its current stage again under the new fencing
// token, to be acknowledged afresh: applied means acknowledged by this
// controller too. It reports whether the service holds the lease now. The
// caller holds s.op.
func (s *Service) adopt(ctx context.Context, id string) bool {
	s.mu.Lock()
	r, ok := s.byID[id]
	if !ok || !r.st.Current.Active() || r.st.Token != 0 {
		s.mu.Unlock()
		return ok && r.st.Token != 0
	}
	ns := lockNamespace(r.plan.ConfigType)
	s.mu.Unlock()
	lease, held, err := s.lock.AcquireFenced(ctx, ns, s.session, s.cfg.LockTTL.D(), false)
	if err != nil || !held {
		return false
	}
	s.mu.Lock()
	r.st.Token = lease.Token
	r.st.Version++
	d := s.desired(r, PhaseCanary, r.st.StageIndex)
	s.mu.Unlock()
	if err := s.cfg.Applier.Apply(ctx, d); err != nil {
		s.log.Warn("canary: re-apply on takeover", "rollout", id, "err", err.Error())
		return true
	}
	s.mu.Lock()
	r.st.Applied, r.st.StageStarted, r.applyAt = false, time.Time{}, s.clock.Now()
	r.st.Version++
	s.mu.Unlock()
	return true
}

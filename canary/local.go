package canary

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/lock"
)

// Target is the configuration a Local applier changes: a replica's
// registry (*registry.Registry implements it).
type Target interface {
	// Document returns the running configuration document.
	Document() []byte
	// ValidateCandidate checks a candidate as the target would load it.
	ValidateCandidate(doc []byte) error
	// LoadDocument makes doc the running configuration.
	LoadDocument(doc []byte) error
	// StartCohorts installs the split (see registry.Registry.StartCohorts).
	StartCohorts(candidate []byte, salt string, share float64, baselineGate, candidateGate baldur.Gate) error
	// SetCohortShare changes the split's share; false when none is
	// installed.
	SetCohortShare(share float64) bool
	// StopCohorts removes the split.
	StopCohorts() bool
	// CohortPolicies returns each cohort's policies, by name.
	CohortPolicies() (candidate, baseline map[string]*baldur.Policy)
}

// Local applies rollouts to this process's registry and observes its
// calls: it is the Applier, the AckSource and the Flusher of a single
// replica. Every apply passes a fence per config type (the check and the
// change are atomic under one mutex) and is done once per idempotency key.
//
// Local is safe for concurrent use.
type Local struct {
	target    Target
	replica   string
	cluster   string
	onApplied func(ack string)

	mu      sync.Mutex
	fences  map[string]*lock.Fence
	done    map[string]struct{} // idempotency keys applied
	applied string              // Ack of the state applied last
	rollout string              // the rollout whose split is installed
	rec     *[NumCohorts]Recorder
	last    [NumCohorts]Window // cumulative counts at the last flush
}

// LocalConfig configures a Local applier.
type LocalConfig struct {
	// Target is the registry changed. Required.
	Target Target
	// Replica names this replica in Acks. Empty means "local".
	Replica string
	// Cluster names this replica's cluster, matched against a stage's
	// Clusters: outside them the replica applies the stage at share 0.
	// Empty matches only stages without a cluster selector.
	Cluster string
	// OnApplied, when set, is called with the Ack of each state applied,
	// after the apply and outside any lock: hand it to the fleet's
	// membership heartbeat (redisstore.Membership.SetCanary), so that the
	// controller sees this replica acknowledge the stage.
	OnApplied func(ack string)
}

// NewLocal returns the applier of cfg.Target.
func NewLocal(cfg LocalConfig) (*Local, error) {
	if cfg.Target == nil {
		return nil, &baldur.ConfigError{Field: "Target", Reason: "is required"}
	}
	if cfg.Replica == "" {
		cfg.Replica = "local"
	}
	return &Local{target: cfg.Target, replica: cfg.Replica, cluster: cfg.Cluster, onApplied: cfg.OnApplied, fences: map[string]*lock.Fence{}, done: map[string]struct{}{}}, nil
}

// Snapshot returns the target's running document.
func (l *Local) Snapshot(context.Context) ([]byte, error) {
	doc := l.target.Document()
	if doc == nil {
		return nil, errors.New("canary: the target has no configuration loaded")
	}
	return doc, nil
}

// Validate checks a candidate.
func (l *Local) Validate(_ context.Context, doc []byte) error { return l.target.ValidateCandidate(doc) }

// maxDoneKeys bounds the remembered idempotency keys: a rollout applies a
// handful of stages, so the bound is only reached by a very long-lived
// process, which then forgets them all at once (a re-apply of a state is
// harmless: apply is idempotent by state too).
const maxDoneKeys = 4096

// Apply makes d the running state of the target.
func (l *Local) Apply(_ context.Context, d Desired) error {
	ack, err := l.apply(d)
	if err == nil && l.onApplied != nil {
		l.onApplied(ack)
	}
	return err
}

func (l *Local) apply(d Desired) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !d.Panic {
		f := l.fences[d.ConfigType]
		if f == nil {
			f = new(lock.Fence)
			l.fences[d.ConfigType] = f
		}
		if err := f.Admit(d.Token); err != nil {
			return "", fmt.Errorf("canary: apply %s stage %d: %w", d.Rollout, d.Stage, err)
		}
	}
	if _, ok := l.done[d.Key]; ok && d.Key != "" {
		return l.applied, nil
	}
	switch d.Phase {
	case PhaseCanary:
		share := d.Share
		if len(d.Clusters) > 0 && !slices.Contains(d.Clusters, l.cluster) {
			share = 0 // not this cluster's stage: every key on the baseline, observed
		}
		if l.rollout == d.Rollout && l.target.SetCohortShare(share) {
			break
		}
		rec := new([NumCohorts]Recorder)
		if err := l.target.StartCohorts(d.Candidate, d.Rollout, share, rec[Baseline].Gate(), rec[Candidate].Gate()); err != nil {
			return "", err
		}
		l.rollout, l.rec, l.last = d.Rollout, rec, [NumCohorts]Window{}
	case PhaseComplete:
		if err := l.target.LoadDocument(d.Candidate); err != nil {
			return "", err
		}
		l.target.StopCohorts()
		l.rollout, l.rec = "", nil
	case PhaseRestore:
		l.target.StopCohorts()
		if !bytes.Equal(l.target.Document(), d.Snapshot) {
			if err := l.target.LoadDocument(d.Snapshot); err != nil {
				return "", err
			}
		}
		l.rollout, l.rec = "", nil
	default:
		return "", fmt.Errorf("canary: apply %s: unknown phase %v", d.Rollout, d.Phase)
	}
	if len(l.done) >= maxDoneKeys {
		clear(l.done)
	}
	if d.Key != "" {
		l.done[d.Key] = struct{}{}
	}
	l.applied = d.Ack()
	return l.applied, nil
}

// Acks reports this replica.
func (l *Local) Acks(context.Context) ([]Ack, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return []Ack{{Replica: l.replica, Applied: l.applied}}, nil
}

// Applied returns the Ack of the state applied last.
func (l *Local) Applied() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.applied
}

// Flush returns each cohort's counts since the last flush of rollout; zero
// windows when another rollout (or none) is installed.
func (l *Local) Flush(_ context.Context, rollout string) ([NumCohorts]Window, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out [NumCohorts]Window
	if l.rollout != rollout || l.rec == nil {
		return out, nil
	}
	cand, base := l.target.CohortPolicies()
	for c, pols := range [NumCohorts]map[string]*baldur.Policy{Baseline: base, Candidate: cand} {
		now := Window{Counts: l.rec[c].Snapshot(), Rejected: map[string]uint64{}}
		for _, p := range pols {
			for _, r := range rejectionReasons {
				if n := p.Rejected(r); n > 0 {
					now.Rejected[r.String()] += n
				}
			}
		}
		d := Window{Counts: now.Counts.Sub(l.last[c].Counts), Rejected: map[string]uint64{}}
		for r, n := range now.Rejected {
			if n -= l.last[c].Rejected[r]; n > 0 {
				d.Rejected[r] = n
			}
		}
		out[c], l.last[c] = d, now
	}
	return out, nil
}

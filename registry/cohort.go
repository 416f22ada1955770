package registry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sync/atomic"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/internal/cohort"
)

// cohorts is an installed canary split: the candidate's table for the keys
// of the canary cohort and an observed copy of the running table for the
// others. Both tables share every gate instance whose configuration the
// candidate did not change, so the split does not double a bulkhead or
// give a tenant a second bucket.
type cohorts struct {
	candidate *table
	baseline  *table
	seed      uint64
	threshold atomic.Uint64
	share     atomic.Uint64       // math.Float64bits of the share, for reports
	next      map[string]reusable // the candidate's gates, to retire its pools
}

// Document returns the configuration of the last successful Load as a
// canonical JSON document (map keys sorted), or nil before any Load. A
// rollback that Loads it restores the configuration byte for byte.
func (r *Registry) Document() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.documentLocked()
}

func (r *Registry) documentLocked() []byte {
	if !r.loaded {
		return nil
	}
	b, err := json.Marshal(r.cfg)
	if err != nil { // a Config that loaded always encodes; be safe anyway
		return nil
	}
	return b
}

// LoadDocument parses doc strictly and Loads it.
func (r *Registry) LoadDocument(doc []byte) error {
	cfg, err := ParseConfig(bytes.NewReader(doc))
	if err != nil {
		return err
	}
	return r.Load(cfg)
}

// ValidateCandidate checks a candidate document exactly as Load would,
// and that it differs from the running configuration in gates and
// policies only, without changing anything.
func (r *Registry) ValidateCandidate(doc []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, b, err := r.buildCandidateLocked(doc, nil)
	if err != nil {
		return err
	}
	_ = t
	b.abort()
	return nil
}

func (r *Registry) buildCandidateLocked(doc []byte, extra baldur.Gate) (*table, *builder, error) {
	if len(doc) > maxConfigSize {
		return nil, nil, &baldur.ConfigError{Field: "candidate", Value: fmt.Sprint(len(doc)), Reason: "larger than 4 MiB"}
	}
	cfg, err := ParseConfig(bytes.NewReader(doc))
	if err != nil {
		return nil, nil, err
	}
	if !r.loaded {
		return nil, nil, &baldur.ConfigError{Field: "candidate", Reason: "no configuration is loaded to compare it with"}
	}
	if err := sameSettings(&r.cfg, &cfg); err != nil {
		return nil, nil, err
	}
	b := &builder{r: r, cfg: &cfg, next: map[string]reusable{}, extra: extra, cohort: true}
	spec, err := b.build()
	if err != nil {
		b.abort()
		return nil, nil, err
	}
	t, err := buildTable(spec)
	if err != nil {
		b.abort()
		return nil, nil, err
	}
	if _, err := r.loadFleet(&cfg); err != nil {
		b.abort()
		return nil, nil, err
	}
	return t, b, nil
}

// sameSettings refuses a candidate that changes more than gates and
// policies: those sections are shared by both cohorts.
func sameSettings(running, cand *Config) error {
	for _, s := range []struct {
		field string
		a, b  any
	}{
		{"service", running.Service, cand.Service},
		{"region", running.Region, cand.Region},
		{"governance", running.Governance, cand.Governance},
		{"fleet", running.Fleet, cand.Fleet},
		{"idempotency", running.Idempotency, cand.Idempotency},
		{"canary", running.Canary, cand.Canary},
	} {
		x, _ := json.Marshal(s.a)
		y, _ := json.Marshal(s.b)
		if !bytes.Equal(x, y) {
			return &baldur.ConfigError{Field: s.field, Reason: "a canary candidate may change gates and policies only; this section must equal the running configuration's"}
		}
	}
	return nil
}

// StartCohorts validates the candidate document and installs the split:
// from then on PolicyFor resolves share (a fraction in [0, 1]) of the keys,
// picked by a stable hash salted with salt (the rollout's ID), in the
// candidate's table and the others in an observed copy of the running
// table. The candidate may change gates and policies only: its service,
// region, governance, fleet, idempotency and canary sections must equal the running
// configuration's. Both tables share every gate whose configuration the
// candidate did not change, so the split does not double a bulkhead or
// give a tenant a second bucket. baselineGate and candidateGate, when not
// nil, are appended to every policy of their cohort's table (the observe
// gates that record each cohort's outcomes). The running table, and Policy,
// are unchanged. A split already installed is replaced. On error nothing
// changes.
func (r *Registry) StartCohorts(candidate []byte, salt string, share float64, baselineGate, candidateGate baldur.Gate) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	cand, b, err := r.buildCandidateLocked(candidate, candidateGate)
	if err != nil {
		return err
	}
	base, _, err := r.buildCandidateLocked(r.documentLocked(), baselineGate)
	if err != nil {
		b.abort()
		return err
	}
	c := &cohorts{candidate: cand, baseline: base, seed: cohort.Seed(salt), next: b.next}
	c.setShare(share)
	if old := r.cohorts.Swap(c); old != nil {
		r.retireCohortsLocked(old)
	}
	return nil
}

func (c *cohorts) setShare(share float64) {
	share = min(max(share, 0), 1)
	c.threshold.Store(cohort.Threshold(share))
	c.share.Store(floatBits(share))
}

// SetCohortShare changes the candidate's share of an installed split; it
// reports false when none is installed.
func (r *Registry) SetCohortShare(share float64) bool {
	c := r.cohorts.Load()
	if c == nil {
		return false
	}
	c.setShare(share)
	return true
}

// CohortShare returns the candidate's share of the installed split, and
// whether one is installed.
func (r *Registry) CohortShare() (float64, bool) {
	c := r.cohorts.Load()
	if c == nil {
		return 0, false
	}
	return floatFrom(c.share.Load()), true
}

// StopCohorts removes the split: every key resolves in the running table
// again. Pools only the candidate built are retired (they finish the calls
// they admitted). It reports whether a split was installed.
func (r *Registry) StopCohorts() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.cohorts.Swap(nil)
	if old == nil {
		return false
	}
	r.retireCohortsLocked(old)
	return true
}

func (r *Registry) retireCohortsLocked(c *cohorts) {
	for _, p := range poolsOnlyIn(c.next, r.gates) {
		p.Retire()
	}
}

// InCandidate reports whether key resolves in the candidate's table of the
// installed split.
func (r *Registry) InCandidate(key string) bool {
	c := r.cohorts.Load()
	return c != nil && cohort.In(cohort.Hash(c.seed, key), c.threshold.Load())
}

// PolicyFor returns the policy of operation for a call partitioned by key:
// while a canary split is installed, the candidate's policy for the keys
// of its cohort and the running policy (observed) for the others;
// otherwise Policy(operation). It takes no lock and does not allocate. It
// implements baldur.KeyedResolver.
func (r *Registry) PolicyFor(operation, key string) *baldur.Policy {
	c := r.cohorts.Load()
	if c == nil {
		return r.Policy(operation)
	}
	if cohort.In(cohort.Hash(c.seed, key), c.threshold.Load()) {
		return c.candidate.policy(operation)
	}
	return c.baseline.policy(operation)
}

// CohortPolicies returns the policies of the installed split's candidate
// and baseline tables, by name (nil maps when none is installed): their
// rejection counters are each cohort's rejections.
func (r *Registry) CohortPolicies() (candidate, baseline map[string]*baldur.Policy) {
	c := r.cohorts.Load()
	if c == nil {
		return nil, nil
	}
	return c.candidate.policies, c.baseline.policies
}

func floatBits(f float64) uint64 { return math.Float64bits(f) }
func floatFrom(b uint64) float64 { return math.Float64frombits(b) }

var _ baldur.KeyedResolver = (*Registry)(nil)

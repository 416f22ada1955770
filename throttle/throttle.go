package throttle

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/internal/strhash"
)

// Throttle is the rate gate: a token bucket per key (see KeyBy) and tier,
// with per-tier limits scaled by the emergency level. It implements
// baldur.Gate (stage StageThrottle), baldur.Releaser and baldur.QuotaReporter,
// and is safe for concurrent use.
type Throttle struct {
	name    string
	keyBy   KeyBy
	keySeed [baldur.NumTiers]uint64 // one per tier: the tier needs no mixing in
	opSeed  [baldur.NumTiers]uint64
	level   LevelSource
	applied atomic.Uint32 // index of the last factor applied (see factor)
	maxWait time.Duration
	clock   baldur.Clock
	mem     *Memory    // the store, when it is the built-in one
	store   Store      // the store otherwise
	local   LocalTaker // store, when it answers local hits by hash

	limits [numFactors][baldur.NumTiers]Limit
	quotas [numFactors][baldur.NumTiers]baldur.Quota

	storeErrors atomic.Uint64
}

var (
	_ baldur.Gate          = (*Throttle)(nil)
	_ baldur.Releaser      = (*Throttle)(nil)
	_ baldur.QuotaReporter = (*Throttle)(nil)
)

// New validates cfg and returns the Throttle it declares. An invalid field
// is reported as a *baldur.ConfigError naming it.
func New(cfg Config) (*Throttle, error) {
	if err := checkName(cfg.Name); err != nil {
		return nil, err
	}
	base, err := checkLimit("", cfg.Rate, cfg.Burst)
	if err != nil {
		return nil, err
	}
	var tiers [baldur.NumTiers]Limit
	for i := range tiers {
		tiers[i] = base
	}
	if half, ok := NewLimit(cfg.Rate/2, max(1, (cfg.Burst+1)/2)); ok {
		tiers[baldur.TierNonEssential] = half
	}
	for tier, tl := range cfg.Tiers {
		if !tier.Valid() {
			return nil, cfgErr("Tiers", tier.String(), "unknown tier")
		}
		l, err := checkLimit("Tiers."+tier.String()+".", tl.Rate, tl.Burst)
		if err != nil {
			return nil, err
		}
		tiers[tier] = l
	}
	if cfg.KeyBy > Global {
		return nil, cfgErr("KeyBy", cfg.KeyBy.String(), "unknown key mode")
	}
	if cfg.MaxKeys < 0 {
		return nil, cfgErr("MaxKeys", itoa(int64(cfg.MaxKeys)), "must be at least 1 (0 means the default)")
	}
	if cfg.MaxKeys > MaxKeysLimit {
		return nil, cfgErr("MaxKeys", itoa(int64(cfg.MaxKeys)), "must be at most "+itoa(MaxKeysLimit))
	}
	if cfg.MaxWait < 0 {
		return nil, cfgErr("MaxWait", cfg.MaxWait.String(), "must not be negative")
	}
	t := &Throttle{
		name:    cfg.Name,
		keyBy:   cfg.KeyBy,
		level:   cfg.Level,
		maxWait: cfg.MaxWait.D(),
		clock:   cfg.Clock,
		store:   cfg.Store,
	}
	t.local, _ = cfg.Store.(LocalTaker)
	for i := range t.keySeed {
		t.keySeed[i] = strhash.Seed()
		t.opSeed[i] = strhash.Seed()
	}
	if t.name == "" {
		t.name = "throttle"
	}
	if t.clock == nil {
		t.clock = baldur.SystemClock()
	}
	if t.store == nil {
		maxKeys := cfg.MaxKeys
		if maxKeys == 0 {
			maxKeys = DefaultMaxKeys
		}
		t.mem = NewMemory(maxKeys, t.clock.Now())
	}
	for f := range t.limits {
		for tier := range t.limits[f] {
			l := tiers[tier].scaled(factors[f])
			t.limits[f][tier] = l
			t.quotas[f][tier] = quotaOf(t.name, l)
		}
	}
	return t, nil
}

// Stage returns baldur.StageThrottle.
func (t *Throttle) Stage() baldur.Stage { return baldur.StageThrottle }

// Admit takes one token from the bucket of c's key and tier. It rejects
// with baldur.ReasonThrottled and a Retry-After of the time until the next
// token (at least one second), or, when Config.MaxWait is positive, first
// waits as Wait does. The permit's token carries the remaining quota for
// QuotaStatus. Admit allocates nothing unless it waits.
func (t *Throttle) Admit(ctx context.Context, c baldur.Call) (baldur.Permit, error) {
	if t.maxWait > 0 {
		return t.Wait(ctx, c)
	}
	if t.mem != nil { // the hot path: no Key, no interface call
		tier := c.Tier
		if !tier.Valid() {
			tier = baldur.TierStandard
		}
		fi := t.factor()
		now := c.Now
		if now.IsZero() {
			now = t.clock.Now()
		}
		l := t.limits[fi][tier]
		ok, v := t.mem.admit(t.hash(&c, tier), t.mem.nanos(now), l)
		if !ok {
			return baldur.Permit{}, baldur.RejectAtLeast(baldur.ReasonThrottled, time.Duration(v), time.Second)
		}
		return baldur.NewPermit(t, encode(fi, tier, v, l)), nil
	}
	if t.local != nil {
		return t.admitLocal(ctx, &c)
	}
	d, fi, k := t.take(ctx, &c, c.Now, 0)
	if !d.Allowed {
		return baldur.Permit{}, baldur.RejectAtLeast(baldur.ReasonThrottled, d.RetryAfter, time.Second)
	}
	return baldur.NewPermit(t, encode(fi, k.Tier, int64(d.Reset), t.limits[fi][k.Tier])), nil
}

// admitLocal is Admit for a LocalTaker store: a local hit is decided from
// the key hash, with no Key and no Decision; anything else goes to Take.
func (t *Throttle) admitLocal(ctx context.Context, c *baldur.Call) (baldur.Permit, error) {
	tier := c.Tier
	if !tier.Valid() {
		tier = baldur.TierStandard
	}
	fi := t.factor()
	now := c.Now
	if now.IsZero() {
		now = t.clock.Now()
	}
	l := t.limits[fi][tier]
	h := t.hash(c, tier)
	allowed, after, hit := t.local.TakeLocal(h, tier, now, l)
	if !hit {
		d := t.takeStore(ctx, c, &Key{Hash: h, Tier: tier}, now, l, 0)
		allowed, after = d.Allowed, d.Reset
		if !allowed {
			after = d.RetryAfter
		}
	}
	if !allowed {
		return baldur.Permit{}, baldur.RejectAtLeast(baldur.ReasonThrottled, after, time.Second)
	}
	return baldur.NewPermit(t, encode(fi, tier, int64(after), l)), nil
}

// Wait is Admit that, when no token is free, reserves the next one and
// waits for it, up to Config.MaxWait and never past the deadline of ctx or
// of c. A call that would wait longer is rejected at once, without
// reserving. When ctx ends during the wait the reservation is refunded and
// ctx.Err() is returned unwrapped. Waits are timed with Config.Clock.
func (t *Throttle) Wait(ctx context.Context, c baldur.Call) (baldur.Permit, error) {
	if err := ctx.Err(); err != nil {
		return baldur.Permit{}, err
	}
	now := c.Now
	if now.IsZero() {
		now = t.clock.Now()
	}
	maxWait := t.maxWait
	if dl, ok := ctx.Deadline(); ok {
		maxWait = min(maxWait, dl.Sub(now))
	}
	if !c.Deadline.IsZero() {
		maxWait = min(maxWait, c.Deadline.Sub(now))
	}
	d, fi, k := t.take(ctx, &c, now, max(maxWait, 0))
	if !d.Allowed {
		return baldur.Permit{}, baldur.RejectAtLeast(baldur.ReasonThrottled, d.RetryAfter, time.Second)
	}
	if d.Wait > 0 {
		done := make(chan struct{})
		tm := t.clock.AfterFunc(d.Wait, func() { close(done) })
		select {
		case <-done:
		case <-ctx.Done():
			if tm.Stop() {
				t.refund(ctx, k, t.limits[fi][k.Tier])
			}
			return baldur.Permit{}, ctx.Err()
		}
	}
	return baldur.NewPermit(t, encode(fi, k.Tier, int64(d.Reset), t.limits[fi][k.Tier])), nil
}

// take resolves c's tier, key and limit and asks the store.
func (t *Throttle) take(ctx context.Context, c *baldur.Call, now time.Time, maxWait time.Duration) (Decision, uint32, Key) {
	tier := c.Tier
	if !tier.Valid() {
		tier = baldur.TierStandard
	}
	fi := t.factor()
	l := t.limits[fi][tier]
	if now.IsZero() {
		now = t.clock.Now()
	}
	k := Key{Hash: t.hash(c, tier), Tier: tier}
	if t.mem != nil {
		return t.mem.take(k.Hash, t.mem.nanos(now), l, int64(maxWait)), fi, k
	}
	return t.takeStore(ctx, c, &k, now, l, maxWait), fi, k
}

// takeStore completes k (hash and tier set) for c and asks the store.
func (t *Throttle) takeStore(ctx context.Context, c *baldur.Call, k *Key, now time.Time, l Limit, maxWait time.Duration) Decision {
	if t.keyBy == ByKey || t.keyBy == ByKeyAndOperation {
		k.Partition = c.Key
	}
	if t.keyBy == ByOperation || t.keyBy == ByKeyAndOperation {
		k.Operation = c.Operation
	}
	d, err := t.store.Take(ctx, *k, now, l, maxWait)
	if err != nil {
		t.storeErrors.Add(1)
		return Decision{Allowed: true, Remaining: l.Burst() - 1}
	}
	return d
}

func (t *Throttle) refund(ctx context.Context, k Key, l Limit) {
	if t.mem != nil {
		t.mem.refund(k.Hash, l.norm().Cost)
		return
	}
	if t.store.Refund(context.WithoutCancel(ctx), k, l) != nil {
		t.storeErrors.Add(1)
	}
}

// hash combines the parts of the bucket key without building a string: one
// seeded hash per part (internal/strhash), seeded per tier so that each tier has its own buckets
// with no further mixing. Key length affects only the time to hash
// (linear), never memory: keys are not stored.
func (t *Throttle) hash(c *baldur.Call, tier baldur.Tier) uint64 {
	switch t.keyBy {
	case ByKey:
		return strhash.String(t.keySeed[tier], c.Key)
	case ByOperation:
		return strhash.String(t.opSeed[tier], c.Operation)
	case ByKeyAndOperation:
		return strhash.String(t.keySeed[tier], c.Key) ^ (strhash.String(t.opSeed[tier], c.Operation) * 0xff51afd7ed558ccd)
	}
	return strhash.String(t.keySeed[tier], "")
}

// Release does nothing: a token bucket is not refilled by finished calls.
func (t *Throttle) Release(uint64, baldur.Outcome) {}

// Stats reports the in-memory key table's occupancy now; the zero Stats
// when a custom Store is configured.
func (t *Throttle) Stats() Stats {
	if t.mem == nil {
		return Stats{}
	}
	return t.mem.Stats(t.clock.Now())
}

// StoreErrors returns how many store errors admitted a call (fail-open).
func (t *Throttle) StoreErrors() uint64 { return t.storeErrors.Load() }

// StoreFallbacks returns how many calls the Store decided by its own fail
// mode (see FallbackCounter); zero for the in-memory store and for stores
// that do not count them.
func (t *Throttle) StoreFallbacks() uint64 {
	if fc, ok := t.store.(FallbackCounter); ok {
		return fc.Fallbacks()
	}
	return 0
}

package registry

import (
	"errors"
	"fmt"
	"reflect"
	"sort"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/blast"
	"github.com/baldur-go/baldur/bulkhead"
	"github.com/baldur-go/baldur/throttle"
)

// gateKind is one kind of gate a file declares by name in a section of its
// own and a policy names in one field. Adding a kind of gate to the file
// format is one row here, with its section in Config and its field in
// PolicyConfig.
type gateKind struct {
	section string // the Config section: "throttles"
	ref     string // the PolicyConfig field: "throttle"
	names   func(*Config) []string
	refOf   func(*PolicyConfig) string
	build   func(b *builder, name string) (baldur.Gate, error)
}

var gateKinds = [...]gateKind{
	{"throttles", "throttle", func(c *Config) []string { return sortedKeys(c.Throttles) },
		func(p *PolicyConfig) string { return p.Throttle }, (*builder).throttle},
	{"breakers", "breaker", func(c *Config) []string { return sortedKeys(c.Breakers) },
		func(p *PolicyConfig) string { return p.Breaker }, (*builder).breaker},
	{"share_caps", "share_cap", func(c *Config) []string { return sortedKeys(c.ShareCaps) },
		func(p *PolicyConfig) string { return p.ShareCap }, (*builder).shareCap},
	{"bulkheads", "bulkhead", func(c *Config) []string { return sortedKeys(c.Bulkheads) },
		func(p *PolicyConfig) string { return p.Bulkhead }, (*builder).bulkhead},
}

// wrapField turns a gate's ConfigError, whose Field is a Go field path of
// the gate's config type cfg, into one that names the path the file
// spells: the section prefix, then each field's JSON name.
func wrapField(prefix string, cfg any, err error) error {
	var ce *baldur.ConfigError
	if errors.As(err, &ce) {
		field := prefix
		if ce.Field != "" {
			field += "." + fieldPath(reflect.TypeOf(cfg), ce.Field)
		}
		return &baldur.ConfigError{Field: field, Value: ce.Value, Reason: ce.Reason}
	}
	return fmt.Errorf("%s: %w", prefix, err)
}

func (b *builder) build() (Spec, error) {
	if err := b.governance(); err != nil {
		return Spec{}, err
	}
	if err := b.chaosSection(); err != nil {
		return Spec{}, err
	}
	b.bhs = bulkhead.NewRegistry()
	var spec Spec
	spec.Routes = map[string]string{}
	spec.Default = b.cfg.DefaultPolicy
	seen := map[string]int{}
	for i, pc := range b.cfg.Policies {
		at := fmt.Sprintf("policies[%d]", i)
		if pc.Name == "" {
			return Spec{}, &baldur.ConfigError{Field: at + ".name", Reason: "must not be empty"}
		}
		if j, dup := seen[pc.Name]; dup {
			return Spec{}, &baldur.ConfigError{Field: at + ".name", Value: pc.Name, Reason: fmt.Sprintf("duplicate of policies[%d]", j)}
		}
		seen[pc.Name] = i
		p, err := b.policy(at, pc)
		if err != nil {
			return Spec{}, err
		}
		spec.Policies = append(spec.Policies, p)
		for k, op := range pc.Operations {
			if err := ValidateOperation(op); err != nil {
				return Spec{}, wrapField(fmt.Sprintf("%s.operations[%d]", at, k), nil, err)
			}
			if prev, dup := spec.Routes[op]; dup {
				return Spec{}, &baldur.ConfigError{Field: fmt.Sprintf("%s.operations[%d]", at, k), Value: op, Reason: "already routed to policy " + prev}
			}
			spec.Routes[op] = pc.Name
		}
	}
	if spec.Default != "" {
		if _, ok := seen[spec.Default]; !ok {
			return Spec{}, &baldur.ConfigError{Field: "default_policy", Value: spec.Default, Reason: "unknown policy"}
		}
	}
	// Declared gates no policy uses are still validated.
	for _, k := range gateKinds {
		for _, name := range k.names(b.cfg) {
			if _, err := k.build(b, name); err != nil {
				return Spec{}, err
			}
		}
	}
	b.commit = append(b.commit, b.retirePools)
	// The bulkheads slot shows the compartments Load built, unless the user
	// put a registry of their own there.
	if !b.r.Bulkheads.IsSet() || b.r.ownsBulkheads {
		bhs := b.bhs
		b.commit = append(b.commit, func() {
			b.r.Bulkheads.Set(bhs)
			b.r.ownsBulkheads = true
		})
	}
	return spec, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (b *builder) policy(at string, pc PolicyConfig) (*baldur.Policy, error) {
	var gates []baldur.Gate
	if pc.Governance {
		g, ok := b.governanceGate()
		if !ok {
			return nil, &baldur.ConfigError{Field: at + ".governance", Value: "true", Reason: "no governance section and no governance.Checker in the governance slot"}
		}
		gates = append(gates, g)
	}
	for _, k := range gateKinds {
		name := k.refOf(&pc)
		if name == "" {
			continue
		}
		if !contains(k.names(b.cfg), name) {
			return nil, &baldur.ConfigError{Field: at + "." + k.ref, Value: name, Reason: "no " + k.ref + " of that name is declared"}
		}
		g, err := k.build(b, name)
		if err != nil {
			return nil, err
		}
		gates = append(gates, g)
	}
	if b.extra != nil {
		gates = append(gates, b.extra)
	}
	gates = b.chaosGates(pc.Name, gates)
	p, err := baldur.NewPolicy(baldur.PolicyConfig{
		Name:        pc.Name,
		Gates:       gates,
		Shadow:      pc.Shadow,
		MinTimeLeft: pc.MinTimeLeft.D(),
		Service:     b.cfg.Service,
		Region:      b.cfg.Region,
		Clock:       b.r.clock,
	})
	if err != nil {
		return nil, wrapField(at, pc, err)
	}
	return p, nil
}

func contains(names []string, name string) bool {
	i := sort.SearchStrings(names, name)
	return i < len(names) && names[i] == name
}

func (b *builder) throttle(name string) (baldur.Gate, error) {
	ts := b.cfg.Throttles[name]
	cfg := ts.Config
	cfg.Name, cfg.Clock = name, b.r.clock
	if !ts.IgnoreEmergency && b.level != nil {
		// The registry's level source outlives any one checker, so a
		// governance rebuild keeps the throttle and its buckets.
		cfg.Level = &b.r.level
	}
	g, err := reuse(b.r, b.next, "throttle/"+name, cfg, func() (*throttle.Throttle, error) { return throttle.New(cfg) })
	if err != nil {
		return nil, wrapField("throttles."+name, cfg, err)
	}
	return g, nil
}

func (b *builder) breaker(name string) (baldur.Gate, error) {
	cfg := b.cfg.Breakers[name]
	cfg.Clock = b.r.clock
	g, err := reuse(b.r, b.next, "breaker/"+name, cfg, func() (*blast.Breakers, error) { return blast.NewBreakers(b.r.hooked(name, cfg)) })
	if err != nil {
		return nil, wrapField("breakers."+name, cfg, err)
	}
	return g, nil
}

func (b *builder) shareCap(name string) (baldur.Gate, error) {
	cfg := b.cfg.ShareCaps[name]
	g, err := reuse(b.r, b.next, "share_cap/"+name, cfg, func() (*blast.ShareCap, error) { return blast.NewShareCap(cfg) })
	if err != nil {
		return nil, wrapField("share_caps."+name, cfg, err)
	}
	return g, nil
}

func (b *builder) bulkhead(name string) (baldur.Gate, error) {
	spec := b.cfg.Bulkheads[name]
	spec.Name, spec.Clock = name, b.r.clock
	at := "bulkheads." + name
	if spec.Pooled() {
		return b.pool(at, spec)
	}
	if spec.Tiered() {
		cfg, err := spec.TieredConfig()
		if err != nil {
			return nil, &baldur.ConfigError{Field: at, Reason: err.(*baldur.ConfigError).Reason}
		}
		tg, err := reuse(b.r, b.next, "bulkhead/"+name, cfg, func() (*bulkhead.Tiered, error) { return bulkhead.NewTiered(cfg) })
		if err != nil {
			return nil, wrapField(at, cfg, err)
		}
		for _, s := range tg.Compartments() {
			if err := b.register(s); err != nil {
				return nil, err
			}
		}
		return tg, nil
	}
	cfg := spec.Config
	key := "bulkhead/" + name
	// A change of size alone resizes the live compartment, so that permits
	// in flight keep counting against the new limit. A canary cohort's
	// table (b.cohort) never resizes the running compartment: a changed
	// size is a compartment of its own there.
	if prev, ok := b.r.gates[key]; ok && !b.cohort {
		pc, isCfg := prev.cfg.(bulkhead.Config)
		s, isSem := prev.gate.(*bulkhead.Semaphore)
		if isCfg && isSem && pc.MaxConcurrent != cfg.MaxConcurrent {
			same := pc
			same.MaxConcurrent = cfg.MaxConcurrent
			if sameConfig(same, cfg) {
				// Validate here, in the build phase, exactly as a fresh
				// load does (a throwaway compartment costs a few words),
				// so that an invalid size fails the reload before anything
				// changes.
				if _, err := bulkhead.New(cfg); err != nil {
					return nil, wrapField(at, cfg, err)
				}
				n := cfg.MaxConcurrent
				b.next[key] = reusable{cfg: cfg, gate: s}
				// Resize checks the bounds New accepted above, so it
				// cannot fail here.
				b.commit = append(b.commit, func() { _ = s.Resize(n) })
				return s, b.register(s)
			}
		}
	}
	s, err := reuse(b.r, b.next, key, cfg, func() (*bulkhead.Semaphore, error) { return bulkhead.New(cfg) })
	if err != nil {
		return nil, wrapField(at, cfg, err)
	}
	return s, b.register(s)
}

// pool builds a worker-pool compartment. An unchanged pool is kept; a
// changed one is built anew and the old one retired (see retirePools).
func (b *builder) pool(at string, spec bulkhead.Spec) (baldur.Gate, error) {
	cfg, err := spec.PoolConfig()
	if err != nil {
		return nil, &baldur.ConfigError{Field: at, Reason: err.(*baldur.ConfigError).Reason}
	}
	p, err := reuse(b.r, b.next, "bulkhead/"+spec.Name, cfg, func() (*bulkhead.Pool, error) { return bulkhead.NewPool(cfg) })
	if err != nil {
		return nil, wrapField(at+".pool", cfg, err)
	}
	return p, b.register(p)
}

func (b *builder) register(s baldur.Bulkhead) error {
	if _, err := b.bhs.Get(s.Name()); err == nil {
		return nil // already registered by another policy's reference
	}
	return b.bhs.Register(s)
}

// retirePools, at commit, retires the pools the new table no longer holds:
// each serves the calls it admitted and closes once they are done, so its
// workers exit and none is lost.
func (b *builder) retirePools() {
	for _, p := range poolsOnlyIn(b.r.gates, b.next) {
		p.Retire()
	}
}

// abort closes the pools this load built when it fails: no call ever
// reached them.
func (b *builder) abort() {
	for _, p := range poolsOnlyIn(b.next, b.r.gates) {
		_ = p.Close()
	}
}

// poolsOnlyIn returns the pools of from that other does not hold.
func poolsOnlyIn(from, other map[string]reusable) []*bulkhead.Pool {
	var out []*bulkhead.Pool
	for key, e := range from {
		p, ok := e.gate.(*bulkhead.Pool)
		if !ok {
			continue
		}
		if o, ok := other[key]; ok && o.gate == e.gate {
			continue
		}
		out = append(out, p)
	}
	return out
}

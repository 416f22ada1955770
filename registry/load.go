package registry

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/blast"
	"github.com/baldur-go/baldur/bulkhead"
	"github.com/baldur-go/baldur/throttle"
)

// Option configures a Registry.
type Option func(*Registry)

// WithClock sets the clock of every gate Load builds. Default: system clock.
func WithClock(c baldur.Clock) Option { return func(r *Registry) { r.clock = c } }

// Load validates cfg, builds its gates and policies, and swaps them in
// atomically. It is also the hot reload: gates whose configuration did not
// change are kept with their state (buckets, breaker counts, permits in
// flight); a bulkhead whose only change is its size is resized in place; any
// other changed gate is built anew, and calls admitted before the swap
// release into the instance that admitted them. On error nothing changes
// and the previous configuration keeps serving.
func (r *Registry) Load(cfg Config) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := &builder{r: r, cfg: &cfg, next: map[string]reusable{}}
	spec, err := b.build()
	if err != nil {
		return err
	}
	t, err := buildTable(spec)
	if err != nil {
		return err
	}
	// Commit: nothing below can fail.
	for _, f := range b.commit {
		f()
	}
	r.gates = b.next
	r.settings = settings{service: cfg.Service, region: cfg.Region}
	t.version = r.table.Load().version + 1
	r.table.Store(t)
	return nil
}

// LoadFile reads a JSON configuration file and Loads it.
func (r *Registry) LoadFile(path string) error {
	cfg, err := ReadConfigFile(path)
	if err != nil {
		return err
	}
	return r.Load(cfg)
}

// Service returns the service name of the loaded configuration.
func (r *Registry) Service() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.settings.service
}

// Region returns the region of the loaded configuration.
func (r *Registry) Region() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.settings.region
}

type settings struct{ service, region string }

type builder struct {
	r      *Registry
	cfg    *Config
	next   map[string]reusable
	commit []func()
	gate   baldur.Gate // the governance gate of "governance": true
	level  throttle.LevelSource
	bhs    *bulkhead.Registry
}

// wrapField prefixes a gate's ConfigError with the JSON path of its section
// and spells the gate's Go field names as the file does ("MaxConcurrent"
// becomes "max_concurrent"), so the error names what the user wrote.
func wrapField(prefix string, err error) error {
	if ce, ok := err.(*baldur.ConfigError); ok {
		return &baldur.ConfigError{Field: prefix + "." + jsonPath(ce.Field), Value: ce.Value, Reason: ce.Reason}
	}
	return fmt.Errorf("%s: %w", prefix, err)
}

// jsonPath converts the Go field names of a dotted path to snake case
// ("SLOTarget" becomes "slo_target"), leaving map keys and indexes
// ("critical", ["EU"], [2]) as they are.
func jsonPath(path string) string {
	var b strings.Builder
	depth := 0 // inside [...]
	for i := 0; i < len(path); i++ {
		c := path[i]
		switch {
		case c == '[':
			depth++
		case c == ']' && depth > 0:
			depth--
		case depth == 0 && c >= 'A' && c <= 'Z':
			if i > 0 {
				prev := path[i-1]
				prevUpper := prev >= 'A' && prev <= 'Z'
				nextLower := i+1 < len(path) && path[i+1] >= 'a' && path[i+1] <= 'z'
				if (prev >= 'a' && prev <= 'z') || (prev >= '0' && prev <= '9') || (prevUpper && nextLower) {
					b.WriteByte('_')
				}
			}
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	return b.String()
}

func (b *builder) build() (Spec, error) {
	if err := b.governance(); err != nil {
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
				return Spec{}, wrapField(fmt.Sprintf("%s.operations[%d]", at, k), err)
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
	for _, name := range sortedKeys(b.cfg.Throttles) {
		if _, err := b.throttle(name); err != nil {
			return Spec{}, err
		}
	}
	for _, name := range sortedKeys(b.cfg.Breakers) {
		if _, err := b.breaker(name); err != nil {
			return Spec{}, err
		}
	}
	for _, name := range sortedKeys(b.cfg.ShareCaps) {
		if _, err := b.shareCap(name); err != nil {
			return Spec{}, err
		}
	}
	for _, name := range sortedKeys(b.cfg.Bulkheads) {
		if _, err := b.bulkhead(name); err != nil {
			return Spec{}, err
		}
	}
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
	type ref struct {
		field, name string
		get         func(string) (baldur.Gate, error)
		known       bool
	}
	refs := []ref{
		{"throttle", pc.Throttle, b.throttle, hasKey(b.cfg.Throttles, pc.Throttle)},
		{"breaker", pc.Breaker, b.breaker, hasKey(b.cfg.Breakers, pc.Breaker)},
		{"share_cap", pc.ShareCap, b.shareCap, hasKey(b.cfg.ShareCaps, pc.ShareCap)},
		{"bulkhead", pc.Bulkhead, b.bulkhead, hasKey(b.cfg.Bulkheads, pc.Bulkhead)},
	}
	for _, rf := range refs {
		if rf.name == "" {
			continue
		}
		if !rf.known {
			return nil, &baldur.ConfigError{Field: at + "." + rf.field, Value: rf.name, Reason: "no " + rf.field + " of that name is declared"}
		}
		g, err := rf.get(rf.name)
		if err != nil {
			return nil, err
		}
		gates = append(gates, g)
	}
	p, err := baldur.NewPolicy(baldur.PolicyConfig{
		Name:        pc.Name,
		Gates:       gates,
		Shadow:      pc.Shadow,
		MinTimeLeft: pc.MinTimeLeft.D(),
		Clock:       b.r.clock,
	})
	if err != nil {
		return nil, wrapField(at, err)
	}
	return p, nil
}

func hasKey[V any](m map[string]V, k string) bool {
	_, ok := m[k]
	return ok
}

func parseTierKey(at, s string) (baldur.Tier, error) {
	t, err := baldur.ParseTier(s)
	if err != nil {
		return 0, &baldur.ConfigError{Field: at, Value: strconv.Quote(s), Reason: "unknown tier (want critical, standard or non_essential)"}
	}
	return t, nil
}

// tierMap converts a file's tier-keyed object to the gate's map, converting
// each value with conv. A nil object gives a nil map, an empty one an empty
// map; an unknown tier name is a ConfigError at field at.
func tierMap[V, W any](at string, in map[string]V, conv func(V) W) (map[baldur.Tier]W, error) {
	if in == nil {
		return nil, nil
	}
	out := make(map[baldur.Tier]W, len(in))
	for k, v := range in {
		t, err := parseTierKey(at, k)
		if err != nil {
			return nil, err
		}
		out[t] = conv(v)
	}
	return out, nil
}

func (b *builder) throttle(name string) (baldur.Gate, error) {
	tc := b.cfg.Throttles[name]
	at := "throttles." + name
	cfg := throttle.Config{Name: name, Rate: tc.Rate, Burst: tc.Burst, MaxKeys: tc.MaxKeys, MaxWait: baldur.Duration(tc.MaxWait.D()), Clock: b.r.clock}
	switch tc.KeyBy {
	case "", "key":
		cfg.KeyBy = throttle.ByKey
	case "operation":
		cfg.KeyBy = throttle.ByOperation
	case "key_and_operation":
		cfg.KeyBy = throttle.ByKeyAndOperation
	case "global":
		cfg.KeyBy = throttle.Global
	default:
		return nil, &baldur.ConfigError{Field: at + ".key_by", Value: strconv.Quote(tc.KeyBy), Reason: "want key, operation, key_and_operation or global"}
	}
	if len(tc.Tiers) > 0 {
		tiers, err := tierMap(at+".tiers", tc.Tiers, func(v TierRate) throttle.TierLimit {
			return throttle.TierLimit{Rate: v.Rate, Burst: v.Burst}
		})
		if err != nil {
			return nil, err
		}
		cfg.Tiers = tiers
	}
	if !tc.IgnoreEmergency && b.level != nil {
		// The registry's level source outlives any one checker, so a
		// governance rebuild keeps the throttle and its buckets.
		cfg.Level = &b.r.level
	}
	g, err := b.r.reuse(b.next, "throttle/"+name, cfg, func() (any, error) { return throttle.New(cfg) })
	if err != nil {
		return nil, wrapField(at, err)
	}
	return g.(baldur.Gate), nil
}

func (b *builder) breaker(name string) (baldur.Gate, error) {
	bc := b.cfg.Breakers[name]
	at := "breakers." + name
	cfg := blast.BreakerConfig{
		ConsecutiveFailures: bc.ConsecutiveFailures, FailureRatio: bc.FailureRatio, MinRequests: bc.MinRequests,
		Window: baldur.Duration(bc.Window.D()), BucketPeriod: baldur.Duration(bc.BucketPeriod.D()), OpenTimeout: baldur.Duration(bc.OpenTimeout.D()),
		HalfOpenProbes: bc.HalfOpenProbes, ForceTTL: baldur.Duration(bc.ForceTTL.D()), MaxPartitions: bc.MaxPartitions,
		IdleTimeout: baldur.Duration(bc.IdleTimeout.D()), Clock: b.r.clock,
	}
	switch bc.PartitionBy {
	case "", "key":
		cfg.PartitionBy = blast.ByKey
	case "operation":
		cfg.PartitionBy = blast.ByOperation
	case "key_and_operation":
		cfg.PartitionBy = blast.ByKeyAndOperation
	default:
		return nil, &baldur.ConfigError{Field: at + ".partition_by", Value: strconv.Quote(bc.PartitionBy), Reason: "want key, operation or key_and_operation"}
	}
	g, err := b.r.reuse(b.next, "breaker/"+name, cfg, func() (any, error) { return blast.NewBreakers(cfg) })
	if err != nil {
		return nil, wrapField(at, err)
	}
	return g.(baldur.Gate), nil
}

func (b *builder) shareCap(name string) (baldur.Gate, error) {
	sc := b.cfg.ShareCaps[name]
	cfg := blast.ShareCapConfig{Capacity: sc.Capacity, Share: sc.Share, MaxPerKey: sc.MaxPerKey, RetryAfter: baldur.Duration(sc.RetryAfter.D()), MaxKeys: sc.MaxKeys}
	g, err := b.r.reuse(b.next, "share_cap/"+name, cfg, func() (any, error) { return blast.NewShareCap(cfg) })
	if err != nil {
		return nil, wrapField("share_caps."+name, err)
	}
	return g.(baldur.Gate), nil
}

func (b *builder) bulkhead(name string) (baldur.Gate, error) {
	bc := b.cfg.Bulkheads[name]
	at := "bulkheads." + name
	if bc.Tiers != nil {
		if bc.MaxConcurrent != 0 || bc.MaxWait != 0 {
			return nil, &baldur.ConfigError{Field: at, Reason: "set either tiers or max_concurrent/max_wait, not both"}
		}
		cfg := bulkhead.TieredConfig{Name: name, RetryAfter: baldur.Duration(bc.RetryAfter.D()), Clock: b.r.clock}
		if len(bc.Tiers) > 0 {
			tiers, err := tierMap(at+".tiers", bc.Tiers, func(v TierBulkhead) bulkhead.TierLimit {
				return bulkhead.TierLimit{MaxConcurrent: v.MaxConcurrent, MaxWait: baldur.Duration(v.MaxWait.D())}
			})
			if err != nil {
				return nil, err
			}
			cfg.Tiers = tiers
		}
		g, err := b.r.reuse(b.next, "bulkhead/"+name, cfg, func() (any, error) { return bulkhead.NewTiered(cfg) })
		if err != nil {
			return nil, wrapField(at, err)
		}
		tg := g.(*bulkhead.Tiered)
		for _, s := range tg.Compartments() {
			if err := b.register(s); err != nil {
				return nil, err
			}
		}
		return tg, nil
	}
	cfg := bulkhead.Config{Name: name, MaxConcurrent: bc.MaxConcurrent, MaxWait: baldur.Duration(bc.MaxWait.D()), RetryAfter: baldur.Duration(bc.RetryAfter.D()), Clock: b.r.clock}
	key := "bulkhead/" + name
	// A change of size alone resizes the live compartment, so that permits
	// in flight keep counting against the new limit.
	if prev, ok := b.r.gates[key]; ok {
		if pc, ok := prev.cfg.(bulkhead.Config); ok && pc.MaxConcurrent != cfg.MaxConcurrent {
			same := pc
			same.MaxConcurrent = cfg.MaxConcurrent
			if sameConfig(same, cfg) {
				// Validate here, in the build phase, exactly as a fresh
				// load does (a throwaway compartment costs a few words),
				// so that an invalid size fails the reload before anything
				// changes.
				if _, err := bulkhead.New(cfg); err != nil {
					return nil, wrapField(at, err)
				}
				s := prev.gate.(*bulkhead.Semaphore)
				n := cfg.MaxConcurrent
				b.next[key] = reusable{cfg: cfg, gate: s}
				// Resize checks the bounds New accepted above, so it
				// cannot fail here.
				b.commit = append(b.commit, func() { _ = s.Resize(n) })
				return s, b.register(s)
			}
		}
	}
	g, err := b.r.reuse(b.next, key, cfg, func() (any, error) { return bulkhead.New(cfg) })
	if err != nil {
		return nil, wrapField(at, err)
	}
	s := g.(*bulkhead.Semaphore)
	return s, b.register(s)
}

func (b *builder) register(s *bulkhead.Semaphore) error {
	if _, err := b.bhs.Get(s.Name()); err == nil {
		return nil // already registered by another policy's reference
	}
	return b.bhs.Register(s)
}

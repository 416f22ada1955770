package bulkhead

import (
	"cmp"
	"slices"
	"strconv"
	"sync"

	"github.com/baldur-go/baldur"
)

// Registry holds named compartments: semaphores, pools and any other
// baldur.Bulkhead registered with Register. It implements
// baldur.BulkheadRegistry. The zero Registry is empty and ready to use; it
// is safe for concurrent use.
type Registry struct {
	mu sync.RWMutex
	m  map[string]baldur.Bulkhead
}

var _ baldur.BulkheadRegistry = (*Registry)(nil)

// NewRegistry returns an empty Registry.
func NewRegistry() *Registry { return &Registry{} }

// Get returns the named compartment. An unknown name is an *UnknownError
// listing the registered names.
func (r *Registry) Get(name string) (baldur.Bulkhead, error) {
	r.mu.RLock()
	b, ok := r.m[name]
	r.mu.RUnlock()
	if !ok {
		return nil, &UnknownError{Name: name, Registered: r.Names()}
	}
	return b, nil
}

// GetOrCreate returns the semaphore named name, creating it from cfg the
// first time. cfg.Name may be empty (name is used) or equal to name. Asking
// again with the same configuration returns the same instance; a different
// configuration (or a pool by that name) is a *baldur.ConfigError naming the
// conflicting field. The current MaxConcurrent, after any Resize, is what is
// compared.
func (r *Registry) GetOrCreate(name string, cfg Config) (*Semaphore, error) {
	if err := checkName(name, cfg.Name); err != nil {
		return nil, err
	}
	cfg.Name = name
	cfg, err := cfg.normalized()
	if err != nil {
		return nil, err
	}
	return getOrCreate(r, name, "semaphore",
		func(s *Semaphore) error { return s.Config().conflict(cfg) },
		func() (*Semaphore, error) { return New(cfg) })
}

// GetOrCreatePool is GetOrCreate for a worker pool. A new pool's workers
// start at once; the caller closes pools it no longer needs.
func (r *Registry) GetOrCreatePool(name string, cfg PoolConfig) (*Pool, error) {
	if err := checkName(name, cfg.Name); err != nil {
		return nil, err
	}
	cfg.Name = name
	cfg, err := cfg.normalized()
	if err != nil {
		return nil, err
	}
	return getOrCreate(r, name, "pool",
		func(p *Pool) error { return p.Config().conflict(cfg) },
		func() (*Pool, error) { return NewPool(cfg) })
}

// getOrCreate returns the compartment registered as name when it is a T whose
// configuration matches (same reports a mismatch), or builds and registers
// one with create. Both run under the registry lock; neither calls user code.
func getOrCreate[T baldur.Bulkhead](r *Registry, name, kind string, same func(T) error, create func() (T, error)) (T, error) {
	var zero T
	r.mu.Lock()
	defer r.mu.Unlock()
	if b, ok := r.m[name]; ok {
		t, ok := b.(T)
		if !ok {
			return zero, conflict(name, "Kind", b.State().Kind, kind)
		}
		if err := same(t); err != nil {
			return zero, err
		}
		return t, nil
	}
	t, err := create()
	if err != nil {
		return zero, err
	}
	r.put(name, t)
	return t, nil
}

// Register adds a compartment built elsewhere (say, the compartments of a
// Tiered gate) under its Name. A name already taken by another compartment
// is a *baldur.ConfigError; registering the same one again is a no-op.
func (r *Registry) Register(b baldur.Bulkhead) error {
	name := b.Name()
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.m[name]; ok && old != b {
		return &baldur.ConfigError{Field: "Name", Value: name, Reason: "already registered"}
	}
	r.put(name, b)
	return nil
}

// Names returns the registered names, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	names := make([]string, 0, len(r.m))
	for n := range r.m {
		names = append(names, n)
	}
	r.mu.RUnlock()
	slices.Sort(names)
	return names
}

// States returns every compartment's occupancy, sorted by name.
func (r *Registry) States() []baldur.BulkheadState {
	r.mu.RLock()
	bs := make([]baldur.Bulkhead, 0, len(r.m))
	for _, b := range r.m {
		bs = append(bs, b)
	}
	r.mu.RUnlock()
	out := make([]baldur.BulkheadState, len(bs))
	for i, b := range bs {
		out[i] = b.State()
	}
	slices.SortFunc(out, func(a, b baldur.BulkheadState) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

func (r *Registry) put(name string, b baldur.Bulkhead) {
	if r.m == nil {
		r.m = make(map[string]baldur.Bulkhead)
	}
	r.m[name] = b
}

func checkName(name, cfgName string) error {
	if name == "" {
		return &baldur.ConfigError{Field: "Name", Reason: "must not be empty"}
	}
	if cfgName != "" && cfgName != name {
		return &baldur.ConfigError{Field: "Name", Value: cfgName, Reason: "differs from the registry name " + strconv.Quote(name)}
	}
	return nil
}

// conflict reports a requested value (want) that differs from the
// registered compartment's (have).
func conflict(name, field, have, want string) error {
	reason := "conflicts with registered compartment " + strconv.Quote(name)
	if have != "" {
		reason += " (has " + have + ")"
	}
	return &baldur.ConfigError{Field: field, Value: want, Reason: reason}
}

// conflict compares normalized configs field by field.
func (c Config) conflict(want Config) error {
	switch {
	case c.MaxConcurrent != want.MaxConcurrent:
		return conflict(c.Name, "MaxConcurrent", strconv.Itoa(c.MaxConcurrent), strconv.Itoa(want.MaxConcurrent))
	case c.MaxWait != want.MaxWait:
		return conflict(c.Name, "MaxWait", c.MaxWait.String(), want.MaxWait.String())
	case c.RetryAfter != want.RetryAfter:
		return conflict(c.Name, "RetryAfter", c.RetryAfter.String(), want.RetryAfter.String())
	case !sameClock(c.Clock, want.Clock):
		return conflict(c.Name, "Clock", "", "")
	}
	return nil
}

func (c PoolConfig) conflict(want PoolConfig) error {
	switch {
	case c.Workers != want.Workers:
		return conflict(c.Name, "Workers", strconv.Itoa(c.Workers), strconv.Itoa(want.Workers))
	case c.QueueSize != want.QueueSize:
		return conflict(c.Name, "QueueSize", strconv.Itoa(c.QueueSize), strconv.Itoa(want.QueueSize))
	case c.Timeout != want.Timeout:
		return conflict(c.Name, "Timeout", c.Timeout.String(), want.Timeout.String())
	case c.RetryAfter != want.RetryAfter:
		return conflict(c.Name, "RetryAfter", c.RetryAfter.String(), want.RetryAfter.String())
	case !sameClock(c.Clock, want.Clock):
		return conflict(c.Name, "Clock", "", "")
	}
	return nil
}

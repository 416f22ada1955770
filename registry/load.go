package registry

import (
	"github.com/baldur-go/baldur"
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
// release into the instance that admitted them. A worker pool the new
// configuration replaces or drops is retired: it closes, and its workers
// exit, once its last call is done. On error nothing changes, the pools
// built for the failed load are closed, and the previous configuration
// keeps serving.
func (r *Registry) Load(cfg Config) error {
	if err := validateSections(&cfg); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	b := &builder{r: r, cfg: &cfg, next: map[string]reusable{}}
	spec, err := b.build()
	if err != nil {
		b.abort()
		return err
	}
	t, err := buildTable(spec)
	if err != nil {
		b.abort()
		return err
	}
	fleet, err := r.loadFleet(&cfg)
	if err != nil {
		return err
	}
	// Commit: nothing below can fail.
	for _, f := range b.commit {
		f()
	}
	r.gates = b.next
	r.fleet, r.loaded = fleet, true
	r.cfg = cfg
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
	extra  baldur.Gate // appended to every policy (a canary cohort's observe gate)
	cohort bool        // builds a canary cohort's table: commits nothing
}

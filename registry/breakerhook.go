package registry

import "github.com/baldur-go/baldur/blast"

// BreakerHook is told every state change of the partitions of the
// breakers Load builds, with the breaker's name (its key in the file). It
// runs as blast.BreakerConfig.OnStateChange does: on the goroutine that
// caused the change, after the breaker's lock is released.
type BreakerHook func(breaker string, p blast.Partition, from, to blast.State)

// WithBreakerStateChange sets the hook of every breaker Load builds (the
// dead-letter queue arms auto-replay from it: dlq.Queue.OnBreakerStateChange).
// A breaker kept across a reload keeps the hook it was built with.
func WithBreakerStateChange(h BreakerHook) Option { return func(r *Registry) { r.breakerHook = h } }

// hooked returns cfg with the registry's hook, if any. It is applied at
// build time only, so that the configuration compared across reloads stays
// the file's.
func (r *Registry) hooked(name string, cfg blast.BreakerConfig) blast.BreakerConfig {
	if h := r.breakerHook; h != nil {
		user := cfg.OnStateChange
		cfg.OnStateChange = func(p blast.Partition, from, to blast.State) {
			if user != nil {
				user(p, from, to)
			}
			h(name, p, from, to)
		}
	}
	return cfg
}

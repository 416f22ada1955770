package registry

import (
	"errors"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/chaos"
)

// Chaos returns the registry's chaos injector: the local copy of the active
// experiment set that the fault and observe gates of every policy read.
// It is made on first use and outlives reloads, so a chaos.Scheduler given
// it (chaos.Config.Injector) keeps every policy, old or new, in step.
func (r *Registry) Chaos() *chaos.Injector {
	r.chaosOnce.Do(func() { r.chaosInj = chaos.NewInjector(r.clock) })
	return r.chaosInj
}

// ChaosConfig returns the loaded configuration's chaos section, for the
// service to build its chaos.Scheduler with; false when there is none.
func (r *Registry) ChaosConfig() (chaos.Config, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.chaosCfg == nil {
		return chaos.Config{}, false
	}
	return *r.chaosCfg, true
}

// chaosSection validates the chaos section and records it on commit.
func (b *builder) chaosSection() error {
	var keep *chaos.Config
	if b.cfg.Chaos != nil {
		if err := b.cfg.Chaos.Validate(); err != nil {
			var ce *baldur.ConfigError
			if errors.As(err, &ce) {
				return &baldur.ConfigError{Field: "chaos." + ce.Field, Value: ce.Value, Reason: ce.Reason}
			}
			return err
		}
		c := *b.cfg.Chaos
		keep = &c
	}
	b.commit = append(b.commit, func() { b.r.chaosCfg = keep })
	return nil
}

// chaosGates adds the fault stage (and, when the policy has room, the
// observe stage) to a policy's gates when the configuration has a chaos
// section. With no active experiment each costs one atomic load.
func (b *builder) chaosGates(policy string, gates []baldur.Gate) []baldur.Gate {
	if b.cfg.Chaos == nil {
		return gates
	}
	observe, fault := b.r.Chaos().Gates(policy)
	gates = append(gates, fault)
	if len(gates) < baldur.MaxGates {
		gates = append(gates, observe)
	}
	return gates
}

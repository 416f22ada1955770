package baldur

import (
	"context"
	"time"
)

// LearningObservation is the outcome of one recovery action, fed to the
// learning service.
type LearningObservation struct {
	// Domain and Operation locate the failure that was acted on.
	Domain, Operation string
	// FailureType classifies the failure, as in DLQEntry.
	FailureType string
	// Action names the recovery taken ("retry", "breaker_open", "replay",
	// "rollback", a runbook name).
	Action string
	// Succeeded reports whether the action recovered the call or service.
	Succeeded bool
	// Duration is how long the action took to recover, or to fail.
	Duration time.Duration
	At       time.Time
}

// LearningQuery asks which recovery action to try for a failure.
type LearningQuery struct {
	Domain, Operation, FailureType string
}

// LearningSuggestion is the learning service's advice.
type LearningSuggestion struct {
	// Action is the recommended recovery action.
	Action string
	// Confidence is 0..1.
	Confidence float64
	// Samples is the number of observations behind the advice.
	Samples int
}

// LearningService learns which recovery actions work from their outcomes,
// and suggests one for a new failure. Its advice is optional input: callers
// keep their configured behaviour when there is none. It is the registry's
// "learning_service" slot; its default is NoOpLearning (fail-open: nothing
// is learned and nothing is suggested, so nothing changes).
//
// Implementations must be safe for concurrent use. Observe must not block
// the caller on storage.
type LearningService interface {
	Observe(ctx context.Context, o LearningObservation) error
	// Suggest returns advice for q; ok is false when there is none.
	Suggest(ctx context.Context, q LearningQuery) (s LearningSuggestion, ok bool, err error)
}

// NoOpLearning discards observations and never suggests. It is the default
// LearningService. Safe for concurrent use.
type NoOpLearning struct{}

var _ LearningService = NoOpLearning{}

// Observe discards o.
func (NoOpLearning) Observe(context.Context, LearningObservation) error { return nil }

// Suggest reports no advice.
func (NoOpLearning) Suggest(context.Context, LearningQuery) (LearningSuggestion, bool, error) {
	return LearningSuggestion{}, false, nil
}

// Package canary defines how resilience policy rolls out on a slice of
// traffic first: a configuration change (a throttle's rate, a breaker's
// thresholds) is applied in stages, each judged by the calls it serves
// against the baseline, with a rollback snapshot taken before the first
// stage and one active rollout per config type.
//
// This package holds the rollout's protocol and value types: the life
// cycle (State, with its allowed transitions), the plan and its stages, the
// rollout record, the stall rule (Stalled) and the Service interface an
// implementation fills. It ships no Service.
package canary

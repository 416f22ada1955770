// Package chaos defines fault-injection experiments run inside the guarded
// call under a fail-closed safety guard: chaos is off and dry-run by
// default, a SafetyGuard must approve every experiment, stop conditions are
// checked continuously, and experiments end on their own.
//
// This package holds the experiment's protocol and value types: Experiment
// and Run, the Scheduler, ReportGenerator and SafetyGuard interfaces an
// implementation fills, and the fail-closed NoOpScheduler and
// NoOpSafetyGuard that stand in where none is configured. It ships no
// scheduler that injects faults.
package chaos

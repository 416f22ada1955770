// Package registry is the one place a service resolves every provider and
// every policy from.
//
// # Slots
//
// A Registry has one typed Slot per role that admin, metrics or the request
// path read (the governance checker, the emergency manager, the error-budget
// service and decider, the bulkhead registry, the admin identity resolver;
// Slots lists them). Get returns the provider that was Set, else the slot's
// default; SafeGet also reports whether there is one at all; Override sets a
// provider for a test and returns the function that restores the previous
// one. Defaults follow each role's fail mode: governance defaults to a NoOp
// that allows everything (fail-open), and slots that exist only with a real
// implementation (the admin identity resolver) have no default, so SafeGet
// reports them unset. Load fills the governance, emergency, error-budget and
// bulkhead slots from the configuration it builds. Reading a slot is one
// atomic load.
//
// # Policies
//
// The registry implements baldur.Resolver: Policy(operation) returns the
// baldur.Policy that guards an operation, found by exact route, then by glob
// route ('*' matches any run of characters), then the default policy. The
// routes live in an immutable table behind one atomic pointer; a glob
// result is cached per table, so the hot path takes no lock. Every policy
// Load builds carries the file's service and region and fills them into
// calls whose adapter left them empty, so adapters need not be told them.
//
// # Configuration and hot reload
//
// Load builds gates and policies from a Config (the JSON file format read
// by ReadConfigFile; see docs/config.md) and swaps the table atomically.
// Nothing is swapped unless the whole configuration is valid: every error
// is a *baldur.ConfigError naming the field ("bulkheads.slow.max_concurrent",
// "policies[2].operations[0]"), and a failed reload leaves the previous
// configuration serving. A reload keeps every gate whose configuration did
// not change, with its state (token buckets, breaker counts, permits in
// flight); a bulkhead whose only change is its size is resized in place;
// other changed gates are built anew. A call admitted before a swap holds
// permits of the gate instances that admitted it and releases them there,
// so no permit is lost or released twice.
//
// A Registry is safe for concurrent use.
package registry

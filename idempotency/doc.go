// Package idempotency defines the ledger that makes a request run at most
// once per key across a fleet: a claim per key, namespaced by domain and
// operation, remembered after success and released after failure.
//
// This package holds the ledger's value types: Record, its Status and the
// rule that says whether a record still blocks a retry (Record.Blocks). It
// ships no ledger.
package idempotency

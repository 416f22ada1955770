//go:build race

package idempotency_test

// raceEnabled is true under -race, whose sync.Pool drops items at random:
// the allocation assertions that rely on pooling are skipped then.
const raceEnabled = true

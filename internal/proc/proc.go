// Package proc picks the stripe of a striped counter for the calling
// goroutine: the number of the scheduler's P (the processor slot a
// goroutine runs on) it runs on at the moment of the call.
//
// A counter written by every call (a budget's bucket, a breaker's pending
// successes) costs a cache-line transfer between cores on every write once
// two cores write it. Split into stripes, one per P, each core writes its
// own line and the counter's readers add the stripes up. Picking the stripe
// at random spreads the writes but keeps each line moving between the cores
// that pick it; picking it by P keeps it on one core.
//
// The goroutine may move to another P right after Index returns, so the
// index says where a write is cheap, never who owns the stripe: the stripes
// must still be atomics, and any stripe must accept any write.
package proc

import (
	"runtime"
	_ "unsafe" // for go:linkname
)

// Index returns the number of the P the caller runs on, in
// [0, GOMAXPROCS) as it was when the P was made. Callers mask it to their
// stripe count. It costs a few nanoseconds, less than a random number, and
// is safe for concurrent use.
func Index() int {
	n := procPin()
	procUnpin()
	return n
}

// Stripe returns the stripe of the caller in a counter of mask+1 stripes
// (mask+1 a power of two, as Stripes gives): Index() & mask, and 0 without
// asking when the counter has a single stripe.
func Stripe(mask int) int {
	if mask == 0 {
		return 0
	}
	return Index() & mask
}

// Stripes returns the number of stripes a counter made now should have:
// GOMAXPROCS rounded up to a power of two, at most limit (a power of two).
// A process on one P gets one stripe, whose writers need not call Index.
// The count is fixed when the counter is made; a later change of GOMAXPROCS
// leaves the counter correct, only more or less contended.
func Stripes(limit int) int {
	n := 1
	for n < runtime.GOMAXPROCS(0) && n < limit {
		n *= 2
	}
	return n
}

// The runtime keeps these two for packages outside the standard library,
// under a promise not to change them (go.dev/issue/67401); no exported API
// tells a goroutine which P it runs on.

//go:linkname procPin runtime.procPin
func procPin() int

//go:linkname procUnpin runtime.procUnpin
func procUnpin()

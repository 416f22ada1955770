package redistest

import (
	"testing"

	"go.uber.org/goleak"
)

// NoLeaks fails t when goroutines started during the test are still running
// once every cleanup registered after this call has run. Call it first in a
// test; tests that use it must not run in parallel.
func NoLeaks(t testing.TB) {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
}

package redistest

import (
	"testing"

	"go.uber.org/goleak"
)

// NoLeaks fails t when goroutines started during the test are still running
// once every cleanup registered after this call has run. Call it first in a
// test; tests that use it must not run in parallel. The goroutines that
// watch a server process (a Shared one outlives the test) are not counted.
func NoLeaks(t testing.TB) {
	t.Helper()
	opts := []goleak.Option{
		goleak.IgnoreCurrent(),
		goleak.IgnoreAnyFunction("github.com/baldur-go/baldur/redisstore/internal/redistest.(*Server).launch.func1"),
		goleak.IgnoreAnyFunction("os/exec.(*Cmd).Start.func2"),
	}
	t.Cleanup(func() { goleak.VerifyNone(t, opts...) })
}

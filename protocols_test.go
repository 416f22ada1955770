package baldur_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
)

// TestNoOpRecoveryLock checks that the NoOp recovery lock grants (its fail
// mode is open) and that release and extend succeed.
func TestNoOpRecoveryLock(t *testing.T) {
	t.Parallel()
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, ctx := range []context.Context{context.Background(), cancelled} {
		for _, blocking := range []bool{false, true} {
			t.Run(fmt.Sprintf("blocking=%v/ctx_err=%v", blocking, ctx.Err()), func(t *testing.T) {
				t.Parallel()
				held, err := baldur.NoOpRecoveryLock{}.Acquire(ctx, "runbook", "s1", blocking)
				require.NoError(t, err)
				assert.True(t, held)
			})
		}
	}
	ctx := context.Background()
	l := baldur.NoOpRecoveryLock{}
	assert.NoError(t, l.Release(ctx, "ns", "s1"), "Release")
	assert.NoError(t, l.Release(ctx, "ns", "s1"), "second Release")
	assert.NoError(t, l.Extend(ctx, "ns", "s1", time.Minute), "Extend")
}

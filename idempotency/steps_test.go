package idempotency_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/idempotency"
)

// TestStepsRunOnce: a step runs once per key; a completed key is
// ErrDuplicateKey, a failure releases the key, a running one is
// ErrInProgress, and a lost claim cancels the step's context.
func TestStepsRunOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := clock.NewFake(epoch)
	m := newMemory(t, clk)
	s, err := idempotency.NewSteps(m, idempotency.StepsConfig{Clock: clk, Lease: 3 * time.Second})
	require.NoError(t, err)
	runs := 0
	ok := func(context.Context) error { runs++; return nil }
	key := idempotency.DLQKey("entry-9", 2)
	assert.Equal(t, "dlq:entry-9:2", key)
	_, err = s.Do(ctx, "dlq.replay", key, ok)
	require.NoError(t, err)
	_, err = s.Do(ctx, "dlq.replay", key, ok)
	assert.ErrorIs(t, err, idempotency.ErrDuplicateKey)
	assert.Equal(t, 1, runs)

	boom := errors.New("boom")
	ck := idempotency.CanaryKey("r1", 2, "eu-1")
	_, err = s.Do(ctx, "canary.apply", ck, func(context.Context) error { return boom })
	assert.ErrorIs(t, err, boom)
	_, err = s.Do(ctx, "canary.apply", ck, ok)
	require.NoError(t, err, "the failure released the key")

	wk := idempotency.WatchdogKey("canary.interlock", "r1", 7)
	entered, done := make(chan struct{}), make(chan error, 1)
	go func() {
		_, err := s.Do(ctx, "watchdog", wk, func(ctx context.Context) error {
			close(entered)
			<-ctx.Done()
			return context.Cause(ctx)
		})
		done <- err
	}()
	<-entered
	_, err = s.Do(ctx, "watchdog", wk, ok)
	assert.ErrorIs(t, err, idempotency.ErrInProgress)
	released, err := m.ForceRelease(ctx, idempotency.Key{Domain: "automation", Operation: "watchdog", Key: wk})
	require.NoError(t, err)
	require.True(t, released)
	step(clk, time.Second) // the next heartbeat finds the claim gone
	select {
	case err := <-done:
		assert.ErrorIs(t, err, idempotency.ErrLeaseLost, "the step's context was cancelled")
	case <-time.After(5 * time.Second):
		t.Fatal("step not cancelled")
	}
}

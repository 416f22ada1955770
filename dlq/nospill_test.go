package dlq_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/dlq"
)

// TestNoSpillWaitsForASlowWriteInsteadOfDropping: without a spill
// directory, a batch that arrives while the repository is still writing
// the previous one waits for it (on the writer goroutine, never the
// caller's) instead of being dropped, so a burst on a healthy repository
// loses nothing, and Close stores what was captured.
func TestNoSpillWaitsForASlowWriteInsteadOfDropping(t *testing.T) {
	t.Parallel()
	repo := newHangRepo(clock.NewFake(t0), true)
	q := newQueue(t, dlq.Config{Repository: repo})
	ctx := context.Background()
	_, err := q.Capture(ctx, dlq.Entry{Domain: "payments", Operation: "POST /charges", FailureType: "timeout"})
	require.NoError(t, err)
	<-repo.entered // the first batch is being written, and hangs
	_, err = q.Capture(ctx, dlq.Entry{Domain: "payments", Operation: "POST /charges", FailureType: "timeout"})
	require.NoError(t, err, "capture never waits")
	require.Eventually(t, func() bool {
		st, err := q.Stats(ctx)
		return err == nil && st.OutboxDepth == 0
	}, 10*time.Second, time.Millisecond, "the writer took the second batch while the first write hangs")
	repo.release()
	require.NoError(t, q.Close(ctx))
	st, err := q.Stats(ctx)
	require.NoError(t, err)
	assert.Zero(t, st.Dropped["spill_full"], "nothing dropped for want of a spill")
	es, err := repo.List(ctx, dlq.Filter{})
	require.NoError(t, err)
	assert.Len(t, es, 2)
}

// TestCloseEndsOnItsContextWhileTheRepositoryHangs: a writer waiting for
// a hung repository does not hold Close past its context.
func TestCloseEndsOnItsContextWhileTheRepositoryHangs(t *testing.T) {
	t.Parallel()
	repo := newHangRepo(clock.NewFake(t0), true)
	t.Cleanup(repo.release)
	q := newQueue(t, dlq.Config{Repository: repo})
	ctx := context.Background()
	_, err := q.Capture(ctx, dlq.Entry{Domain: "payments", Operation: "POST /charges", FailureType: "timeout"})
	require.NoError(t, err)
	<-repo.entered
	_, err = q.Capture(ctx, dlq.Entry{Domain: "payments", Operation: "POST /charges", FailureType: "timeout"})
	require.NoError(t, err)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	assert.ErrorIs(t, q.Close(cctx), context.Canceled)
}

package throttle_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/throttle"
)

func TestErrThrottledMatchesRejections(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Unix(0, 0))
	th, err := throttle.New(throttle.Config{Rate: 1, Burst: 1, Clock: clk})
	require.NoError(t, err)
	c := baldur.Call{Key: "k", Now: clk.Now()}
	_, err = th.Admit(context.Background(), c)
	require.NoError(t, err)
	_, err = th.Admit(context.Background(), c)
	require.ErrorIs(t, err, throttle.ErrThrottled, "second call")
	require.ErrorIs(t, err, baldur.ErrRejected, "second call")
	require.ErrorIs(t, throttle.ErrThrottled, baldur.ErrRejected, "the sentinel itself must match baldur.ErrRejected")
}

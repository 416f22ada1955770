package blast_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/blast"
	"github.com/baldur-go/baldur/clock"
)

func TestSentinelsMatchRejections(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Unix(0, 0))
	br, err := blast.NewBreakers(blast.BreakerConfig{Clock: clk})
	require.NoError(t, err)
	br.ForceOpen(blast.Partition{Key: "k"}, time.Minute)
	_, err = br.Admit(context.Background(), baldur.Call{Key: "k", Now: clk.Now()})
	require.ErrorIs(t, err, blast.ErrBreakerOpen, "forced-open partition")
	require.ErrorIs(t, err, baldur.ErrRejected, "forced-open partition")
	require.NotErrorIs(t, err, blast.ErrShareCap, "forced-open partition")
	sc, err := blast.NewShareCap(blast.ShareCapConfig{MaxPerKey: 1})
	require.NoError(t, err)
	p, err := sc.Admit(context.Background(), baldur.Call{Key: "k"})
	require.NoError(t, err)
	defer p.Release(baldur.Outcome{})
	_, err = sc.Admit(context.Background(), baldur.Call{Key: "k"})
	require.ErrorIs(t, err, blast.ErrShareCap, "second in-flight call of one key")
	require.ErrorIs(t, err, baldur.ErrRejected, "second in-flight call of one key")
}

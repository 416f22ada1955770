package dlq_test

import (
	"context"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/dlq"
)

// TestCaptureNeverBlocksOnHungRepository: with a repository whose Add
// never returns, 1 M captures from 64 goroutines keep the caller's p99
// at or under 5 µs (asserted with BALDUR_MEASURE=1 and without the race
// detector, which slows every memory access), spill to disk, and a restart re-ingests every spilled
// entry exactly once. What the writer cannot take while the outbox is full
// is dropped and counted, never waited for.
func TestCaptureNeverBlocksOnHungRepository(t *testing.T) {
	total, workers := 1_000_000, 64
	if raceEnabled || testing.Short() {
		total = 64_000
	}
	dir := t.TempDir()
	hung := newHangRepo(clock.NewFake(t0), true)
	t.Cleanup(hung.release)
	q, err := dlq.New(dlq.Config{Repository: hung, SpillDir: dir, SpillBytes: 16 << 20, Domains: []dlq.Domain{{Name: "payments"}}})
	require.NoError(t, err)
	payload := []byte(`{"order":1234,"amount":"10.00"}`)
	lat := make([][]time.Duration, workers)
	ids := make([][]string, workers)
	var dropped [64]int
	var wg sync.WaitGroup
	ctx := context.Background()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := make([]time.Duration, 0, total/workers)
			for range total / workers {
				start := time.Now()
				id, err := q.Capture(ctx, dlq.Entry{Domain: "payments", Operation: "POST /charges", Payload: payload, FailureType: "timeout", Error: "deadline exceeded"})
				l = append(l, time.Since(start))
				if err != nil {
					if !assert.ErrorIs(t, err, dlq.ErrOutboxFull) {
						return
					}
					dropped[w]++
					continue
				}
				ids[w] = append(ids[w], id)
			}
			lat[w] = l
		}()
	}
	wg.Wait()
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_ = q.Close(cctx)
	st, err := q.Stats(ctx)
	require.NoError(t, err)

	var all []time.Duration
	accepted, drops := 0, 0
	for w := range workers {
		all = append(all, lat[w]...)
		accepted += len(ids[w])
		drops += dropped[w]
	}
	slices.Sort(all)
	p50, p99, p999 := all[len(all)/2], all[len(all)*99/100], all[len(all)*999/1000]
	t.Logf("%d captures from %d goroutines: p50 %v, p99 %v, p99.9 %v, max %v; accepted %d, dropped (outbox full) %d",
		len(all), workers, p50, p99, p999, all[len(all)-1], accepted, drops)
	require.Equal(t, total, accepted+drops)
	// Wall-clock latency is a measurement, not a property a shared CI
	// machine can promise: the bound is checked on request
	// (BALDUR_MEASURE=1, without the race detector) and logged otherwise.
	if !raceEnabled && os.Getenv("BALDUR_MEASURE") == "1" {
		assert.LessOrEqual(t, p99, 5*time.Microsecond, "capture p99")
	}
	segs := segments(t, dir)
	require.NotEmpty(t, segs, "spilled to disk")

	healthy := dlq.NewMemory(dlq.MemoryConfig{Limits: dlq.Limits{Capacity: 10_000_000, DomainCapacity: 10_000_000}, Clock: clock.NewFake(t0)})
	q2, err := dlq.New(dlq.Config{Repository: healthy, SpillDir: dir})
	require.NoError(t, err)
	require.NoError(t, q2.Close(ctx))
	captured := make(map[string]bool, accepted)
	for w := range ids {
		for _, id := range ids[w] {
			captured[id] = true
		}
	}
	stored, err := healthy.List(ctx, dlq.Filter{Limit: 10_000_000})
	require.NoError(t, err)
	seen := make(map[string]bool, len(stored))
	for _, e := range stored {
		require.True(t, captured[e.ID], "re-ingested %s was captured", e.ID)
		require.False(t, seen[e.ID], "%s re-ingested twice", e.ID)
		seen[e.ID] = true
	}
	spillFull := int(st.Dropped["spill_full"])
	t.Logf("spilled and re-ingested once: %d entries; dropped at the spill bound (spill_full): %d", len(stored), spillFull)
	assert.NotZero(t, len(stored))
	held := accepted - len(stored) - spillFull
	assert.True(t, held >= 1 && held <= dlq.DefaultBatch, "every accepted entry is re-ingested, counted spill_full, or in the one batch the hung write holds (%d)", held)
	assert.Equal(t, drops, int(st.Dropped["outbox_full"]), "outbox drops are counted")
	assert.Empty(t, segments(t, dir), "the spill is empty after re-ingestion")
}

package dlq_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/dlq"
)

func TestCaptureStoresMaskedCappedFingerprinted(t *testing.T) {
	t.Parallel()
	repo := dlq.NewMemory(dlq.MemoryConfig{Clock: clock.NewFake(t0)})
	q := newQueue(t, dlq.Config{Repository: repo, Clock: clock.NewFake(t0), Mask: dlq.Mask{Deny: []string{"password"}, Redact: []string{`tok_[a-z0-9]+`}}})
	big := `{"password":"hunter2","pad":"` + strings.Repeat("x", 5000) + `"}`
	tests := []struct {
		name, payload string
		check         func(t *testing.T, e dlq.Entry)
	}{
		{"masked", `{"user":"a","password":"hunter2","note":"tok_abc123"}`, func(t *testing.T, e dlq.Entry) {
			assert.JSONEq(t, `{"user":"a","password":"[MASKED]","note":"[REDACTED]"}`, string(e.Payload))
			assert.False(t, e.Truncated)
		}},
		{"over 4 KiB truncated and flagged, masked first", big, func(t *testing.T, e dlq.Entry) {
			assert.Len(t, e.Payload, dlq.MaxPayload)
			assert.True(t, e.Truncated)
			assert.NotContains(t, string(e.Payload), "hunter2")
		}},
		{"unmaskable dropped, metadata kept", `password=hunter2`, func(t *testing.T, e dlq.Entry) {
			assert.Nil(t, e.Payload)
			assert.Equal(t, "mask_error", e.PayloadDropped)
			assert.Equal(t, "payments", e.Domain)
			assert.Equal(t, "timeout", e.FailureType)
		}},
	}
	ids := map[string]string{}
	for _, tt := range tests {
		buf := []byte(tt.payload)
		id, err := q.Capture(context.Background(), dlq.Entry{Domain: "payments", Operation: "POST /charges", Payload: buf, FailureType: "timeout", Error: "timeout after 30s"})
		require.NoError(t, err)
		for i := range buf {
			buf[i] = 'z' // the queue copied it
		}
		ids[tt.name] = id
	}
	closeNow(t, q)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := repo.Get(context.Background(), ids[tt.name])
			require.NoError(t, err)
			assert.Equal(t, dlq.Pending, e.Status)
			assert.Equal(t, dlq.Fingerprint("payments", "POST /charges", "timeout", "timeout after 30s"), e.Group)
			assert.True(t, e.ExpiresAt.Equal(t0.Add(dlq.DefaultExpiry)), "expires %v", e.ExpiresAt)
			tt.check(t, e)
		})
	}
	_, err := q.Capture(context.Background(), dlq.Entry{Domain: "payments"})
	assert.ErrorIs(t, err, dlq.ErrClosed)
}

func TestCaptureRejectsNoDomainAndDropsOnFullOutbox(t *testing.T) {
	t.Parallel()
	repo := newHangRepo(clock.NewFake(t0), true)
	t.Cleanup(repo.release)
	q := newQueue(t, dlq.Config{Repository: repo, Outbox: 1, Batch: 1})
	_, err := q.Capture(context.Background(), dlq.Entry{})
	assert.ErrorIs(t, err, dlq.ErrNoDomain)
	full := false
	for range 10_000 {
		if _, err := q.Capture(context.Background(), dlq.Entry{Domain: "d"}); err != nil {
			require.ErrorIs(t, err, dlq.ErrOutboxFull)
			full = true
			break
		}
	}
	assert.True(t, full, "a one-place outbox behind a hung repository fills")
}

func segments(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.spill"))
	require.NoError(t, err)
	return m
}

// TestSpillAndRestartReingestOnce: a hung repository sends every batch
// after the one it holds to the spill; a restart on a healthy repository
// re-ingests each spilled entry once, and re-ingesting the same segment
// again (a crash before its deletion) stores nothing twice.
func TestSpillAndRestartReingestOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	hung := newHangRepo(clock.NewFake(t0), true)
	t.Cleanup(hung.release)
	q := newQueue(t, dlq.Config{Repository: hung, SpillDir: dir, Outbox: 5000, Batch: 16})
	const n = 3000
	captured := map[string]bool{}
	for i := range n {
		id, err := q.Capture(context.Background(), dlq.Entry{Domain: "payments", Operation: "op", Payload: []byte(fmt.Sprintf(`{"n":%d}`, i))})
		require.NoError(t, err)
		captured[id] = true
	}
	<-hung.entered
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, q.Close(ctx), context.Canceled, "the hung write is abandoned")
	segs := segments(t, dir)
	require.NotEmpty(t, segs, "spilled to disk")
	backup := t.TempDir()
	for _, s := range segs {
		b, err := os.ReadFile(s)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(backup, filepath.Base(s)), b, 0o600))
	}

	healthy := dlq.NewMemory(dlq.MemoryConfig{Limits: dlq.Limits{Capacity: 1e6, DomainCapacity: 1e6}, Clock: clock.NewFake(t0)})
	q2 := newQueue(t, dlq.Config{Repository: healthy, SpillDir: dir})
	closeNow(t, q2)
	stored, err := healthy.List(context.Background(), dlq.Filter{Limit: n})
	require.NoError(t, err)
	assert.Greater(t, len(stored), n/2, "most entries were spilled")
	assert.Less(t, len(stored), n, "the batch the hung write holds was not spilled")
	seen := map[string]bool{}
	for _, e := range stored {
		assert.True(t, captured[e.ID], "re-ingested %s was captured", e.ID)
		assert.False(t, seen[e.ID], "%s stored twice", e.ID)
		seen[e.ID] = true
	}
	assert.Empty(t, segments(t, dir), "re-ingested segments are deleted")

	// A crash before the deletion: the same segments again.
	for _, s := range segs {
		b, err := os.ReadFile(filepath.Join(backup, filepath.Base(s)))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(s, b, 0o600))
	}
	q3 := newQueue(t, dlq.Config{Repository: healthy, SpillDir: dir})
	closeNow(t, q3)
	assert.Equal(t, len(stored), countAll(t, healthy), "a segment ingested twice stores each entry once")
	assert.Empty(t, segments(t, dir))
}

// TestRepositoryErrorSpillsThenRecovers: a failing repository spills; when
// it recovers, the retry (on the fake clock) re-ingests everything.
func TestRepositoryErrorSpillsThenRecovers(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(t0)
	repo := newHangRepo(clk, false)
	repo.setFail(errors.New("down"))
	q := newQueue(t, dlq.Config{Repository: repo, Clock: clk, SpillDir: t.TempDir(), Batch: 8})
	const n = 200
	for range n {
		_, err := q.Capture(context.Background(), dlq.Entry{Domain: "payments"})
		require.NoError(t, err)
	}
	closeNow(t, q) // drains: every batch after the first failure spills
	assert.Zero(t, countAll(t, repo.Memory))
	repo.setFail(nil)
	q2 := newQueue(t, dlq.Config{Repository: repo, Clock: clk, SpillDir: q.SpillDir()})
	closeNow(t, q2)
	assert.Equal(t, n, countAll(t, repo.Memory), "nothing lost")
}

// TestReingestInProcess: while the repository fails, captures spill and a
// retry is armed on the clock; once it recovers, re-ingestion (what the
// retry runs) stores every entry without a restart.
func TestReingestInProcess(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(t0)
	repo := newHangRepo(clk, false)
	repo.setFail(errors.New("down"))
	q := newQueue(t, dlq.Config{Repository: repo, Clock: clk, SpillDir: t.TempDir(), Batch: 8, Outbox: 1000})
	const n = 100
	for range n {
		_, err := q.Capture(context.Background(), dlq.Entry{Domain: "payments"})
		require.NoError(t, err)
	}
	for {
		s, err := q.Stats(context.Background())
		require.NoError(t, err)
		if s.OutboxDepth == 0 && s.Spilled+countAll(t, repo.Memory) >= n-8 {
			break
		}
		runtime.Gosched()
	}
	assert.Positive(t, clk.Pending(), "a retry is armed")
	repo.setFail(nil)
	for {
		err := q.Reingest(context.Background())
		if !errors.Is(err, dlq.ErrBusy) {
			require.NoError(t, err)
			break
		}
		runtime.Gosched()
	}
	closeNow(t, q)
	assert.Equal(t, n, countAll(t, repo.Memory), "nothing lost, no restart")
}

// TestNoSpillRecoversAfterRetry: without a spill directory the batches a
// failing repository cannot take are dropped and counted; after the retry
// interval the next batch goes to the repository again.
func TestNoSpillRecoversAfterRetry(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(t0)
	repo := newHangRepo(clk, false)
	repo.setFail(errors.New("down"))
	q := newQueue(t, dlq.Config{Repository: repo, Clock: clk, Batch: 1, Outbox: 10})
	_, err := q.Capture(context.Background(), dlq.Entry{Domain: "payments"})
	require.NoError(t, err)
	for clk.Pending() == 0 {
		runtime.Gosched() // the writer's failed batch arms the retry
	}
	repo.setFail(nil)
	clk.Advance(dlq.DefaultRetry)
	// The retry runs on its timer goroutine; a capture after it is stored.
	for i := 0; ; i++ {
		_, err := q.Capture(context.Background(), dlq.Entry{Domain: "payments"})
		require.NoError(t, err)
		if countAll(t, repo.Memory) > 0 {
			break
		}
		require.Less(t, i, 1_000_000, "never stored again")
		runtime.Gosched()
	}
}

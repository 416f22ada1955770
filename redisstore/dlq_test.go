package redisstore

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/dlq"
	"github.com/baldur-go/baldur/dlq/dlqtest"
	"github.com/baldur-go/baldur/redisstore/internal/redistest"
)

func newDLQ(t *testing.T, c redis.UniversalClient, cfg DLQConfig) *DLQ {
	t.Helper()
	b := newBackend(t, c, Config{Scripts: DLQScripts, Logger: discard()})
	if cfg.Prefix == "" {
		cfg.Prefix = prefix(t)
	}
	cfg.Server.Logger = discard()
	r, err := NewDLQ(context.Background(), b, cfg)
	require.NoError(t, err)
	return r
}

// TestDLQConformance runs the dlq repository suite against a real server,
// on the suite's fake clock (expiry is the entries' ExpiresAt on it).
func TestDLQConformance(t *testing.T) {
	t.Parallel()
	s := shared.Get(t)
	dlqtest.Run(t, dlqtest.Harness{New: func(t *testing.T, lim dlq.Limits, clk baldur.Clock) dlq.Repository {
		return newDLQ(t, s.Client(t, nil), DLQConfig{Limits: lim, Clock: clk})
	}})
}

// TestDLQStatusChangeOneRoundTrip: each status change (take, fail with an
// attempt counted, resolve) is one script, one round trip; an Add batch is
// one.
func TestDLQStatusChangeOneRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := newDLQ(t, shared.Get(t).Client(t, nil), DLQConfig{Clock: clock.NewFake(dlqtest.T0)})
	g := r.Guard()
	before := g.Stats().RoundTrips
	_, err := r.Add(ctx, []dlq.Entry{dlqtest.NewEntry("a", "payments", dlqtest.T0), dlqtest.NewEntry("b", "payments", dlqtest.T0)})
	require.NoError(t, err)
	assert.EqualValues(t, 1, g.Stats().RoundTrips-before, "add batch")
	for _, m := range []dlq.Move{
		{ID: "a", From: dlq.Pending, To: dlq.Replaying, Holder: 5, Lease: time.Minute},
		{ID: "a", From: dlq.Replaying, To: dlq.Pending, Holder: 5, Count: true, ReviewAfter: 2},
		{ID: "a", From: dlq.Pending, To: dlq.Replaying, Holder: 6, Lease: time.Minute},
		{ID: "a", From: dlq.Replaying, To: dlq.Resolved, Holder: 6},
	} {
		before = g.Stats().RoundTrips
		_, err := r.Move(ctx, m)
		require.NoError(t, err)
		assert.EqualValues(t, 1, g.Stats().RoundTrips-before, "move %v→%v", m.From, m.To)
	}
	e, err := r.Get(ctx, "a")
	require.NoError(t, err)
	assert.Equal(t, 1, e.Attempts)
	assert.Equal(t, dlq.Resolved, e.Status)
}

// TestDLQConcurrentReplayersResolveOnce: queues on two "replicas" (two
// clients) replay one domain concurrently; every entry's handler runs
// once and every entry ends resolved.
func TestDLQConcurrentReplayersResolveOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := shared.Get(t)
	p := prefix(t)
	var calls sync.Map
	handler := func(_ context.Context, e dlq.Entry, _ string) error {
		n, _ := calls.LoadOrStore(e.ID, new(atomic.Int32))
		n.(*atomic.Int32).Add(1)
		return nil
	}
	var queues []*dlq.Queue
	var repo *DLQ
	for range 2 {
		repo = newDLQ(t, s.Client(t, nil), DLQConfig{Prefix: p})
		q, err := dlq.New(dlq.Config{Repository: repo, Handler: handler})
		require.NoError(t, err)
		t.Cleanup(func() { _ = q.Close(ctx) })
		queues = append(queues, q)
	}
	const n = 200
	var es []dlq.Entry
	for i := range n {
		e := dlqtest.NewEntry(fmt.Sprintf("c%03d", i), "payments", time.Now().Add(time.Duration(i)*time.Microsecond))
		es = append(es, e)
	}
	_, err := repo.Add(ctx, es)
	require.NoError(t, err)
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q := queues[w%2]
			for {
				r, err := q.ReplayBatch(ctx, "payments", 20)
				if !assert.NoError(t, err) || r.Attempted == 0 && r.Skipped == 0 {
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, e := range es {
		v, ok := calls.Load(e.ID)
		require.True(t, ok, "%s replayed", e.ID)
		assert.Equal(t, int32(1), v.(*atomic.Int32).Load(), "%s replayed once", e.ID)
	}
	c, err := repo.Counts(ctx)
	require.NoError(t, err)
	assert.Equal(t, n, c["payments"].ByStatus[dlq.Resolved])
}

// TestDLQRedisKilledMidCapture: Redis is killed while captures run; no
// capture fails, the writes Redis cannot take spill to disk, and once Redis
// is back a restart of the queue re-ingests them: every captured entry is
// in Redis, once.
func TestDLQRedisKilledMidCapture(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// AOF with appendfsync always: what Redis acknowledged before it was
	// killed survives (without it the entries stored before the kill are
	// Redis's loss, not the queue's).
	srv := redistest.Start(t, redistest.Options{AOF: true})
	repo := newDLQ(t, srv.Client(t, nil), DLQConfig{})
	dir := filepath.Join(t.TempDir(), "spill")
	q, err := dlq.New(dlq.Config{Repository: repo, SpillDir: dir, Outbox: 100_000, Batch: 32})
	require.NoError(t, err)
	ids := map[string]bool{}
	capture := func(n int) {
		for i := range n {
			id, err := q.Capture(ctx, dlq.Entry{Domain: "payments", Operation: "POST /charges", Payload: []byte(fmt.Sprintf(`{"n":%d}`, i))})
			require.NoError(t, err, "capture never fails the caller")
			ids[id] = true
		}
	}
	capture(500)
	srv.Stop()
	capture(2000)
	require.NoError(t, q.Close(ctx))
	st := q.SpillDir()
	m, err := filepath.Glob(filepath.Join(st, "*.spill"))
	require.NoError(t, err)
	assert.NotEmpty(t, m, "spilled while Redis was down")

	require.NoError(t, srv.Relaunch())
	repo2 := newDLQ(t, srv.Client(t, nil), DLQConfig{Prefix: repo.prefix[:len(repo.prefix)-len("dlq:")]})
	q2, err := dlq.New(dlq.Config{Repository: repo2, SpillDir: dir})
	require.NoError(t, err)
	require.NoError(t, q2.Close(ctx))
	got := 0
	for id := range ids {
		_, err := repo2.Get(ctx, id)
		if assert.NoError(t, err, "entry %s after Redis returned", id) {
			got++
		}
	}
	assert.Equal(t, len(ids), got, "nothing lost")
	c, err := repo2.Counts(ctx)
	require.NoError(t, err)
	assert.Equal(t, len(ids), c["payments"].Total(), "each entry once")
}

// TestDLQMalformedData: data under an entry key that the repository did
// not write is ErrMalformed, never a panic.
func TestDLQMalformedData(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := shared.Get(t)
	r := newDLQ(t, s.Client(t, nil), DLQConfig{Clock: clock.NewFake(dlqtest.T0)})
	for _, fields := range [][]any{
		{"r", "not a record", "s", "0", "a", "0", "h", "0", "l", "0", "u", "0"},
		{"r", string(dlq.AppendEntry(nil, &dlq.Entry{ID: "x", Domain: "d"})), "s", "9", "a", "0", "h", "0", "l", "0", "u", "0"},
		{"r", string(dlq.AppendEntry(nil, &dlq.Entry{ID: "x", Domain: "d"})), "s", "0", "a", "-1", "h", "x", "l", "0", "u", "0"},
	} {
		s.Do(t, append([]any{"HSET", r.EntryKey("bad")}, fields...)...)
		_, err := r.Get(ctx, "bad")
		assert.ErrorIs(t, err, dlq.ErrMalformed, "fields %v", fields[:4])
	}
	_, err := r.Get(ctx, "bad:id")
	assert.ErrorIs(t, err, dlq.ErrNotFound, "an id that cannot be a key part")
	_, err = r.Add(ctx, []dlq.Entry{{ID: "ok", Domain: "pay:ments"}})
	assert.ErrorIs(t, err, dlq.ErrMalformed, "a domain that cannot be a key part")
}

// TestNewDLQEvictingServer: an evicting maxmemory-policy is refused (an
// evicted entry is a failed call lost).
func TestNewDLQEvictingServer(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{Policy: "allkeys-lru"})
	b := newBackend(t, srv.Client(t, nil), Config{Logger: discard()})
	_, err := NewDLQ(context.Background(), b, DLQConfig{Server: ServerPolicy{Logger: discard()}})
	var ce *baldur.ConfigError
	assert.ErrorAs(t, err, &ce)
}

func FuzzDLQDecodeFields(f *testing.F) {
	rec := string(dlq.AppendEntry(nil, &dlq.Entry{ID: "x", Domain: "d", Payload: []byte("p")}))
	f.Add(rec, "0", "1", "5", "1772366400000000", "1772366400000000")
	f.Add("junk", "9", "-1", "x", "1e15", "")
	f.Fuzz(func(t *testing.T, r, s, a, h, l, u string) {
		e, err := decode([]any{r, s, a, h, l, u})
		if err != nil {
			assert.ErrorIs(t, err, dlq.ErrMalformed)
			return
		}
		assert.True(t, e.Status.Valid())
		assert.GreaterOrEqual(t, e.Attempts, 0)
	})
}

// BenchmarkDLQMove measures one status change (a take and a resolve per
// op) on the real server beside dlq.Memory in the same run.
func BenchmarkDLQMove(b *testing.B) {
	ctx := context.Background()
	s := shared.Get(b)
	lim := dlq.Limits{Capacity: 10_000_000, DomainCapacity: 10_000_000}
	for _, tt := range []struct {
		name string
		repo func(b *testing.B) dlq.Repository
	}{
		{"memory", func(*testing.B) dlq.Repository { return dlq.NewMemory(dlq.MemoryConfig{Limits: lim}) }},
		{"redis", func(b *testing.B) dlq.Repository {
			bk, err := New(ctx, s.Client(b, nil), Config{Scripts: DLQScripts, Logger: discard()})
			if err != nil {
				b.Fatal(err)
			}
			r, err := NewDLQ(ctx, bk, DLQConfig{Prefix: fmt.Sprintf("bench%d:", runs.Add(1)), Limits: lim, Server: ServerPolicy{Logger: discard()}})
			if err != nil {
				b.Fatal(err)
			}
			return r
		}},
	} {
		b.Run(tt.name, func(b *testing.B) {
			r := tt.repo(b)
			es := make([]dlq.Entry, b.N)
			for i := range es {
				es[i] = dlqtest.NewEntry(fmt.Sprintf("m%d", i), "payments", time.Now())
			}
			for i := 0; i < len(es); i += 256 {
				if _, err := r.Add(ctx, es[i:min(i+256, len(es))]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if _, err := r.Move(ctx, dlq.Move{ID: es[i].ID, From: dlq.Pending, To: dlq.Replaying, Holder: 1, Lease: time.Minute}); err != nil {
					b.Fatal(err)
				}
				if _, err := r.Move(ctx, dlq.Move{ID: es[i].ID, From: dlq.Replaying, To: dlq.Resolved, Holder: 1}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

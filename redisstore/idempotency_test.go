package redisstore

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/baldur-go/baldur/idempotency"
	"github.com/baldur-go/baldur/idempotency/ledgertest"
	"github.com/baldur-go/baldur/redisstore/internal/redistest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newIdem builds an Idempotency ledger on c whose keys start with the
// test's prefix.
func newIdem(t testing.TB, c redis.UniversalClient, cfg IdempotencyConfig) *Idempotency {
	t.Helper()
	b := newBackend(t.(*testing.T), c, Config{Scripts: IdempotencyScripts, Logger: discard()})
	if cfg.Prefix == "" {
		cfg.Prefix = prefix(t.(*testing.T))
	}
	cfg.Server.Logger = discard()
	l, err := NewIdempotency(context.Background(), b, cfg)
	require.NoError(t, err)
	return l
}

// TestIdempotencyConformance runs the ledger suite against a real server;
// leases and TTLs expire on the server's clock, so the expiry cases wait
// (600 ms leases: a heartbeat at half the lease must land in time on a
// loaded machine under -race).
func TestIdempotencyConformance(t *testing.T) {
	t.Parallel()
	s := shared.Get(t)
	ledgertest.Run(t, ledgertest.Harness{New: func(t *testing.T) (idempotency.Ledger, func(time.Duration)) {
		return newIdem(t, s.Client(t, nil), IdempotencyConfig{}), time.Sleep
	}, Lease: 600 * time.Millisecond})
}

var idemKey = idempotency.Key{Domain: "payments", Operation: "POST /charges", Scope: "tenant-secret-scope", Key: "raw-key-7c1f"}

// TestIdempotencyRoundTrips: a first request is two round trips (claim,
// complete), a replay one; the raw key and scope appear nowhere in Redis.
func TestIdempotencyRoundTrips(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := shared.Get(t)
	l := newIdem(t, s.Client(t, nil), IdempotencyConfig{})
	g := l.Guard()
	before := g.Stats().RoundTrips
	c, err := l.Claim(ctx, idempotency.ClaimRequest{Key: idemKey})
	require.NoError(t, err)
	require.Equal(t, idempotency.Claimed, c.Outcome)
	require.NoError(t, l.Complete(ctx, &c, &idempotency.Response{Status: 201, Body: []byte("ok")}))
	assert.EqualValues(t, 2, g.Stats().RoundTrips-before, "first request")
	before = g.Stats().RoundTrips
	d, err := l.Claim(ctx, idempotency.ClaimRequest{Key: idemKey})
	require.NoError(t, err)
	require.Equal(t, idempotency.Done, d.Outcome)
	assert.Equal(t, []byte("ok"), d.Response.Body)
	assert.EqualValues(t, 1, g.Stats().RoundTrips-before, "replay")

	keys := s.Do(t, "KEYS", l.prefix+"*").([]any)
	require.Len(t, keys, 1)
	k := keys[0].(string)
	assert.Equal(t, l.RecordKey(idemKey), k)
	for _, secret := range []string{idemKey.Key, idemKey.Scope} {
		assert.NotContains(t, k, secret)
		for f, v := range s.Do(t, "HGETALL", k).(map[any]any) {
			assert.NotContains(t, f.(string)+v.(string), secret, "stored field")
		}
	}
}

// TestIdempotencyMalformedData: data under a record key that the ledger did
// not write is ErrMalformed, and is not overwritten.
func TestIdempotencyMalformedData(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := shared.Get(t)
	for name, setup := range map[string][]any{
		"string":            {"SET", "@", "x"},
		"hash without data": {"HSET", "@", "x", "1"},
		"bad status":        {"HSET", "@", "t", "1", "f", strings.Repeat("a", 32), "s", "7", "c", "1"},
		"bad fingerprint":   {"HSET", "@", "t", "1", "f", "short", "s", "1", "c", "1"},
		"bad response":      {"HSET", "@", "t", "1", "f", strings.Repeat("\x00", 32), "s", "1", "c", "1", "n", "3", "r", "zzz"},
		"bad time":          {"HSET", "@", "t", "1", "f", strings.Repeat("\x00", 32), "s", "0", "c", "soon"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			l := newIdem(t, s.Client(t, nil), IdempotencyConfig{})
			k := l.RecordKey(idemKey)
			setup[1] = k
			s.Do(t, setup...)
			_, err := l.Claim(ctx, idempotency.ClaimRequest{Key: idemKey})
			assert.ErrorIs(t, err, ErrMalformed)
			_, _, err = l.Lookup(ctx, idemKey)
			if name != "bad response" { // look-up never reads the body
				assert.ErrorIs(t, err, ErrMalformed)
			}
			assert.EqualValues(t, 1, s.Do(t, "EXISTS", k))
		})
	}
}

// TestIdempotencyStoreDown: with the server unreachable every call fails
// within the control deadline with ErrUnavailable (the middleware's 503),
// then at once while the breaker is open.
func TestIdempotencyStoreDown(t *testing.T) {
	redistest.NoLeaks(t)
	ctx := context.Background()
	s := redistest.Start(t, redistest.Options{})
	p := redistest.NewProxy(t, "unix", s.Socket())
	l := newIdem(t, s.Client(t, func(o *redis.Options) { o.Network, o.Addr = "tcp", p.Addr() }), IdempotencyConfig{Prefix: "down:"})
	p.Blackhole()
	start := time.Now()
	_, err := l.Claim(ctx, idempotency.ClaimRequest{Key: idemKey})
	require.ErrorIs(t, err, ErrUnavailable)
	assert.Less(t, time.Since(start), time.Second)
	for range 3 {
		_, _ = l.Claim(ctx, idempotency.ClaimRequest{Key: idemKey})
	}
	start = time.Now()
	_, err = l.Claim(ctx, idempotency.ClaimRequest{Key: idemKey})
	assert.ErrorIs(t, err, ErrBreakerOpen)
	assert.Less(t, time.Since(start), 50*time.Millisecond)
	p.Heal()
}

// TestIdempotencyRestart: after SIGKILL + restart without AOF the records
// are gone (a retry runs the work again); with AOF (appendfsync always) a
// completed record survives and still replays.
func TestIdempotencyRestart(t *testing.T) {
	for _, aof := range []bool{false, true} {
		t.Run("aof="+strconv.FormatBool(aof), func(t *testing.T) {
			redistest.NoLeaks(t)
			ctx := context.Background()
			s := redistest.Start(t, redistest.Options{AOF: aof})
			l := newIdem(t, s.Client(t, nil), IdempotencyConfig{})
			c, err := l.Claim(ctx, idempotency.ClaimRequest{Key: idemKey})
			require.NoError(t, err)
			require.NoError(t, l.Complete(ctx, &c, &idempotency.Response{Status: 200, Body: []byte("paid")}))
			s.Kill(t)
			s.Restart(t)
			var d idempotency.Claim
			require.Eventually(t, func() bool {
				d, err = l.Claim(ctx, idempotency.ClaimRequest{Key: idemKey})
				return err == nil
			}, 5*time.Second, 10*time.Millisecond)
			if aof {
				require.Equal(t, idempotency.Done, d.Outcome)
				assert.Equal(t, []byte("paid"), d.Response.Body)
			} else {
				assert.Equal(t, idempotency.Claimed, d.Outcome, "the record was lost with the data")
			}
		})
	}
}

// TestIdempotencyMemoryUsage logs MEMORY USAGE of an in-progress record and
// of a completed one with a 1 KiB body and two headers.
func TestIdempotencyMemoryUsage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := shared.Get(t)
	l := newIdem(t, s.Client(t, nil), IdempotencyConfig{Prefix: "bd:"})
	k := idemKey
	k.Key = "mem-" + strconv.FormatInt(time.Now().UnixNano(), 10)
	c, err := l.Claim(ctx, idempotency.ClaimRequest{Key: k})
	require.NoError(t, err)
	inProgress := s.Do(t, "MEMORY", "USAGE", l.RecordKey(k), "SAMPLES", "0").(int64)
	resp := &idempotency.Response{Status: 201, Header: []idempotency.HeaderField{{Name: "Content-Type", Value: "application/json"}, {Name: "Location", Value: "/charges/123"}}, Body: bytes.Repeat([]byte("x"), 1024)}
	require.NoError(t, l.Complete(ctx, &c, resp))
	completed := s.Do(t, "MEMORY", "USAGE", l.RecordKey(k), "SAMPLES", "0").(int64)
	t.Logf("MEMORY USAGE: in progress %d B, completed with a 1 KiB body %d B (key length %d)", inProgress, completed, len(l.RecordKey(k)))
	assert.LessOrEqual(t, inProgress, int64(300))
	assert.LessOrEqual(t, completed, int64(2048))
}

// FuzzParseIdemReply: the claim script's reply parser refuses what the
// script never returns, without panicking.
func FuzzParseIdemReply(f *testing.F) {
	f.Add(int64(3), "1", "1700000000000", "1700000000001", "12", int64(5000), strings.Repeat("a", 32), "R\x01\xc9\x01\x00\x02ok")
	f.Add(int64(2), "0", "1", "", "", int64(10), strings.Repeat("a", 32), "")
	f.Add(int64(4), "1", "x", "", "-1", int64(-1), "a", "")
	f.Fuzz(func(t *testing.T, code int64, st, claimed, completed, stored string, pttl int64, fp, resp string) {
		r, err := parseIdemReply([]any{code, st, claimed, completed, stored, pttl, fp, resp})
		if err == nil && r.outcome == idempotency.Done && len(r.resp) > 0 {
			_, _ = idempotency.DecodeResponse(r.resp)
		}
	})
}

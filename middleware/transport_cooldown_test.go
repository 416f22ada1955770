package middleware

import (
	"context"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/clock"
)

var epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// upstream answers with the statuses queued in order (then 200), and can
// hold a response until released.
type upstream struct {
	mu      sync.Mutex
	queue   []int
	retry   []string
	hold    chan struct{} // when set, the next request waits on it
	entered chan struct{}
	calls   int
}

func (u *upstream) RoundTrip(req *http.Request) (*http.Response, error) {
	u.mu.Lock()
	u.calls++
	status, ra := 200, ""
	if len(u.queue) > 0 {
		status, ra = u.queue[0], u.retry[0]
		u.queue, u.retry = u.queue[1:], u.retry[1:]
	}
	hold := u.hold
	u.hold = nil
	u.mu.Unlock()
	if hold != nil {
		u.entered <- struct{}{}
		<-hold
	}
	h := http.Header{}
	if ra != "" {
		h.Set("Retry-After", ra)
	}
	return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(strings.NewReader("")), Request: req}, nil
}

func (u *upstream) push(status int, retryAfter string) {
	u.mu.Lock()
	u.queue = append(u.queue, status)
	u.retry = append(u.retry, retryAfter)
	u.mu.Unlock()
}

func (u *upstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.calls
}

func get(t *testing.T, rt http.RoundTripper, host string) (*http.Response, error) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+host+"/", nil)
	resp, err := rt.RoundTrip(req)
	if resp != nil {
		resp.Body.Close()
	}
	return resp, err
}

func TestCooldownRetryAfterAndSingleProbe(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(epoch)
	up := &upstream{entered: make(chan struct{})}
	rt := NewTransport(baldur.Static(nil), TransportConfig{Next: up, Clock: clk})

	up.push(429, "30") // above the 5 s ±30 % backoff: exactly 30 s
	resp, err := get(t, rt, "a.example")
	require.NoError(t, err)
	require.Equal(t, 429, resp.StatusCode, "the 429 itself reaches the caller")

	_, err = get(t, rt, "a.example")
	require.ErrorIs(t, err, ErrCooldown)
	require.ErrorIs(t, err, baldur.ErrRejected)
	require.ErrorIs(t, err, baldur.ErrThrottled)
	rej, _ := baldur.AsRejection(err)
	require.Equal(t, 30*time.Second, rej.RetryAfter())
	require.Equal(t, 1, up.count(), "no network I/O while cooling down")

	_, err = get(t, rt, "b.example")
	require.NoError(t, err, "other hosts are not affected")

	clk.Advance(29 * time.Second)
	_, err = get(t, rt, "a.example")
	require.ErrorIs(t, err, ErrCooldown)
	clk.Advance(time.Second)
	hold := make(chan struct{})
	up.mu.Lock()
	up.hold = hold
	up.mu.Unlock()
	probeDone := make(chan error)
	go func() {
		_, err := get(t, rt, "a.example")
		probeDone <- err
	}()
	<-up.entered // the probe is at the upstream
	_, err = get(t, rt, "a.example")
	require.ErrorIs(t, err, ErrCooldown, "others wait for the probe")
	close(hold)
	require.NoError(t, <-probeDone)

	_, err = get(t, rt, "a.example")
	require.NoError(t, err, "a good probe ends the cooldown")
	require.EqualValues(t, 0, rt.(*transport).cool.active.Load(), "recovered hosts leave the table")
}

func TestCooldownExponentialWithJitter(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(epoch)
	up := &upstream{}
	rt := NewTransport(baldur.Static(nil), TransportConfig{Next: up, Clock: clk})
	// 503 without Retry-After: 5 s ±30 %, then 10 s ±30 %, 20 s ±30 %.
	up.push(503, "")
	_, err := get(t, rt, "h")
	require.NoError(t, err)
	for _, base := range []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second} {
		lo, hi := time.Duration(float64(base)*0.7), time.Duration(float64(base)*1.3)
		clk.Advance(lo - time.Millisecond)
		_, err := get(t, rt, "h")
		require.ErrorIs(t, err, baldur.ErrBreakerOpen, "a 503 cooldown rejects as breaker_open")
		clk.Advance(hi - lo + 2*time.Millisecond)
		up.push(503, "")
		resp, err := get(t, rt, "h") // the probe, answered 503 again
		require.NoError(t, err)
		require.Equal(t, 503, resp.StatusCode)
	}
}

func TestCooldownDuration(t *testing.T) {
	t.Parallel()
	c := Cooldown{}.withDefaults()
	for _, tc := range []struct {
		n     int
		ra    time.Duration
		hasRA bool
		u     float64
		want  time.Duration
	}{
		{1, 0, false, 0.5, 5 * time.Second},
		{1, 0, false, 0, 3500 * time.Millisecond},
		{2, 0, false, 0.5, 10 * time.Second},
		{4, 0, false, 0.5, 40 * time.Second},
		{5, 0, false, 0.5, 60 * time.Second},                // capped
		{50, 0, false, 0.999999, 78 * time.Second},          // cap, then +30 % at most
		{1, 2 * time.Second, true, 0.5, 5 * time.Second},    // the backoff when longer
		{1, 30 * time.Second, true, 0.99, 30 * time.Second}, // Retry-After is a floor, no jitter
		{3, 30 * time.Second, true, 0.5, 30 * time.Second},
		{1, 10 * time.Minute, true, 0.5, 10 * time.Minute}, // honored beyond the backoff cap
		{1, 2 * time.Hour, true, 0.5, time.Hour},           // capped at 1 h
		{1, time.Duration(math.MaxInt64), true, 0.5, time.Hour},
	} {
		got := c.duration(tc.n, tc.ra, tc.hasRA, tc.u)
		require.InDelta(t, float64(tc.want), float64(got), float64(time.Millisecond), "%+v", tc)
	}
	require.Equal(t, 7*time.Second, Cooldown{Initial: 7 * time.Second, Jitter: -1}.withDefaults().duration(1, 0, false, 0.9))
}

func TestCooldownInFlightResponsesAreNotNewHits(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(epoch)
	c := &cooldowns{cfg: Cooldown{Jitter: -1}}
	c.init(clk.Now())
	r := func(status int, ra string) *http.Response {
		h := http.Header{}
		if ra != "" {
			h.Set("Retry-After", ra)
		}
		return &http.Response{StatusCode: status, Header: h}
	}
	c.record("h", clk.Now(), r(429, ""), false)
	c.record("h", clk.Now(), r(429, ""), false) // a burst already in flight
	c.record("h", clk.Now(), r(429, "30"), false)
	sh := c.shard("h")
	require.Equal(t, 1, sh.m["h"].hits)
	require.Equal(t, clk.Now().Add(30*time.Second), sh.m["h"].until, "a later Retry-After lengthens the cooldown")
	c.record("h", clk.Now(), r(200, ""), false)
	require.NotNil(t, sh.m["h"], "only the probe ends a cooldown")
}

func TestCooldownProbeWithoutResponseLetsNextProbe(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(epoch)
	up := &upstream{}
	g := &trGate{kind: baldur.StageThrottle}
	rt := NewTransport(trPolicy(t, g), TransportConfig{Next: up, Clock: clk})
	up.push(429, "20") // above the 5 s ±30 % backoff, so exactly 20 s
	_, err := get(t, rt, "h")
	require.NoError(t, err)
	clk.Advance(20 * time.Second)
	g.reject = baldur.Reject(baldur.ReasonThrottled, time.Second) // the probe is rejected by the policy
	_, err = get(t, rt, "h")
	require.ErrorIs(t, err, baldur.ErrThrottled)
	require.NotErrorIs(t, err, ErrCooldown)
	g.reject = nil
	_, err = get(t, rt, "h")
	require.NoError(t, err, "the next request probes")
}

func TestCooldownDisabled(t *testing.T) {
	t.Parallel()
	up := &upstream{}
	rt := NewTransport(baldur.Static(nil), TransportConfig{Next: up, Cooldown: Cooldown{Disabled: true}})
	up.push(503, "100")
	_, err := get(t, rt, "h")
	require.NoError(t, err)
	_, err = get(t, rt, "h")
	require.NoError(t, err)
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := epoch
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{"120", 2 * time.Minute, true},
		{" 7 ", 7 * time.Second, true},
		{"-1", 0, false},
		{"1.5", 0, false},
		{"abc", 0, false},
		{"99999999999999999999999", time.Duration(math.MaxInt64), true},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"Mon, 99 Foo 2026", 0, false},
	} {
		got, ok := parseRetryAfter(tc.in, now)
		require.Equal(t, tc.ok, ok, "%q", tc.in)
		require.Equal(t, tc.want, got, "%q", tc.in)
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"", "0", "120", "-5", "1e9", epoch.Format(http.TimeFormat), "99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := parseRetryAfter(s, epoch)
		require.GreaterOrEqual(t, d, time.Duration(0), "negative wait %v for %q", d, s)
		if !ok {
			require.Zero(t, d, "absent value with wait %v", d)
		}
		if n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 32); err == nil && ok {
			require.Equal(t, time.Duration(n)*time.Second, d, "%q", s)
		}
		c := Cooldown{}.withDefaults()
		got := c.duration(3, d, ok, 0.5)
		require.GreaterOrEqual(t, got, time.Duration(0), "cooldown %v out of range", got)
		require.LessOrEqual(t, got, time.Hour+c.Max, "cooldown %v out of range", got)
	})
}

func TestCooldownRejectionAllocs(t *testing.T) {
	clk := clock.NewFake(epoch)
	up := &upstream{}
	rt := NewTransport(baldur.Static(nil), TransportConfig{Next: up, Clock: clk})
	up.push(429, "30")
	_, _ = get(t, rt, "h")
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://h/", nil)
	n := testing.AllocsPerRun(100, func() { _, _ = rt.RoundTrip(req) })
	assert.Zero(t, n, "cooldown rejection: allocs")
}

// entries counts the hosts in the cooldown table.
func entries(c *cooldowns) int {
	n := 0
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}

// TestCooldownTableShrinks: hosts that answered 429 once and were never
// asked again do not stay in the table, and while they cool down the table
// is bounded.
func TestCooldownTableShrinks(t *testing.T) {
	t.Parallel()
	const hosts = 50_000
	clk := clock.NewFake(epoch)
	stub := &stubRT{status: 429, header: http.Header{"Retry-After": {"1"}}}
	rt := NewTransport(baldur.Static(nil), TransportConfig{Next: stub, Clock: clk})
	c := &rt.(*transport).cool
	req, _ := http.NewRequest(http.MethodGet, "http://h.example/", nil)
	for i := range hosts {
		req.URL.Host = "h" + strconv.Itoa(i) + ".example"
		if _, err := rt.RoundTrip(req); err != nil {
			require.NoError(t, err)
		}
	}
	require.LessOrEqual(t, entries(c), DefaultCooldownHosts, "the table is capped while the hosts cool down")

	// The cooldowns (5 s ±30 %) end; a grace of Max (60 s) later nobody has
	// probed them, and they are forgotten.
	clk.Advance(10*time.Second + time.Minute)
	stub.status = 200
	_, err := get(t, rt, "other.example")
	require.NoError(t, err)
	require.Zero(t, entries(c), "entries whose cooldown ended are dropped")
	require.Zero(t, c.active.Load())
}

// TestCooldownForgetsOnlyAfterGrace: a host whose cooldown ended keeps its
// single probe and its backoff count for Max more; after that it is
// forgotten and its next 429 starts again from Initial.
func TestCooldownForgetsOnlyAfterGrace(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(epoch)
	up := &upstream{entered: make(chan struct{})}
	rt := NewTransport(baldur.Static(nil), TransportConfig{Next: up, Clock: clk, Cooldown: Cooldown{Jitter: -1, Max: 40 * time.Second}})
	c := &rt.(*transport).cool
	up.push(503, "")
	_, err := get(t, rt, "h")
	require.NoError(t, err)
	clk.Advance(5*time.Second + 40*time.Second - time.Nanosecond) // end of cooldown + grace - 1 ns

	hold := make(chan struct{})
	up.mu.Lock()
	up.hold = hold
	up.mu.Unlock()
	up.push(503, "")
	probeDone := make(chan error)
	go func() {
		_, err := get(t, rt, "h")
		probeDone <- err
	}()
	<-up.entered
	_, err = get(t, rt, "h")
	require.ErrorIs(t, err, ErrCooldown, "within the grace the host still has one probe")
	close(hold)
	require.NoError(t, <-probeDone)
	sh := c.shard("h")
	sh.mu.Lock()
	require.Equal(t, 2, sh.m["h"].hits, "the probe's 503 counts as a second hit")
	sh.mu.Unlock()

	clk.Advance(10*time.Second + 40*time.Second) // 10 s cooldown + grace
	up.push(503, "")
	_, err = get(t, rt, "h")
	require.NoError(t, err)
	sh.mu.Lock()
	require.Equal(t, 1, sh.m["h"].hits, "forgotten: the next 503 is a first hit")
	sh.mu.Unlock()
	require.Zero(t, c.probes.Load())
}

func TestCooldownMaxHosts(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(epoch)
	stub := &stubRT{status: 503, header: http.Header{"Retry-After": {"30"}}}
	rt := NewTransport(baldur.Static(nil), TransportConfig{Next: stub, Clock: clk, Cooldown: Cooldown{MaxHosts: 100}})
	c := &rt.(*transport).cool
	for i := range 1000 {
		_, err := get(t, rt, "h"+strconv.Itoa(i))
		require.NoError(t, err)
	}
	require.Equal(t, 100, entries(c))
	require.EqualValues(t, 100, c.active.Load())
	_, err := get(t, rt, "h0")
	require.ErrorIs(t, err, ErrCooldown, "tracked hosts cool down")
	calls := stub.calls.Load()
	_, err = get(t, rt, "h999")
	require.NoError(t, err, "a host beyond the cap is not tracked: its 503 reaches the caller as usual")
	require.Equal(t, calls+1, stub.calls.Load())
}

func TestCooldownValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		c     Cooldown
		field string
	}{
		{Cooldown{}, ""},
		{Cooldown{MaxHosts: MaxCooldownHosts}, ""},
		{Cooldown{MaxHosts: -1}, "Cooldown.MaxHosts"},
		{Cooldown{MaxHosts: MaxCooldownHosts + 1}, "Cooldown.MaxHosts"},
		{Cooldown{Initial: -time.Second}, "Cooldown.Initial"},
		{Cooldown{Max: -time.Second}, "Cooldown.Max"},
		{Cooldown{MaxRetryAfter: -time.Second}, "Cooldown.MaxRetryAfter"},
	} {
		err := tc.c.Validate()
		if tc.field == "" {
			require.NoError(t, err, "%+v", tc.c)
			continue
		}
		var ce *baldur.ConfigError
		require.ErrorAs(t, err, &ce, "%+v", tc.c)
		require.Equal(t, tc.field, ce.Field)
	}
	// Transport cannot fail: it clamps an out-of-range bound.
	rt := NewTransport(baldur.Static(nil), TransportConfig{Next: &stubRT{status: 200}, Cooldown: Cooldown{MaxHosts: -5}})
	require.Equal(t, DefaultCooldownHosts, rt.(*transport).cool.cfg.MaxHosts)
	rt = NewTransport(baldur.Static(nil), TransportConfig{Next: &stubRT{status: 200}, Cooldown: Cooldown{MaxHosts: 1 << 40}})
	require.Equal(t, MaxCooldownHosts, rt.(*transport).cool.cfg.MaxHosts)
}

// TestCooldownFastPathTakesNoMutex: with every shard mutex held by the
// test, requests still go through when nothing they touch cools down: the
// table's hosts all ended their cooldown long ago, or the only cooling host
// lives in another shard.
func TestCooldownFastPathTakesNoMutex(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		advance time.Duration
		cooling bool
	}{
		{"every cooldown ended", 10*time.Second + time.Minute, false},
		{"a host of another shard cools down", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := clock.NewFake(epoch)
			up := &upstream{}
			rt := NewTransport(baldur.Static(nil), TransportConfig{Next: up, Clock: clk})
			c := &rt.(*transport).cool
			up.push(429, "")
			_, err := get(t, rt, "cool.example")
			require.NoError(t, err)
			clk.Advance(tc.advance)
			other := "cool.example" // its shard holds the (stale) entry
			for i := 0; tc.cooling && c.shard(other) == c.shard("cool.example"); i++ {
				other = "other" + strconv.Itoa(i) + ".example"
			}
			for i := range c.shards {
				c.shards[i].mu.Lock()
			}
			done := make(chan error, 1)
			go func() {
				_, err := get(t, rt, other)
				done <- err
			}()
			select {
			case err := <-done:
				require.NoError(t, err)
			case <-time.After(10 * time.Second): // a watchdog, not a wait for time to pass
				assert.Fail(t, "RoundTrip blocked on a cooldown shard mutex")
			}
			for i := range c.shards {
				c.shards[i].mu.Unlock()
			}
			if tc.cooling {
				_, err := get(t, rt, "cool.example")
				require.ErrorIs(t, err, ErrCooldown)
			}
		})
	}
}

// flakyRT answers 429, 503 or 200 in turn, and panics or fails now and then.
type flakyRT struct{ n atomic.Int64 }

func (f *flakyRT) RoundTrip(req *http.Request) (*http.Response, error) {
	switch f.n.Add(1) % 7 {
	case 0:
		panic("flaky")
	case 1:
		return nil, io.ErrUnexpectedEOF
	case 2, 3:
		return &http.Response{StatusCode: 429, Header: http.Header{}, Body: http.NoBody, Request: req}, nil
	case 4:
		return &http.Response{StatusCode: 503, Header: http.Header{"Retry-After": {"2"}}, Body: http.NoBody, Request: req}, nil
	}
	return &http.Response{StatusCode: 200, Header: http.Header{}, Body: http.NoBody, Request: req}, nil
}

// TestCooldownCountersUnderLoad hammers a small table with hits, probes,
// failures, panics and a moving clock: afterwards no permit and no probe is
// held, the counters agree with the table, and once every cooldown has
// ended long enough the table empties.
func TestCooldownCountersUnderLoad(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(epoch)
	g := &trGate{kind: baldur.StageBulkhead}
	rt := NewTransport(trPolicy(t, g), TransportConfig{Next: &flakyRT{}, Clock: clk, Cooldown: Cooldown{MaxHosts: 20}})
	c := &rt.(*transport).cool
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 400 {
				if w == 0 && i%10 == 0 {
					clk.Advance(time.Second)
				}
				_ = recovered(func() {
					req, _ := http.NewRequest(http.MethodGet, "http://h"+strconv.Itoa((w*7+i)%40)+"/", nil)
					if resp, err := rt.RoundTrip(req); err == nil {
						resp.Body.Close()
					}
				})
			}
		}()
	}
	wg.Wait()
	require.EqualValues(t, 0, g.held())
	require.Zero(t, c.probes.Load(), "no probe left in flight")
	require.EqualValues(t, entries(c), c.active.Load())
	require.LessOrEqual(t, entries(c), 20)
	var n int32
	for i := range c.shards {
		n += c.shards[i].n.Load()
	}
	require.EqualValues(t, entries(c), n)

	clk.Advance(time.Hour + 2*time.Minute)
	probe, err := c.check("h-none", clk.Now()) // what the next request does first
	require.NoError(t, err)
	require.False(t, probe)
	require.Zero(t, entries(c))
	require.Zero(t, c.active.Load())
}

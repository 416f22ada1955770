package middleware

import (
	"context"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

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
	rt := Transport(up, baldur.Static(nil), WithTransportClock(clk))

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
	rt := Transport(up, baldur.Static(nil), WithTransportClock(clk))
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
	c.init()
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
	g := &trGate{kind: baldur.GateThrottle}
	rt := Transport(up, trPolicy(t, g), WithTransportClock(clk))
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
	rt := Transport(up, baldur.Static(nil), WithTransportCooldown(Cooldown{Disabled: true}))
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
		if d < 0 {
			t.Fatalf("negative wait %v for %q", d, s)
		}
		if !ok && d != 0 {
			t.Fatalf("absent value with wait %v", d)
		}
		if n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 32); err == nil && ok && d != time.Duration(n)*time.Second {
			t.Fatalf("%q: got %v", s, d)
		}
		c := Cooldown{}.withDefaults()
		if got := c.duration(3, d, ok, 0.5); got < 0 || got > time.Hour+c.Max {
			t.Fatalf("cooldown %v out of range", got)
		}
	})
}

func TestCooldownRejectionAllocs(t *testing.T) {
	clk := clock.NewFake(epoch)
	up := &upstream{}
	rt := Transport(up, baldur.Static(nil), WithTransportClock(clk))
	up.push(429, "30")
	_, _ = get(t, rt, "h")
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://h/", nil)
	if n := testing.AllocsPerRun(100, func() { _, _ = rt.RoundTrip(req) }); n != 0 {
		t.Errorf("cooldown rejection: %v allocs", n)
	}
}

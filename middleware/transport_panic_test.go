package middleware

import (
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/clock"
)

// panicRT panics in RoundTrip while armed, and otherwise forwards to next.
type panicRT struct {
	next  http.RoundTripper
	armed atomic.Bool
}

func (p *panicRT) RoundTrip(req *http.Request) (*http.Response, error) {
	if p.armed.Load() {
		panic("upstream boom")
	}
	return p.next.RoundTrip(req)
}

// recovered runs f and returns what it panicked with (nil if it returned).
func recovered(f func()) (v any) {
	defer func() { v = recover() }()
	f()
	return nil
}

// TestTransportPanicReleasesAndAbandonsProbe: whatever panics inside
// RoundTrip (the wrapped RoundTripper, a callback of the caller's), the
// permits go back as a Failure, a cooldown probe is given back so that the
// next request probes, and the panic reaches the caller unchanged.
func TestTransportPanicReleasesAndAbandonsProbe(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// arm makes the next request panic, with the value returned.
		arm func(p *panicRT, keyPanics *atomic.Bool) any
	}{
		{"next panics", func(p *panicRT, _ *atomic.Bool) any { p.armed.Store(true); return "upstream boom" }},
		{"key func panics", func(_ *panicRT, k *atomic.Bool) any { k.Store(true); return "key boom" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := clock.NewFake(epoch)
			up := &upstream{}
			prt := &panicRT{next: up}
			var keyPanics atomic.Bool
			g := &trGate{kind: baldur.StageBulkhead}
			rt := NewTransport(trPolicy(t, g), TransportConfig{Next: prt, Clock: clk, Key: func(r *http.Request) string {
				if keyPanics.Load() {
					panic("key boom")
				}
				return r.URL.Host
			}})

			// A healthy request that panics: permits released as a failure.
			want := tc.arm(prt, &keyPanics)
			require.Equal(t, want, recovered(func() { _, _ = get(t, rt, "h") }), "the panic reaches the caller")
			require.EqualValues(t, 0, g.held(), "no permit leaked")
			if g.admitted.Load() > 0 {
				require.Equal(t, baldur.Failure, g.lastOutcome(t).Result)
			}
			prt.armed.Store(false)
			keyPanics.Store(false)

			// A cooldown probe that panics: the next request probes.
			up.push(429, "20") // above the 5 s ±30 % backoff: exactly 20 s
			_, err := get(t, rt, "h")
			require.NoError(t, err)
			clk.Advance(20 * time.Second)
			require.Equal(t, want, recovered(func() { _ = tc.arm(prt, &keyPanics); _, _ = get(t, rt, "h") }))
			require.EqualValues(t, 0, g.held(), "no permit leaked by the panicking probe")
			prt.armed.Store(false)
			keyPanics.Store(false)
			resp, err := get(t, rt, "h")
			require.NoError(t, err, "the probe was given back: this request probes")
			require.Equal(t, 200, resp.StatusCode)
			_, err = get(t, rt, "h")
			require.NoError(t, err, "the good probe ended the cooldown")
			require.EqualValues(t, 0, g.held())
		})
	}
}

// nilRT breaks the RoundTripper contract: no response and no error.
type nilRT struct{}

func (nilRT) RoundTrip(*http.Request) (*http.Response, error) { return nil, nil }

func TestTransportNilResponseIsAnError(t *testing.T) {
	t.Parallel()
	g := &trGate{kind: baldur.StageBulkhead}
	resp, err := NewTransport(trPolicy(t, g), TransportConfig{Next: nilRT{}}).RoundTrip(httptestRequest())
	require.Nil(t, resp)
	require.ErrorContains(t, err, "nil response")
	require.EqualValues(t, 0, g.held())
	require.Equal(t, baldur.Failure, g.lastOutcome(t).Result)
}

// panicBody panics on Read.
type panicBody struct{ closed atomic.Bool }

func (*panicBody) Read([]byte) (int, error) { panic("body boom") }
func (b *panicBody) Close() error           { b.closed.Store(true); return nil }

func TestTransportBodyPanicReleasesAsFailure(t *testing.T) {
	t.Parallel()
	pb := &panicBody{}
	stub := &stubRT{status: 200, body: func() io.ReadCloser { return pb }}
	g := &trGate{kind: baldur.StageBulkhead}
	resp, err := NewTransport(trPolicy(t, g), TransportConfig{Next: stub}).RoundTrip(httptestRequest())
	require.NoError(t, err)
	require.Equal(t, "body boom", recovered(func() { _, _ = io.Copy(io.Discard, resp.Body) }))
	require.EqualValues(t, 0, g.held(), "released although nobody closes the body")
	require.Equal(t, baldur.Failure, g.lastOutcome(t).Result)
	require.NoError(t, resp.Body.Close())
	require.True(t, pb.closed.Load())
	require.EqualValues(t, 1, g.released.Load(), "released exactly once")
}

package middleware

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
)

// trGate is the transport tests' gate: it admits (holding a permit) unless
// reject says otherwise and records calls and outcomes.
type trGate struct {
	kind     baldur.Stage
	reject   error
	admitted atomic.Int64
	released atomic.Int64
	mu       sync.Mutex
	calls    []baldur.Call
	outcomes []baldur.Outcome
}

func (g *trGate) Stage() baldur.Stage { return g.kind }

func (g *trGate) Admit(_ context.Context, c baldur.Call) (baldur.Permit, error) {
	g.mu.Lock()
	g.calls = append(g.calls, c)
	g.mu.Unlock()
	if g.reject != nil {
		return baldur.Permit{}, g.reject
	}
	g.admitted.Add(1)
	return baldur.NewPermit(g, 0), nil
}

func (g *trGate) Release(_ uint64, o baldur.Outcome) {
	g.released.Add(1)
	g.mu.Lock()
	g.outcomes = append(g.outcomes, o)
	g.mu.Unlock()
}

func (g *trGate) held() int64 { return g.admitted.Load() - g.released.Load() }

func (g *trGate) lastOutcome(t *testing.T) baldur.Outcome {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	require.NotEmpty(t, g.outcomes, "no release")
	return g.outcomes[len(g.outcomes)-1]
}

func (g *trGate) lastCall(t *testing.T) baldur.Call {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	require.NotEmpty(t, g.calls, "no call")
	return g.calls[len(g.calls)-1]
}

func trPolicy(t testing.TB, gates ...baldur.Gate) baldur.Resolver {
	t.Helper()
	p, err := baldur.NewPolicy(baldur.PolicyConfig{Name: "out", Gates: gates})
	require.NoError(t, err)
	return baldur.Static(p)
}

// trServer starts an httptest server on 127.0.0.1 that counts requests.
func trServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// trackedBody records whether it was closed.
type trackedBody struct {
	io.Reader
	closed atomic.Bool
}

func (b *trackedBody) Close() error { b.closed.Store(true); return nil }

// stubRT answers every request with a fresh copy of a canned response,
// without I/O.
type stubRT struct {
	status int
	header http.Header
	body   func() io.ReadCloser
	err    error
	calls  atomic.Int64
	last   atomic.Pointer[http.Request]
}

func (s *stubRT) RoundTrip(req *http.Request) (*http.Response, error) {
	s.calls.Add(1)
	s.last.Store(req)
	if s.err != nil {
		return nil, s.err
	}
	resp := &http.Response{StatusCode: s.status, Header: s.header, Body: http.NoBody, Request: req}
	if s.body != nil {
		resp.Body = s.body()
	}
	return resp, nil
}

// trNext is a transport of the test's own. Tests must not share
// http.DefaultTransport: httptest.Server.Close calls CloseIdleConnections on it,
// which breaks a connection another parallel test has just taken from the pool.
func trNext(t *testing.T) http.RoundTripper {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

package middleware

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/bulkhead"
	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/internal/pooltest"
)

// A request on a pool is sent from a worker; a full pool rejects the next
// request at once, without I/O; the body stays readable after the worker
// is free, and the policy's other permits are held until it is closed.
func TestTransportPoolFullRejectsAtOnce(t *testing.T) {
	t.Parallel()
	arrived := make(chan struct{}, 1)
	answer := make(chan struct{})
	srv, hits := trServer(t, func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-answer
		io.WriteString(w, "late but whole")
	})
	openAnswer := sync.OnceFunc(func() { close(answer) })
	t.Cleanup(openAnswer) // before the server's Close, which waits for the handler
	pool := pooltest.New(t, bulkhead.PoolConfig{Name: "out", Workers: 1, Timeout: baldur.Duration(time.Hour)})
	g := &trGate{kind: baldur.StageBlast}
	client := &http.Client{Transport: NewTransport(trPolicy(t, g, pool), TransportConfig{Next: trNext(t)})}

	type result struct {
		resp *http.Response
		err  error
	}
	first := make(chan result, 1)
	go func() {
		resp, err := client.Get(srv.URL + "/slow")
		first <- result{resp, err}
	}()
	<-arrived
	require.Equal(t, 1, pool.State().Active, "the request runs on the worker")

	_, err := client.Get(srv.URL + "/next")
	require.ErrorIs(t, err, bulkhead.ErrFull)
	rej, ok := baldur.AsRejection(err)
	require.True(t, ok)
	require.Equal(t, baldur.ReasonBulkheadFull, rej.Reason())
	require.EqualValues(t, 1, hits.Load(), "a rejected request did I/O")

	openAnswer()
	r := <-first
	require.NoError(t, r.err)
	require.Equal(t, r.resp.Request.URL.Path, "/slow")
	pooltest.WaitFor(t, "the worker is free", func() bool { return pooltest.InFlight(pool) == 0 })
	require.EqualValues(t, 1, g.held(), "the other permits are held until the body is done")
	b, err := io.ReadAll(r.resp.Body)
	require.NoError(t, err, "the body is readable after the worker is free")
	require.Equal(t, "late but whole", string(b))
	require.NoError(t, r.resp.Body.Close())
	require.EqualValues(t, 0, g.held())
	require.Equal(t, baldur.Success, g.lastOutcome(t).Result)
}

// The pool's timeout frees the caller before the headers arrive: the
// transport returns the timeout error, the request is cancelled upstream,
// the outcome is a failure and every permit comes back.
func TestTransportPoolTimeoutFreesCaller(t *testing.T) {
	t.Parallel()
	fake := clock.NewFake(time.Unix(0, 0))
	arrived, cancelled := make(chan struct{}), make(chan struct{})
	srv, _ := trServer(t, func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-r.Context().Done() // the client gave up the request
		close(cancelled)
	})
	pool := pooltest.New(t, bulkhead.PoolConfig{Name: "slow", Workers: 1, Timeout: baldur.Duration(2 * time.Second), Clock: fake})
	g := &trGate{kind: baldur.StageBlast}
	client := &http.Client{Transport: NewTransport(trPolicy(t, g, pool), TransportConfig{Next: trNext(t)})}

	errc := make(chan error, 1)
	go func() {
		resp, err := client.Get(srv.URL + "/hang")
		if resp != nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	<-arrived
	// The caller arms the pool's timer once the job is queued, which may
	// be after the worker has started it.
	pooltest.WaitFor(t, "the pool's timer", func() bool { return fake.Pending() == 1 })
	fake.Advance(2 * time.Second)
	err := <-errc
	require.ErrorIs(t, err, bulkhead.ErrTimeout)
	require.ErrorIs(t, err, baldur.ErrRejected)
	var te *bulkhead.TimeoutError
	require.ErrorAs(t, err, &te)
	<-cancelled
	pooltest.WaitFor(t, "the worker is free", func() bool { return pooltest.InFlight(pool) == 0 })
	require.EqualValues(t, 0, g.held())
	require.Equal(t, baldur.Failure, g.lastOutcome(t).Result)
}

// Headers in time, then a body slower than the pool's timeout: the timeout
// bounds the wait for the headers, not the reading of the body.
func TestTransportPoolBodyOutlivesTimeout(t *testing.T) {
	t.Parallel()
	fake := clock.NewFake(time.Unix(0, 0))
	rest := make(chan struct{})
	srv, _ := trServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "head ")
		w.(http.Flusher).Flush()
		<-rest
		io.WriteString(w, "tail")
	})
	openRest := sync.OnceFunc(func() { close(rest) })
	t.Cleanup(openRest) // before the server's Close, which waits for the handler
	pool := pooltest.New(t, bulkhead.PoolConfig{Name: "out", Workers: 1, Timeout: baldur.Duration(time.Second), Clock: fake})
	client := &http.Client{Transport: NewTransport(trPolicy(t, pool), TransportConfig{Next: trNext(t)})}
	resp, err := client.Get(srv.URL)
	require.NoError(t, err)
	require.Zero(t, fake.Pending(), "the pool's timer outlived Run")
	fake.Advance(time.Hour)
	openRest()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, "head tail", string(b))
	require.NoError(t, resp.Body.Close())
	require.Equal(t, 0, pooltest.InFlight(pool))
}

// A response that arrives after its caller timed out is closed by the
// worker, so that it does not hold a connection.
func TestTransportPoolClosesLateResponse(t *testing.T) {
	t.Parallel()
	fake := clock.NewFake(time.Unix(0, 0))
	sent := make(chan struct{})
	answer := make(chan struct{})
	late := &trackedBody{Reader: strings.NewReader("late")}
	next := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		close(sent)
		<-answer // ignores its context, as a slow transport may
		return &http.Response{StatusCode: 200, Body: late, Request: req}, nil
	})
	pool := pooltest.New(t, bulkhead.PoolConfig{Name: "out", Workers: 1, Timeout: baldur.Duration(time.Second), Clock: fake})
	g := &trGate{kind: baldur.StageBlast}
	tr := NewTransport(trPolicy(t, g, pool), TransportConfig{Next: next})
	errc := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, "http://upstream.test/x", nil)
		_, err := tr.RoundTrip(req)
		errc <- err
	}()
	<-sent
	pooltest.WaitFor(t, "the pool's timer", func() bool { return fake.Pending() == 1 })
	fake.Advance(time.Second)
	require.ErrorIs(t, <-errc, bulkhead.ErrTimeout)
	require.EqualValues(t, 0, g.held(), "the caller's permits are back at the timeout")
	close(answer)
	pooltest.WaitFor(t, "the late body closed", late.closed.Load)
	pooltest.WaitFor(t, "the worker is free", func() bool { return pooltest.InFlight(pool) == 0 })
}

// The request sent on a worker is a copy carrying the caller's values; the
// response names the caller's request.
func TestTransportPoolKeepsCallersRequest(t *testing.T) {
	t.Parallel()
	type key struct{}
	var seen any
	next := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		seen = req.Context().Value(key{})
		return &http.Response{StatusCode: 204, Body: http.NoBody, Request: req}, nil
	})
	pool := pooltest.New(t, bulkhead.PoolConfig{Name: "out", Workers: 1})
	tr := NewTransport(trPolicy(t, pool), TransportConfig{Next: next})
	ctx := context.WithValue(context.Background(), key{}, "trace-9")
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://upstream.test/x", nil)
	resp, err := tr.RoundTrip(req)
	require.NoError(t, err)
	require.Same(t, req, resp.Request)
	require.Equal(t, "trace-9", seen)
	require.Same(t, ctx, req.Context(), "the caller's request was changed")
	pooltest.WaitFor(t, "the worker is free", func() bool { return pooltest.InFlight(pool) == 0 })

	boom := errors.New("dial failed")
	tr = NewTransport(trPolicy(t, pool), TransportConfig{Next: roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, boom })})
	_, err = tr.RoundTrip(req)
	require.ErrorIs(t, err, boom, "the transport's own error passes through the pool")
}

// Many clients through one pool against a real server: no more requests
// in flight than workers, rejections only for a full pool, and every
// permit back at the end (run with -race).
func TestTransportPoolHammer(t *testing.T) {
	t.Parallel()
	const workers = 3
	var peak pooltest.Peak
	srv, _ := trServer(t, func(w http.ResponseWriter, r *http.Request) {
		peak.Inside()
		io.WriteString(w, "ok")
	})
	pool := pooltest.New(t, bulkhead.PoolConfig{Name: "out", Workers: workers, QueueSize: 2})
	g := &trGate{kind: baldur.StageBlast}
	client := &http.Client{Transport: NewTransport(trPolicy(t, g, pool), TransportConfig{Next: trNext(t)})}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 40 {
				resp, err := client.Get(srv.URL)
				if err != nil {
					assert.ErrorIs(t, err, bulkhead.ErrFull)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	pooltest.WaitFor(t, "the pool is idle", func() bool { return pooltest.InFlight(pool) == 0 })
	require.EqualValues(t, 0, g.held())
	require.LessOrEqual(t, peak.Most(), workers)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

package middleware

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
)

func TestTransportReleasesAtEndOfBody(t *testing.T) {
	t.Parallel()
	srv, _ := trServer(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") })
	for _, end := range []string{"eof", "close", "eof-then-close", "copy"} {
		t.Run(end, func(t *testing.T) {
			t.Parallel()
			g := &trGate{kind: baldur.StageBulkhead}
			client := &http.Client{Transport: NewTransport(trPolicy(t, g), TransportConfig{Next: trNext(t)})}
			resp, err := client.Get(srv.URL + "/x")
			require.NoError(t, err)
			require.EqualValues(t, 1, g.held(), "held after RoundTrip returns")
			switch end {
			case "eof":
				b, err := io.ReadAll(resp.Body)
				require.NoError(t, err)
				require.Equal(t, "hello", string(b))
			case "close":
				require.NoError(t, resp.Body.Close())
			case "eof-then-close":
				_, _ = io.ReadAll(resp.Body)
				require.NoError(t, resp.Body.Close())
				require.NoError(t, resp.Body.Close())
			case "copy":
				var sb strings.Builder
				_, err := io.Copy(&sb, resp.Body)
				require.NoError(t, err)
				require.Equal(t, "hello", sb.String())
			}
			require.EqualValues(t, 0, g.held())
			require.EqualValues(t, 1, g.released.Load(), "released exactly once")
			o := g.lastOutcome(t)
			require.Equal(t, baldur.Success, o.Result)
			require.Equal(t, 200, o.Status)
			c := g.lastCall(t)
			host := strings.TrimPrefix(srv.URL, "http://")
			require.Equal(t, "GET "+host, c.Operation)
			require.Equal(t, host, c.Key, "keyed per upstream host")
		})
	}
}

func TestTransportSlowBodyAndEarlyClose(t *testing.T) {
	t.Parallel()
	unblock := make(chan struct{})
	srv, _ := trServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first")
		w.(http.Flusher).Flush()
		select {
		case <-unblock:
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, strings.Repeat("x", 1<<16))
	})
	g := &trGate{kind: baldur.StageBulkhead}
	client := &http.Client{Transport: NewTransport(trPolicy(t, g), TransportConfig{Next: trNext(t)})}
	ctx := context.WithValue(context.Background(), ctxKeyTr{}, 1)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	resp, err := client.Do(req)
	require.NoError(t, err)
	buf := make([]byte, 5)
	_, err = io.ReadFull(resp.Body, buf)
	require.NoError(t, err)
	require.Equal(t, "first", string(buf))
	require.EqualValues(t, 1, g.held(), "held while the body is still coming")
	require.NoError(t, ctx.Err(), "the caller's context is not cancelled before the body is consumed")
	close(unblock)
	_, err = io.ReadFull(resp.Body, buf)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close(), "early close, body not read to the end")
	require.EqualValues(t, 0, g.held())
	require.Equal(t, baldur.Success, g.lastOutcome(t).Result)
}

type ctxKeyTr struct{}

func TestTransportOutcomes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status int
		want   baldur.Result
	}{
		{200, baldur.Success}, {204, baldur.Success}, {302, baldur.Success},
		{400, baldur.Ignored}, {404, baldur.Ignored}, {429, baldur.Ignored},
		{500, baldur.Failure}, {502, baldur.Failure}, {503, baldur.Failure},
	} {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			t.Parallel()
			srv, _ := trServer(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(tc.status) })
			g := &trGate{kind: baldur.StageBlast}
			client := &http.Client{
				Transport:     NewTransport(trPolicy(t, g), TransportConfig{Next: trNext(t), Cooldown: Cooldown{Disabled: true}}),
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			}
			resp, err := client.Get(srv.URL)
			require.NoError(t, err)
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			o := g.lastOutcome(t)
			require.Equal(t, tc.want, o.Result)
			require.Equal(t, tc.status, o.Status)
			require.EqualValues(t, 0, g.held())
		})
	}
}

func TestTransportErrorOutcomes(t *testing.T) {
	t.Parallel()
	t.Run("connection refused is a failure", func(t *testing.T) {
		t.Parallel()
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := l.Addr().String()
		l.Close()
		g := &trGate{kind: baldur.StageBlast}
		_, err = (&http.Client{Transport: NewTransport(trPolicy(t, g), TransportConfig{Next: trNext(t)})}).Get("http://" + addr)
		require.Error(t, err)
		require.Equal(t, baldur.Failure, g.lastOutcome(t).Result)
		require.EqualValues(t, 0, g.held())
	})
	t.Run("caller cancellation is ignored", func(t *testing.T) {
		t.Parallel()
		stub := &stubRT{err: context.Canceled}
		g := &trGate{kind: baldur.StageBlast}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://up.example", nil)
		_, err := NewTransport(trPolicy(t, g), TransportConfig{Next: stub}).RoundTrip(req)
		require.ErrorIs(t, err, context.Canceled)
		require.Equal(t, baldur.Ignored, g.lastOutcome(t).Result)
	})
	t.Run("body cut mid-read is a failure", func(t *testing.T) {
		t.Parallel()
		srv, _ := trServer(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "100")
			io.WriteString(w, "short")
			w.(http.Flusher).Flush()
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
		})
		g := &trGate{kind: baldur.StageBlast}
		resp, err := (&http.Client{Transport: NewTransport(trPolicy(t, g), TransportConfig{Next: trNext(t)})}).Get(srv.URL)
		require.NoError(t, err)
		_, err = io.ReadAll(resp.Body)
		require.Error(t, err)
		require.Equal(t, baldur.Failure, g.lastOutcome(t).Result)
		require.EqualValues(t, 0, g.held())
		resp.Body.Close()
		require.EqualValues(t, 1, g.released.Load())
	})
}

func TestTransportRejectionDoesNoIO(t *testing.T) {
	t.Parallel()
	srv, hits := trServer(t, func(w http.ResponseWriter, r *http.Request) {})
	g := &trGate{kind: baldur.StageThrottle, reject: baldur.Reject(baldur.ReasonThrottled, 3*time.Second)}
	client := &http.Client{Transport: NewTransport(trPolicy(t, g), TransportConfig{Next: trNext(t)})}
	body := &trackedBody{Reader: strings.NewReader("payload")}
	req, _ := http.NewRequest(http.MethodPost, srv.URL, body)
	_, err := client.Do(req)
	require.ErrorIs(t, err, baldur.ErrRejected)
	require.ErrorIs(t, err, baldur.ErrThrottled)
	rej, ok := baldur.AsRejection(err)
	require.True(t, ok)
	require.Equal(t, 3*time.Second, rej.RetryAfter())
	require.True(t, body.closed.Load(), "the request body is closed on rejection")
	require.EqualValues(t, 0, hits.Load(), "no network I/O")
}

func TestTransportNeverMutatesRequest(t *testing.T) {
	t.Parallel()
	stub := &stubRT{status: 200, body: func() io.ReadCloser { return io.NopCloser(strings.NewReader("ok")) }}
	g := &trGate{kind: baldur.StageBulkhead}
	ctx := context.WithValue(context.Background(), ctxKeyTr{}, "v")
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, "http://up.example:8080/a?b=c", strings.NewReader("x"))
	req.Header.Set("X-A", "1")
	before := req.Clone(ctx)
	origBody := req.Body
	resp, err := NewTransport(trPolicy(t, g), TransportConfig{Next: stub}).RoundTrip(req)
	require.NoError(t, err)
	require.Same(t, req, stub.last.Load(), "next sees the caller's request itself")
	require.Equal(t, "v", stub.last.Load().Context().Value(ctxKeyTr{}), "context values survive")
	require.Equal(t, before.Header, req.Header)
	require.Equal(t, before.URL.String(), req.URL.String())
	require.Equal(t, before.Method, req.Method)
	require.Equal(t, origBody, req.Body)
	require.Same(t, req, resp.Request)
	resp.Body.Close()
	c := g.lastCall(t)
	require.Equal(t, "PUT up.example:8080", c.Operation)
	require.Equal(t, "up.example:8080", c.Key)
}

func TestTransportOptions(t *testing.T) {
	t.Parallel()
	stub := &stubRT{status: 200}
	g := &trGate{kind: baldur.StageBulkhead}
	dl := time.Now().Add(time.Hour)
	rt := NewTransport(trPolicy(t, g), TransportConfig{
		Next:      stub,
		Operation: func(r *http.Request) string { return "op:" + r.URL.Path },
		Key:       func(r *http.Request) string { return r.Header.Get("X-Tenant") },
		Tier:      func(*http.Request) baldur.Tier { return baldur.TierCritical },
		Service:   "svc",
		Region:    "eu",
	})
	ctx, cancel := context.WithDeadline(context.Background(), dl)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://up.example/p", nil)
	req.Header.Set("X-Tenant", "t1")
	resp, err := rt.RoundTrip(req)
	require.NoError(t, err)
	require.Equal(t, http.NoBody, resp.Body, "an empty body is released at once, not wrapped")
	require.EqualValues(t, 0, g.held())
	c := g.lastCall(t)
	require.Equal(t, "op:/p", c.Operation)
	require.Equal(t, "t1", c.Key)
	require.Equal(t, baldur.TierCritical, c.Tier)
	require.Equal(t, "svc", c.Service)
	require.Equal(t, "eu", c.Region)
	require.Equal(t, dl, c.Deadline)
}

func TestTransportConcurrentCloseReleasesOnce(t *testing.T) {
	t.Parallel()
	stub := &stubRT{status: 200, body: func() io.ReadCloser { return io.NopCloser(strings.NewReader(strings.Repeat("x", 4096))) }}
	g := &trGate{kind: baldur.StageBulkhead}
	rt := NewTransport(trPolicy(t, g), TransportConfig{Next: stub})
	for i := 0; i < 50; i++ {
		req, _ := http.NewRequest(http.MethodGet, "http://up.example", nil)
		resp, err := rt.RoundTrip(req)
		require.NoError(t, err)
		var wg sync.WaitGroup
		for j := 0; j < 4; j++ {
			wg.Add(1)
			go func(j int) {
				defer wg.Done()
				if j != 1 { // one reader (a body is not for concurrent reads), closers racing it
					resp.Body.Close()
				} else {
					_, _ = io.Copy(io.Discard, resp.Body)
				}
			}(j)
		}
		wg.Wait()
	}
	require.EqualValues(t, 50, g.admitted.Load())
	require.EqualValues(t, 50, g.released.Load())
}

type rwcBody struct {
	io.Reader
	wrote []byte
}

func (b *rwcBody) Write(p []byte) (int, error) { b.wrote = append(b.wrote, p...); return len(p), nil }
func (b *rwcBody) Close() error                { return nil }

func TestTransportKeepsUpgradedBodyWritable(t *testing.T) {
	t.Parallel()
	conn := &rwcBody{Reader: strings.NewReader("")}
	stub := &stubRT{status: http.StatusSwitchingProtocols, body: func() io.ReadCloser { return conn }}
	g := &trGate{kind: baldur.StageBulkhead}
	resp, err := NewTransport(trPolicy(t, g), TransportConfig{Next: stub}).RoundTrip(httptestRequest())
	require.NoError(t, err)
	rw, ok := resp.Body.(io.ReadWriteCloser)
	require.True(t, ok, "a 101 body stays an io.ReadWriteCloser")
	_, err = rw.Write([]byte("ping"))
	require.NoError(t, err)
	require.Equal(t, "ping", string(conn.wrote))
	require.EqualValues(t, 1, g.held(), "the upgraded connection holds its permit")
	rw.Close()
	require.EqualValues(t, 0, g.held())
}

func httptestRequest() *http.Request {
	req, _ := http.NewRequest(http.MethodGet, "http://up.example/", nil)
	return req
}

func TestTransportNilResolverPolicyAndCloseIdle(t *testing.T) {
	t.Parallel()
	stub := &stubRT{status: 200, body: func() io.ReadCloser { return io.NopCloser(strings.NewReader("ok")) }}
	rt := NewTransport(baldur.Static(nil), TransportConfig{Next: stub})
	resp, err := rt.RoundTrip(httptestRequest())
	require.NoError(t, err)
	_, wrapped := resp.Body.(*body)
	require.False(t, wrapped, "nothing held, nothing wrapped")
	rt.(interface{ CloseIdleConnections() }).CloseIdleConnections()
	require.True(t, errors.Is(cooldownError{baldur.Reject(baldur.ReasonThrottled, 0)}, ErrCooldown))
}

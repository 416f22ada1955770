package middleware_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/middleware"
)

// chanGate admits every call and sends each outcome it is released with.
type chanGate struct {
	admitted atomic.Int64
	released atomic.Int64
	outcomes chan baldur.Outcome
}

func newChanGate() *chanGate { return &chanGate{outcomes: make(chan baldur.Outcome, 16)} }

func (g *chanGate) Stage() baldur.Stage { return baldur.StageBulkhead }

func (g *chanGate) Admit(context.Context, baldur.Call) (baldur.Permit, error) {
	g.admitted.Add(1)
	return baldur.NewPermit(g, 0), nil
}

func (g *chanGate) Release(_ uint64, o baldur.Outcome) {
	g.released.Add(1)
	g.outcomes <- o
}

// next waits for the next release (a watchdog bounds the wait; no time
// needs to pass for the release to happen).
func (g *chanGate) next(t *testing.T) baldur.Outcome {
	t.Helper()
	select {
	case o := <-g.outcomes:
		return o
	case <-time.After(10 * time.Second):
		require.Fail(t, "the permit was never released")
		return baldur.Outcome{}
	}
}

// TestWriterHijackByTypeAssertion: handlers (older websocket libraries)
// that assert http.Hijacker on the writer get the connection through the
// middleware, and the permit is released exactly once, when the handler
// returns.
func TestWriterHijackByTypeAssertion(t *testing.T) {
	t.Parallel()
	g := newChanGate()
	h := middleware.New(baldur.Static(policyOf(t, g)))(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hj, ok := w.(http.Hijacker)
		if !assert.True(t, ok, "the wrapper must implement http.Hijacker over an HTTP/1 connection") {
			w.WriteHeader(http.StatusTeapot)
			return
		}
		conn, buf, err := hj.Hijack()
		if !assert.NoError(t, err) {
			return
		}
		_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi")
		_ = buf.Flush()
		_ = conn.Close()
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, "hi", string(b))
	o := g.next(t)
	require.Equal(t, baldur.Success, o.Result)
	srv.Close()
	require.EqualValues(t, 1, g.admitted.Load())
	require.EqualValues(t, 1, g.released.Load(), "released exactly once")
}

// spyListener hands out connections that count ReadFrom calls: the server
// reaches a connection's ReadFrom (sendfile on a TCP connection) only when
// the handler's writer chain passes io.ReaderFrom through.
type spyListener struct {
	net.Listener
	readFrom *atomic.Int64
}

func (l spyListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return spyConn{c.(*net.TCPConn), l.readFrom}, nil
}

type spyConn struct {
	*net.TCPConn
	readFrom *atomic.Int64
}

func (c spyConn) ReadFrom(r io.Reader) (int64, error) {
	c.readFrom.Add(1)
	return c.TCPConn.ReadFrom(r)
}

// TestWriterReadFromReachesSendfile: a file served behind the middleware
// goes through the connection's ReadFrom (the sendfile path), both with
// http.ServeContent and with an explicit io.ReaderFrom assertion, and the
// outcome records the status.
func TestWriterReadFromReachesSendfile(t *testing.T) {
	t.Parallel()
	content := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB: past the 512-byte sniff
	path := filepath.Join(t.TempDir(), "f.bin")
	require.NoError(t, os.WriteFile(path, content, 0o600))
	for _, tc := range []struct {
		name    string
		handler func(w http.ResponseWriter, r *http.Request, f *os.File)
		status  int
	}{
		{"ServeContent", func(w http.ResponseWriter, r *http.Request, f *os.File) {
			http.ServeContent(w, r, "f.bin", time.Time{}, f)
		}, 200},
		{"asserted ReaderFrom after WriteHeader", func(w http.ResponseWriter, _ *http.Request, f *os.File) {
			rf, ok := w.(io.ReaderFrom)
			if !assert.True(t, ok, "the wrapper must implement io.ReaderFrom") {
				return
			}
			w.Header().Set("Content-Length", "65536")
			w.WriteHeader(http.StatusPartialContent)
			n, err := rf.ReadFrom(f)
			assert.NoError(t, err)
			assert.EqualValues(t, len(content), n)
		}, 206},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := newChanGate()
			h := middleware.New(baldur.Static(policyOf(t, g)))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				f, err := os.Open(path)
				if !assert.NoError(t, err) {
					return
				}
				defer f.Close()
				tc.handler(w, r, f)
			}))
			var readFrom atomic.Int64
			srv := httptest.NewUnstartedServer(h)
			srv.Listener = spyListener{srv.Listener, &readFrom}
			srv.Start()
			defer srv.Close()
			resp, err := srv.Client().Get(srv.URL)
			require.NoError(t, err)
			b, err := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			require.NoError(t, err)
			require.Equal(t, tc.status, resp.StatusCode)
			require.Equal(t, content, b)
			o := g.next(t)
			require.Equal(t, tc.status, o.Status)
			require.Equal(t, baldur.Success, o.Result)
			require.Positive(t, readFrom.Load(), "the server never reached the connection's ReadFrom: the copy went through a buffer")
		})
	}
}

// capWriter is a ResponseWriter with a chosen set of the optional
// interfaces, recording what it was asked.
type capWriter struct {
	h      http.Header
	status int
	src    io.Reader
}

func (w *capWriter) Header() http.Header         { return w.h }
func (w *capWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *capWriter) WriteHeader(code int)        { w.status = code }

type hijackOnly struct{ *capWriter }

func (hijackOnly) Hijack() (net.Conn, *bufio.ReadWriter, error) { return nil, nil, nil }

type readFromOnly struct{ *capWriter }

func (w readFromOnly) ReadFrom(r io.Reader) (int64, error) { w.src = r; return 0, nil }

type hijackReadFrom struct{ *capWriter }

func (hijackReadFrom) Hijack() (net.Conn, *bufio.ReadWriter, error) { return nil, nil, nil }
func (w hijackReadFrom) ReadFrom(r io.Reader) (int64, error)        { w.src = r; return 0, nil }

// TestWriterCapabilitiesMatchTheUnderlyingWriter: the wrapper offers
// Hijack and ReadFrom exactly when the writer it wraps does (an HTTP/2
// writer cannot hijack, and claiming it could would mislead a handler), and
// ReadFrom hands the source itself on, so that a file stays a file.
func TestWriterCapabilitiesMatchTheUnderlyingWriter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name             string
		wrap             func(*capWriter) http.ResponseWriter
		hijack, readFrom bool
	}{
		{"plain", func(c *capWriter) http.ResponseWriter { return c }, false, false},
		{"hijacker", func(c *capWriter) http.ResponseWriter { return hijackOnly{c} }, true, false},
		{"reader from", func(c *capWriter) http.ResponseWriter { return readFromOnly{c} }, false, true},
		{"both", func(c *capWriter) http.ResponseWriter { return hijackReadFrom{c} }, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := newChanGate()
			src := strings.NewReader("file")
			var hj, rf bool
			h := middleware.New(baldur.Static(policyOf(t, g)))(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				_, hj = w.(http.Hijacker)
				var r io.ReaderFrom
				if r, rf = w.(io.ReaderFrom); rf {
					_, _ = r.ReadFrom(src)
				}
				_, flush := w.(http.Flusher)
				assert.True(t, flush, "always a Flusher")
			}))
			cw := &capWriter{h: http.Header{}}
			h.ServeHTTP(tc.wrap(cw), httptest.NewRequest("GET", "/", nil))
			require.Equal(t, tc.hijack, hj, "Hijacker")
			require.Equal(t, tc.readFrom, rf, "ReaderFrom")
			if tc.readFrom {
				require.Same(t, src, cw.src, "ReadFrom passes the source on unwrapped")
			}
			require.Equal(t, 200, g.next(t).Status)
		})
	}
}

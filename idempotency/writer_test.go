package idempotency_test

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// post sends a guarded POST to srv with key and returns status and body.
func post(t *testing.T, srv *httptest.Server, key string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest("POST", srv.URL+"/charges", strings.NewReader("{}"))
	require.NoError(t, err)
	req.Header.Set("Idempotency-Key", key)
	req.Header.Set("X-Tenant", "t")
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b), resp.Header
}

// TestHTTPHijackReleasesClaim: a handler that hijacks the connection (by a
// type assertion or through http.ResponseController) answers on the raw
// connection, where the middleware cannot see the response: the claim is
// released instead of stored, so the retry runs the handler again rather
// than replaying an empty 200.
func TestHTTPHijackReleasesClaim(t *testing.T) {
	t.Parallel()
	for name, hijack := range map[string]func(http.ResponseWriter) (io.ReadWriteCloser, *bufio.ReadWriter, error){
		"Hijacker": func(w http.ResponseWriter) (io.ReadWriteCloser, *bufio.ReadWriter, error) {
			hj, ok := w.(http.Hijacker)
			if !ok {
				return nil, nil, errors.New("no http.Hijacker")
			}
			return hj.Hijack()
		},
		"ResponseController": func(w http.ResponseWriter) (io.ReadWriteCloser, *bufio.ReadWriter, error) {
			return http.NewResponseController(w).Hijack()
		},
		// Another middleware outside wraps the server's writer in one
		// that only unwraps: the walk still finds the hijacker.
		"behind an Unwrap-only wrapper": func(w http.ResponseWriter) (io.ReadWriteCloser, *bufio.ReadWriter, error) {
			return http.NewResponseController(w).Hijack()
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, nil)
			// served says the middleware finished (released) a request:
			// the client may read the hijacked answer before that.
			served := make(chan struct{}, 2)
			outer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.HasPrefix(name, "behind") {
					w = unwrapOnly{w}
				}
				a.mux.ServeHTTP(w, r)
				served <- struct{}{}
			})
			a.handler = func(w http.ResponseWriter, _ *http.Request) {
				conn, rw, err := hijack(w)
				if !assert.NoError(t, err) {
					return
				}
				defer conn.Close()
				_, _ = rw.WriteString("HTTP/1.1 201 Created\r\nContent-Length: 8\r\nConnection: close\r\n\r\nhijacked")
				_ = rw.Flush()
			}
			srv := httptest.NewServer(outer)
			defer srv.Close()
			for i := range 2 {
				status, body, hd := post(t, srv, `"k-hijack"`)
				assert.Equal(t, http.StatusCreated, status, "request %d", i)
				assert.Equal(t, "hijacked", body)
				assert.Empty(t, hd.Get("Idempotent-Replayed"), "nothing was stored to replay")
				<-served
			}
			assert.EqualValues(t, 2, a.runs.Load(), "released: the retry ran")
			assert.EqualValues(t, 2, a.metrics.Released.Load())
			assert.Zero(t, a.metrics.Stored.Load())
		})
	}
}

// TestHTTPWriterInterfacesAreHonest: the handler's writer is an
// http.Hijacker only when the server's writer can hijack, and its flush
// reports the server writer's answer; a refused hijack wraps
// http.ErrNotSupported and leaves the request guarded as usual (stored,
// then replayed); a flushed response is stored whole.
func TestHTTPWriterInterfacesAreHonest(t *testing.T) {
	t.Parallel()
	t.Run("recorder cannot hijack", func(t *testing.T) {
		t.Parallel()
		a := newAPI(t, nil)
		a.handler = func(w http.ResponseWriter, _ *http.Request) {
			_, ok := w.(http.Hijacker)
			assert.False(t, ok, "the recorder cannot hijack, so neither can its capture")
			_, _, err := http.NewResponseController(w).Hijack()
			assert.ErrorIs(t, err, http.ErrNotSupported)
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, "stored")
		}
		first := a.do("POST", "/charges", `"k"`, "t", "{}")
		second := a.do("POST", "/charges", `"k"`, "t", "{}")
		assert.Equal(t, http.StatusCreated, second.Code)
		assert.Equal(t, first.Body.String(), second.Body.String())
		assert.Equal(t, "true", second.Header().Get("Idempotent-Replayed"))
		assert.EqualValues(t, 1, a.runs.Load())
	})
	t.Run("writer without flush", func(t *testing.T) {
		t.Parallel()
		a := newAPI(t, nil)
		var flushErr error
		a.handler = func(w http.ResponseWriter, _ *http.Request) {
			flushErr = http.NewResponseController(w).Flush()
			_, _ = io.WriteString(w, "x")
		}
		r := httptest.NewRequest("POST", "/charges", strings.NewReader("{}"))
		r.Header.Set("Idempotency-Key", `"k"`)
		a.mux.ServeHTTP(struct{ http.ResponseWriter }{httptest.NewRecorder()}, r) // hides the recorder's Flush
		assert.ErrorIs(t, flushErr, http.ErrNotSupported)
	})
	t.Run("flushed response is stored whole", func(t *testing.T) {
		t.Parallel()
		a := newAPI(t, nil)
		a.handler = func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, "part 1,")
			w.(http.Flusher).Flush()
			_, _ = io.WriteString(w, " part 2")
			assert.NoError(t, http.NewResponseController(w).Flush())
		}
		srv := httptest.NewServer(a.mux)
		defer srv.Close()
		s1, b1, _ := post(t, srv, `"k-flush"`)
		s2, b2, hd := post(t, srv, `"k-flush"`)
		assert.Equal(t, []any{http.StatusOK, "part 1, part 2"}, []any{s1, b1})
		assert.Equal(t, []any{s1, b1, "true"}, []any{s2, b2, hd.Get("Idempotent-Replayed")})
		assert.EqualValues(t, 1, a.runs.Load())
	})
}

// unwrapOnly is a writer wrapper of another middleware that offers neither
// Hijack nor Flush, only Unwrap.
type unwrapOnly struct{ w http.ResponseWriter }

func (u unwrapOnly) Header() http.Header         { return u.w.Header() }
func (u unwrapOnly) Write(b []byte) (int, error) { return u.w.Write(b) }
func (u unwrapOnly) WriteHeader(code int)        { u.w.WriteHeader(code) }
func (u unwrapOnly) Unwrap() http.ResponseWriter { return u.w }

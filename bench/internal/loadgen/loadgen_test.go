package loadgen

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestClosedStopsAtCallBudget(t *testing.T) {
	t.Parallel()
	r := Closed(context.Background(), func(context.Context) Status { return OK }, 4, Limits{Duration: time.Second, MaxCalls: 1000})
	require.Equal(t, int64(1000), r.Sent, "Closed = %+v, want 1000 sent and OK", r)
	require.Equal(t, int64(1000), r.OK, "Closed = %+v, want 1000 sent and OK", r)
	require.Equal(t, 1000, r.Accepted.N, "Closed = %+v, want 1000 sent and OK", r)
}

func TestOpenClassifiesAndBounds(t *testing.T) {
	t.Parallel()
	r := Open(context.Background(), func(context.Context) Status { return OK }, 10000, 64, Limits{Duration: 50 * time.Millisecond, MaxCalls: 100})
	require.Equal(t, int64(100), r.Sent+r.Dropped, "Open = %+v, want 100 arrivals", r)
	require.Equal(t, r.Sent, r.OK, "Open = %+v, want every sent call OK", r)
	r = Open(context.Background(), func(context.Context) Status { return Rejected }, 10000, 64, Limits{Duration: 50 * time.Millisecond, MaxCalls: 50})
	require.Equal(t, r.Sent, r.Rejected, "Open(rejecting) = %+v", r)
	require.Zero(t, r.OK, "Open(rejecting) = %+v", r)
}

func TestTimeoutIsClassified(t *testing.T) {
	t.Parallel()
	r := Closed(context.Background(), func(ctx context.Context) Status {
		<-ctx.Done()
		return Failed
	}, 1, Limits{Duration: time.Second, MaxCalls: 2, Timeout: time.Millisecond})
	require.Equal(t, int64(2), r.TimedOut, "Closed = %+v, want 2 timed out", r)
}

func TestHTTPGetClassifies(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.WriteHeader(http.StatusOK)
		case "/throttled":
			w.WriteHeader(http.StatusTooManyRequests)
		case "/shed":
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	for path, want := range map[string]Status{"/ok": OK, "/throttled": Rejected, "/shed": Rejected, "/boom": Failed} {
		assert.Equal(t, want, HTTPGet(srv.Client(), srv.URL+path)(context.Background()), path)
	}
	srv.Close()
	assert.Equal(t, Failed, HTTPGet(srv.Client(), srv.URL+"/ok")(context.Background()), "closed server")
}
